"""Versioned signing keys for what is printed or sent and must outlive a key change: the QR
stickers on sites and assets (customers.stickers) and their portal links.

The keyring is an ordered list of (id, secret): the first signs, every one still listed
verifies. Key 0 is SECRET_KEY itself, the key every sticker printed before keyrings existed
was signed with. The keyring comes from

- CLOSELOOP_SIGNING_KEYS, "<id>=<secret>,<id>=<secret>,0" (first signs; a bare "0" is SECRET_KEY),
  for installations configured through the environment (containers, several hosts); else
- $CLOSELOOP_DATA_DIR/signing_keys.json, written by `closeloop signing_keys rotate|retire|pin`
  (copy it to every web host, or use the variable); else
- [0]: SECRET_KEY alone, as before.

Rotation: `closeloop signing_keys rotate` pins key 0 to the current SECRET_KEY's value (so a later
SECRET_KEY change no longer breaks printed stickers) and puts a new random key first: new
stickers are signed with it, the old ones still verify. `closeloop signing_keys retire <id>`
stops a key verifying (after its stickers are reprinted). The tracking, signature and
acknowledge links are random tokens stored hashed: no key signs them, a rotation leaves them be.
"""

from __future__ import annotations

import json
import os
import secrets
from functools import lru_cache
from pathlib import Path

from django.conf import settings

ENV = "CLOSELOOP_SIGNING_KEYS"


class KeyringError(ValueError):
    pass


def keyring_path() -> Path:
    return Path(settings.DATA_DIR) / "signing_keys.json"


def _parse_env(value: str) -> list[tuple[int, str | None]]:
    keys: list[tuple[int, str | None]] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        kid, _eq, secret = part.partition("=")
        if not kid.isdigit():
            raise KeyringError(f"{ENV}: key ids are numbers ({part!r})")
        keys.append((int(kid), secret or None))
    return keys


def _parse_file(data: bytes | str) -> list[tuple[int, str | None]]:
    obj = json.loads(data)
    return [(int(k["id"]), k.get("secret")) for k in obj["keys"]]


def keyring() -> list[tuple[int, str]]:
    """[(id, secret)], the signing key first. A key without its own secret is SECRET_KEY."""
    raw = os.environ.get(ENV, "")
    path = keyring_path()
    try:
        stamp = path.stat().st_mtime_ns if not raw.strip() else None
    except FileNotFoundError:
        stamp = None
    return _keyring(raw, str(path), stamp, settings.SECRET_KEY)


@lru_cache(maxsize=8)
def _keyring(raw: str, path: str, stamp: int | None, secret_key: str) -> list[tuple[int, str]]:
    if raw.strip():
        keys = _parse_env(raw)
    else:
        keys = _parse_file(Path(path).read_text()) if stamp is not None else [(0, None)]
    if not keys:
        raise KeyringError("the signing keyring is empty")
    out = [(kid, secret or secret_key) for kid, secret in keys]
    if len({kid for kid, _s in out}) != len(out):
        raise KeyringError("the signing keyring names a key id twice")
    return out


def signing_key() -> tuple[int, str]:
    return keyring()[0]


def verifying_keys() -> list[str]:
    return [secret for _kid, secret in keyring()]


# --- changing the file keyring (closeloop signing_keys) ---------------------------------------

def _file_keys() -> list[dict]:
    if os.environ.get(ENV, "").strip():
        raise KeyringError(f"the keyring comes from {ENV}: change the variable instead")
    path = keyring_path()
    return json.loads(path.read_text())["keys"] if path.exists() else [{"id": 0, "secret": None}]


def write_keyring_file(data: bytes | str | list[dict]) -> None:
    if isinstance(data, list):
        data = json.dumps({"keys": data}, indent=2)
    _parse_file(data)  # refuse to write what cannot be read
    path = keyring_path()
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w" if isinstance(data, str) else "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def pin() -> list[dict]:
    """Write SECRET_KEY's current value into key 0, so changing SECRET_KEY later keeps it."""
    keys = _file_keys()
    for k in keys:
        if k["id"] == 0 and not k.get("secret"):
            k["secret"] = settings.SECRET_KEY
    write_keyring_file(keys)
    return keys


def rotate() -> int:
    """A new random key signs from now on; the others still verify. Returns its id."""
    keys = pin()
    new_id = max(k["id"] for k in keys) + 1
    keys.insert(0, {"id": new_id, "secret": secrets.token_urlsafe(48)})
    write_keyring_file(keys)
    return new_id


def retire(kid: int) -> None:
    keys = _file_keys()
    if keys and keys[0]["id"] == kid:
        raise KeyringError(f"key {kid} signs: rotate first, then retire it")
    if not any(k["id"] == kid for k in keys):
        raise KeyringError(f"no key {kid} in the keyring")
    write_keyring_file([k for k in keys if k["id"] != kid])
