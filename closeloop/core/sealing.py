"""Secrets the database keeps for talking to other systems (webhook signing secrets, connector
credentials, mailbox passwords): sealed with Fernet (cryptography) under keys derived from the
signing keyring (core.signing) and the former secret keys (SECRET_KEY_FALLBACKS), each for the
caller's purpose. The first key seals; every key in the ring still opens, so `closeloop
signing_keys rotate` or a SECRET_KEY change with the old key kept as a fallback leaves sealed
values readable until they are saved again. Never in clear text in rows, logs or the audit log.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from . import signing


def _fernet(purpose: str) -> MultiFernet:
    secrets = [s for _kid, s in signing.keyring()] + list(getattr(settings, "SECRET_KEY_FALLBACKS", []) or [])
    seen, keys = set(), []
    for s in secrets:
        if s and s not in seen:
            seen.add(s)
            digest = hashlib.sha256(f"closeloop.sealed:{purpose}:".encode() + s.encode()).digest()
            keys.append(Fernet(base64.urlsafe_b64encode(digest)))
    return MultiFernet(keys)


def seal(value: str, *, purpose: str) -> str:
    """The sealed form of `value` ("" stays "")."""
    return _fernet(purpose).encrypt(value.encode()).decode() if value else ""


def unseal(token: str, *, purpose: str) -> str | None:
    """The clear value; "" when none is stored; None when no key at hand opens it (the keys that
    sealed it are gone: the page asks for the value again)."""
    if not token:
        return ""
    try:
        return _fernet(purpose).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None
