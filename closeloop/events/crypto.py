"""Secrets at rest, sealed by core.sealing (keys from the versioned signing keyring: a
`closeloop signing_keys rotate` keeps stored secrets readable), and Standard Webhooks secrets."""

import base64
import secrets as _secrets

from closeloop.core import sealing


def encrypt(value: str) -> str:
    return sealing.seal(value, purpose="events.secret")


def decrypt(token: str) -> str:
    value = sealing.unseal(token, purpose="events.secret")
    if value is None:
        raise ValueError("a stored secret cannot be decrypted with the current keyring")
    return value


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
