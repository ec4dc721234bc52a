"""`closeloop backup` and `closeloop restore`: the database, the uploads and the secret material in
one archive (a .tar.gz, mode 600: it holds the secret key, keep it like a password).

    manifest.json        format, when, which database, the last migration of each app
    database.sqlite3     SQLite: an online, consistent copy through SQLite's own backup API
    database.pgdump      PostgreSQL: pg_dump's custom format (restored with pg_restore)
    media/...            uploads (attachments, photos, signatures, imported ledgers)
    secrets/secret_key   SECRET_KEY (from the environment or the data directory's file)
    secrets/signing_keys.json   the signing keyring, when there is one (closeloop.core.signing)

A backup runs while closeloop serves; restore replaces the database and the uploads and wants
the web processes and workers stopped (docs/deployment.md).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

from closeloop.core.clock import now

FORMAT = 1


class BackupError(Exception):
    pass


@dataclass
class Restored:
    database: str
    files: int
    secret_key_differs: bool
    notes: list[str]


def _db(alias="default"):
    conn = connections[alias]
    return conn, conn.settings_dict


def _pg_env(sd: dict) -> dict:
    env = {**os.environ, "PGHOST": str(sd.get("HOST") or "127.0.0.1"), "PGPORT": str(sd.get("PORT") or 5432),
           "PGUSER": str(sd.get("USER") or "postgres"), "PGDATABASE": str(sd["NAME"])}
    if sd.get("PASSWORD"):
        env["PGPASSWORD"] = str(sd["PASSWORD"])  # never on the command line (ps would show it)
    return env


def _run(cmd: list[str], env: dict) -> None:
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError:
        raise BackupError(f"{cmd[0]} is not installed (the PostgreSQL client tools: apt install postgresql-client)")
    if proc.returncode != 0:
        raise BackupError(f"{cmd[0]} failed: {proc.stderr.strip()[-2000:]}")


def _migrations() -> dict[str, str]:
    last: dict[str, str] = {}
    for app, name in MigrationRecorder.Migration.objects.order_by("app", "name").values_list("app", "name"):
        last[app] = name
    return last


def _secret_files() -> dict[str, bytes]:
    from closeloop.core import signing

    out = {"secrets/secret_key": settings.SECRET_KEY.encode()}
    keyring = signing.keyring_path()
    if keyring.exists():
        out["secrets/signing_keys.json"] = keyring.read_bytes()
    return out


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(now().timestamp())
    tar.addfile(info, io.BytesIO(data))


def backup(output: Path) -> dict:
    """Write the archive to `output` (atomically: a partial archive never has the final name)."""
    conn, sd = _db()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "created_at": now().isoformat(), "database": conn.vendor,
                "migrations": _migrations(),
                # Uploads in an S3 bucket stay there (back the bucket up with its own versioning or
                # replication); the archive then says which bucket the database's file names refer to.
                "media": f"s3:{settings.S3_BUCKET}" if settings.S3_BUCKET else True}
    with tempfile.TemporaryDirectory(prefix="closeloop-backup-") as tmp:
        if conn.vendor == "sqlite":
            db_file, db_name = Path(tmp) / "database.sqlite3", "database.sqlite3"
            src = sqlite3.connect(str(sd["NAME"]), timeout=30)
            dst = sqlite3.connect(str(db_file))
            try:
                src.backup(dst)  # online and consistent, WAL included: not a file copy
            finally:
                dst.close()
                src.close()
        elif conn.vendor == "postgresql":
            db_file, db_name = Path(tmp) / "database.pgdump", "database.pgdump"
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(db_file)], _pg_env(sd))
        else:  # pragma: no cover
            raise BackupError(f"no backup for the {conn.vendor} database")
        partial = output.with_name(output.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh, tarfile.open(fileobj=fh, mode="w:gz") as tar:
            _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=2).encode())
            tar.add(db_file, arcname=db_name)
            media = Path(settings.MEDIA_ROOT)
            if manifest["media"] is True and media.is_dir():
                tar.add(media, arcname="media")
            for name, data in _secret_files().items():
                _add_bytes(tar, name, data)
        os.replace(partial, output)
    return manifest


def read_manifest(archive: Path) -> dict:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile("manifest.json")
            manifest = json.loads(member.read()) if member else None
    except (KeyError, tarfile.TarError, OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict):
        raise BackupError("not a closeloop backup (no readable manifest.json)")
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    return manifest


def _restore_media(source: Path, media: Path) -> int:
    """Replace the uploads folder's contents with the archive's; returns the number of files."""
    files = 0
    if media.exists():
        for child in media.iterdir():  # empty it in place (it may be a mounted volume)
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    media.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        for path in source.rglob("*"):
            target = media / path.relative_to(source)
            if path.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
                files += 1
    return files


def restore(archive: Path) -> Restored:
    """Replace the database, the uploads and the signing keyring with the archive's."""
    from closeloop.core import signing

    manifest = read_manifest(archive)
    conn, sd = _db()
    if manifest["database"] != conn.vendor:
        raise BackupError(f"the archive holds a {manifest['database']} database; this installation uses "
                          f"{conn.vendor} (DATABASE_URL)")
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="closeloop-restore-") as tmp:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(tmp, filter="data")  # no absolute paths, no links out, no devices
        root = Path(tmp)
        connections.close_all()
        if conn.vendor == "sqlite":
            src = sqlite3.connect(str(root / "database.sqlite3"))
            dst = sqlite3.connect(str(sd["NAME"]), timeout=30)
            try:
                src.backup(dst)  # replaces every page of the live file, under SQLite's own locking
            finally:
                dst.close()
                src.close()
        else:
            env = _pg_env(sd)
            _run(["psql", "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-c",
                  "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"], env)
            _run(["pg_restore", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
                  "--dbname", sd["NAME"], str(root / "database.pgdump")], env)
        if manifest.get("media") is True:
            files = _restore_media(root / "media", Path(settings.MEDIA_ROOT))
        else:
            files = 0
            notes.append(f"uploads were not in the archive ({manifest.get('media')}): the restored database "
                         "refers to files in that bucket; restore the bucket from its own backup.")
        keyring = root / "secrets" / "signing_keys.json"
        if keyring.exists():
            signing.write_keyring_file(keyring.read_bytes())
        secret = (root / "secrets" / "secret_key").read_text().strip()
        differs = secret != settings.SECRET_KEY
        if differs:
            key_file = Path(settings.DATA_DIR) / "secret_key"
            if os.environ.get("CLOSELOOP_SECRET_KEY") or os.environ.get("SECRET_KEY"):
                notes.append("SECRET_KEY comes from the environment and differs from the archive's: set "
                             "CLOSELOOP_SECRET_KEY to the archive's (secrets/secret_key) and restart, or "
                             "signed-in sessions end and stickers signed with it stop verifying.")
            else:
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(secret)
                notes.append(f"the archive's secret key was written to {key_file}: restart closeloop.")
    connections.close_all()
    return Restored(conn.vendor, files, differs, notes)
