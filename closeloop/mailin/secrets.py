"""Mailbox passwords at rest: Fernet (cryptography) with a key from CLOSELOOP_MAIL_KEY, or
derived from SECRET_KEY when none is set (rotating SECRET_KEY then means entering the
passwords again; the mailbox page says so when one cannot be read)."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    key = getattr(settings, "CLOSELOOP_MAIL_KEY", "") or ""
    if not key:
        key = base64.urlsafe_b64encode(hashlib.sha256((settings.SECRET_KEY + ":mailin").encode()).digest()).decode()
    return Fernet(key.encode() if isinstance(key, str) else key)


def encrypt(clear: str) -> str:
    return _fernet().encrypt(clear.encode()).decode() if clear else ""


def decrypt(token: str) -> str | None:
    """The clear password, "" when none is stored, None when it cannot be read."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None
