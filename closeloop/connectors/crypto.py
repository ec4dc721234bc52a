"""Connector credentials at rest, sealed by core.sealing (keys from the signing keyring and the
former secret keys, so a key rotation keeps them readable until they are saved again)."""

from closeloop.core import sealing


def encrypt(value: str) -> str:
    return sealing.seal(value, purpose="connectors.secret")


def decrypt(token: str) -> str | None:
    """The clear value, "" for none, None when it cannot be read (its keys are gone)."""
    return sealing.unseal(token, purpose="connectors.secret")
