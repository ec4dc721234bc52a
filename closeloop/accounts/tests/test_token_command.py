"""`closeloop token create|list|revoke`."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from closeloop.accounts.models import ApiToken
from closeloop.accounts.services import authenticate_token
from closeloop.cli import main as closeloop_main


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_prints_only_the_token(world):
    out, err = run("create", "eng_x", "--scope", "read", "--name", "CRM sync")
    token = out.strip()
    assert out == token + "\n" and err == ""
    user, row = authenticate_token(token)
    assert user == world.eng_x and row.scopes == ["read"] and row.name == "CRM sync"


def test_create_defaults_and_admin_scope(world):
    out, _ = run("create", "dispatcher")
    assert authenticate_token(out.strip())[1].scopes == ["read", "write"]
    out, _ = run("create", "admin", "--scope", "admin", "--expires-days", "30")
    row = authenticate_token(out.strip())[1]
    assert row.scopes == ["read", "write", "admin"] and row.expires_at is not None


@pytest.mark.parametrize("args,message", [
    (("create", "nobody"), "No user"),
    (("create", "eng_x", "--scope", "root"), "Unknown scope"),
    (("create", "eng_x", "--scope", "admin"), "admin-scoped"),
    (("create", "eng_x", "--expires-days", "0"), "expires-days"),
    (("list", "nobody"), "No user"),
    (("revoke", "999999"), "No such token"),
])
def test_errors(world, args, message):
    before = ApiToken.objects.count()
    with pytest.raises(CommandError, match=message) as exc:
        run(*args)
    assert exc.value.returncode != 0
    assert ApiToken.objects.count() == before


def test_deactivated_user_gets_no_token(world):
    world.eng_y.is_active = False
    world.eng_y.save()
    with pytest.raises(CommandError, match="deactivated"):
        run("create", "eng_y")


def test_list_and_revoke(world):
    token = run("create", "eng_x", "--name", "phone")[0].strip()
    row = ApiToken.objects.get(user=world.eng_x)
    out, _ = run("list", "eng_x")
    assert "phone" in out and row.prefix in out and token not in out and "active" in out
    out, _ = run("revoke", str(row.pk))
    assert f"Revoked token {row.pk}" in out
    assert authenticate_token(token) is None
    assert "phone" not in run("list", "eng_x")[0]
    assert "revoked" in run("list", "eng_x", "--all")[0]


@pytest.mark.django_db(transaction=True)
def test_console_script_exit_status_and_streams(capsys):
    """Through the real `closeloop` entry point: the error on stderr, a non-zero status."""
    with pytest.raises(SystemExit) as exc:
        closeloop_main(["closeloop", "token", "create", "nobody"])
    assert exc.value.code != 0
    captured = capsys.readouterr()
    assert captured.out == "" and "No user 'nobody'" in captured.err
