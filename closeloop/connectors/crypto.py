"""Secrets at rest: Fernet (cryptography) with a key derived from SECRET_KEY; the former
keys (SECRET_KEY_FALLBACKS) still decrypt, so a key rotation keeps stored secrets readable
until they are saved again."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

_PURPOSE = b"closeloop.connectors.secret:"


def _fernet() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([Fernet(base64.urlsafe_b64encode(hashlib.sha256(_PURPOSE + k.encode()).digest()))
                        for k in keys if k])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str | None:
    """The clear value, "" for none, None when it cannot be read (SECRET_KEY changed)."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None
