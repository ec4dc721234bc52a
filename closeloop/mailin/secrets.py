"""Mailbox passwords at rest, sealed by core.sealing (keys from the signing keyring and the former
secret keys; when none of them opens a password any more the mailbox page asks for it again)."""

from closeloop.core import sealing


def encrypt(clear: str) -> str:
    return sealing.seal(clear, purpose="mailin.password")


def decrypt(token: str) -> str | None:
    """The clear password, "" when none is stored, None when it cannot be read."""
    return sealing.unseal(token, purpose="mailin.password")
