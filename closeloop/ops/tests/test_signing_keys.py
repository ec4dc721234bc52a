"""Versioned keys for QR stickers and their portal links: a new key signs, old keys verify until
retired, SECRET_KEY can change once key 0 is pinned."""

import io

import pytest
from django.core import signing as django_signing
from django.core.management import call_command
from django.core.management.base import CommandError

from closeloop.core import signing
from closeloop.customers import stickers


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path
    monkeypatch.delenv(signing.ENV, raising=False)
    return tmp_path


def _keys(*args) -> str:
    out = io.StringIO()
    call_command("signing_keys", *args, stdout=out)
    return out.getvalue()


def test_without_a_keyring_secret_key_signs_as_before(world):
    assert signing.keyring() == [(0, signing.settings.SECRET_KEY)]
    code = stickers.code_for(world.site_a)
    assert stickers.target_from_code(code) == world.site_a


def test_rotation_keeps_printed_stickers_valid_until_retired(world, settings):
    printed = stickers.code_for(world.site_a)
    target = stickers.target_from_code(printed)
    link_token = stickers.token_for(world.site_a)
    assert "key 1 signs" in _keys("rotate")
    fresh = stickers.code_for(world.site_a)
    assert fresh != printed and fresh.rsplit(":", 1)[0] == printed.rsplit(":", 1)[0]  # same code, new signature
    assert stickers.target_from_code(printed) == target           # old sticker
    assert stickers.target_from_token(link_token) == world.site_a  # old portal link
    assert stickers.target_from_code(fresh) == world.site_a        # new sticker

    # SECRET_KEY changes: key 0 was pinned by the rotation, the old stickers keep working
    settings.SECRET_KEY = "a-brand-new-secret-key-" * 3
    assert stickers.target_from_code(printed) == target

    with pytest.raises(CommandError, match="rotate first"):
        _keys("retire", "1")
    assert "key 0 retired" in _keys("retire", "0")
    assert stickers.target_from_code(printed) is None
    assert stickers.target_from_code(fresh) == world.site_a
    listing = _keys()
    assert "1  signs and verifies" in listing and "  0  " not in listing


def test_legacy_portal_tokens_verify_with_every_key(world, settings):
    legacy = django_signing.dumps({"k": "s", "id": world.site_a.pk}, salt="closeloop.portal.qr")
    signing.rotate()
    settings.SECRET_KEY = "rotated-secret-key-value-" * 3
    assert stickers.target_from_token(legacy) == world.site_a


def test_keys_from_the_environment(world, monkeypatch, settings):
    old = stickers.code_for(world.site_a)
    monkeypatch.setenv(signing.ENV, "7=seven-secret,0")
    assert [k for k, _s in signing.keyring()] == [7, 0]
    new = stickers.code_for(world.site_a)
    assert new != old and stickers.target_from_code(old) == world.site_a
    monkeypatch.setenv(signing.ENV, "7=seven-secret")
    assert stickers.target_from_code(old) is None and stickers.target_from_code(new) == world.site_a
    with pytest.raises(CommandError, match=signing.ENV):
        _keys("rotate")
    monkeypatch.setenv(signing.ENV, "x=1")
    with pytest.raises(signing.KeyringError):
        signing.keyring()
