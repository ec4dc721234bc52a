"""`closeloop backup` / `closeloop restore` on the database the suite runs on (SQLite through its
backup API, PostgreSQL through pg_dump/pg_restore): back up, wipe, restore, compare."""

import io
import json
import stat
import tarfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from closeloop.core import signing
from closeloop.customers import stickers
from closeloop.workorders.tests.factories import make_wo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def data_dir(settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    monkeypatch.delenv("CLOSELOOP_SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv(signing.ENV, raising=False)
    return settings.DATA_DIR


def _everything() -> dict:
    out = io.StringIO()
    call_command("dumpdata", "--natural-foreign", "--indent", "0", stdout=out,
                 exclude=["contenttypes", "auth.permission", "sessions"])
    rows = json.loads(out.getvalue())
    return {(r["model"], json.dumps(r.get("pk"))): r["fields"] for r in rows}


def _media_files(root) -> dict:
    root = Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_back_up_wipe_restore_compare(world, settings, data_dir, tmp_path):
    wo = make_wo(world)
    photo = Path(settings.MEDIA_ROOT) / "attachments" / "2026" / "12" / "nameplate.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\xff\xd8\xff photo bytes")
    old_sticker = stickers.code_for(world.site_a)
    signing.rotate()  # a keyring to carry over
    new_sticker = stickers.code_for(world.site_a)
    before, files = _everything(), _media_files(settings.MEDIA_ROOT)
    assert len(before) > 20 and wo.code in json.dumps(list(before.values()), ensure_ascii=False)

    archive = tmp_path / "out" / "b.tar.gz"
    call_command("backup", "--output", str(archive), stdout=io.StringIO())
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["database"] == connection.vendor and manifest["migrations"]["ops"] == "0001_initial"
    db_name = "database.sqlite3" if connection.vendor == "sqlite" else "database.pgdump"
    assert {"manifest.json", db_name, "media/attachments/2026/12/nameplate.jpg", "secrets/secret_key",
            "secrets/signing_keys.json"} <= names

    # wipe: the database, the uploads, the keyring
    call_command("flush", "--no-input")
    photo.unlink()
    signing.keyring_path().unlink()
    assert not any(wo.code in json.dumps(f, ensure_ascii=False) for f in _everything().values())

    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", str(archive), stdout=io.StringIO())
    out = io.StringIO()
    call_command("restore", str(archive), "--yes", stdout=out)
    assert "restored the" in out.getvalue()
    assert _everything() == before
    assert _media_files(settings.MEDIA_ROOT) == files
    site = type(world.site_a).objects.get(pk=world.site_a.pk)
    assert stickers.target_from_code(old_sticker) == site and stickers.target_from_code(new_sticker) == site


def test_restore_writes_the_archives_secret_key_when_it_differs(world, settings, data_dir, tmp_path):
    archive = tmp_path / "b.tar.gz"
    call_command("backup", "-o", str(archive), stdout=io.StringIO())
    original = settings.SECRET_KEY
    settings.SECRET_KEY = "another-key-" * 5
    out = io.StringIO()
    call_command("restore", str(archive), "--yes", stdout=out)
    assert (data_dir / "secret_key").read_text() == original
    assert "restart" in out.getvalue()


def test_restore_refuses_what_is_not_a_backup(db, tmp_path, data_dir):
    bad = tmp_path / "x.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        info = tarfile.TarInfo("hello.txt")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(CommandError, match="not a closeloop backup"):
        call_command("restore", str(bad), "--yes")
    with pytest.raises(CommandError, match="no such file"):
        call_command("restore", str(tmp_path / "missing.tar.gz"), "--yes")
