"""core.sealing: stored secrets sealed per purpose, readable across key rotations."""

from closeloop.core import sealing, signing


def test_a_value_comes_back_and_is_not_in_the_sealed_form():
    token = sealing.seal("Bearer s3cret-token", purpose="p")
    assert "s3cret" not in token and token != "Bearer s3cret-token"
    assert sealing.unseal(token, purpose="p") == "Bearer s3cret-token"
    assert sealing.seal("", purpose="p") == "" and sealing.unseal("", purpose="p") == ""


def test_a_purpose_opens_only_its_own_values():
    token = sealing.seal("pw", purpose="mailin.password")
    assert sealing.unseal(token, purpose="connectors.secret") is None


def test_a_signing_key_rotation_keeps_sealed_values_readable(monkeypatch):
    monkeypatch.setenv(signing.ENV, "1=first-key-0123456789abcdef")
    old = sealing.seal("value", purpose="p")
    monkeypatch.setenv(signing.ENV, "2=second-key-0123456789abcdef,1=first-key-0123456789abcdef")
    assert sealing.unseal(old, purpose="p") == "value"
    new = sealing.seal("value", purpose="p")
    monkeypatch.setenv(signing.ENV, "2=second-key-0123456789abcdef")  # the first key retired
    assert sealing.unseal(new, purpose="p") == "value"
    assert sealing.unseal(old, purpose="p") is None  # sealed only under the retired key


def test_a_former_secret_key_still_opens(settings, monkeypatch):
    monkeypatch.delenv(signing.ENV, raising=False)
    monkeypatch.setattr(signing, "keyring_path", lambda: settings.DATA_DIR / "no-such-keyring.json")
    settings.SECRET_KEY = "old-secret-key-" + "x" * 40
    old = sealing.seal("value", purpose="p")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "new-secret-key-" + "y" * 40, ["old-secret-key-" + "x" * 40]
    assert sealing.unseal(old, purpose="p") == "value"
    settings.SECRET_KEY_FALLBACKS = []
    assert sealing.unseal(old, purpose="p") is None
