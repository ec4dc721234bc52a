"""Secrets at rest: Fernet with keys derived from the versioned signing keyring
(core.signing): the first key encrypts, every key still in the ring decrypts, so a
`closeloop signing_keys rotate` keeps stored secrets readable."""

import base64
import hashlib
import secrets as _secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from closeloop.core import signing


def _fernet_key(secret: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(b"closeloop.events.secret:" + secret.encode()).digest())


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(s)) for _kid, s in signing.keyring()])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as e:
        raise ValueError("a stored secret cannot be decrypted with the current keyring") from e


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(_secrets.token_bytes(24)).decode()


def key_bytes(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (base64 after the whsec_ prefix)."""
    raw = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        return secret.encode()
