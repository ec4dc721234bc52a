"""The signed code on a site's or an asset's QR sticker: one scheme, read both by the
engineer's phone (fieldwork check-in) and by a customer's camera (the portal).

A code is `CL:S:<site code>:<sig>` or `CL:A:<asset serial>:<sig>`, where `sig` is 80 bits
of HMAC-SHA256 over "<kind>:<code>" (salt "closeloop.fieldwork.qr.v1" and SECRET_KEY) in
base32. The portal's link carries the same code, base64url-encoded so any serial number
fits in a path: `/portal/q/<token>/`. When a site URL is configured the printed QR holds
that link (a phone's camera opens the portal; the engineer's app reads the code out of
it), else the bare code; the bare code is printed under it for typing.

Stickers already printed stay valid: bare codes verify as before, and the portal's former
tokens (django.core.signing, salt "closeloop.portal.qr", kind and id, no expiry) are still
accepted by `target_from_token`, though no longer issued. Codes are signed with the signing
keyring's first key and verified with every key still in it (core.signing): `closeloop
signing_keys rotate` starts signing with a new key without invalidating a printed sticker.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from django.core import signing as django_signing
from django.utils.crypto import constant_time_compare, salted_hmac

from closeloop.core import signing

from .models import Asset, Site

PREFIX = "CL"
_SALT = "closeloop.fieldwork.qr.v1"
_LEGACY_PORTAL_SALT = "closeloop.portal.qr"
_KINDS = {"S": Site, "A": Asset}
MAX_LENGTH = 300


def _sig(kind: str, code: str, key: str) -> str:
    mac = salted_hmac(_SALT, f"{kind}:{code}", secret=key, algorithm="sha256").digest()
    return base64.b32encode(mac[:10]).decode()  # 16 characters, 80 bits


def code_for(obj: Site | Asset) -> str:
    """The sticker's code, e.g. CL:S:site-a:ABCD… (also what an engineer types), signed with
    the keyring's signing key (core.signing)."""
    kind, code = ("S", obj.code) if isinstance(obj, Site) else ("A", obj.serial_number)
    return f"{PREFIX}:{kind}:{code}:{_sig(kind, code, signing.signing_key()[1])}"


def _verified(kind: str, code: str, sig: str) -> bool:
    """Any key still in the keyring verifies (a rotation never invalidates printed stickers)."""
    return any(constant_time_compare(sig, _sig(kind, code, key)) for key in signing.verifying_keys())


def token_for(obj: Site | Asset) -> str:
    """The portal link's token: the code, base64url without padding."""
    return base64.urlsafe_b64encode(code_for(obj).encode()).decode().rstrip("=")


def site_url() -> str:
    """settings.SITE_URL, CLOSELOOP_SITE_URL, else the company's public URL from the first run."""
    from closeloop.core.site import site_url as public_site_url

    return public_site_url()


def printed_text(obj: Site | Asset) -> str:
    """What the printed QR holds: the portal link when a site URL is configured, else the code."""
    from django.urls import reverse

    base = site_url()
    return base + reverse("portal:qr", args=[token_for(obj)]) if base else code_for(obj)


def _target(kind: str, code: str):
    if kind == "S":
        return Site.objects.select_related("customer").filter(code=code).first()
    return Asset.objects.select_related("site", "customer").filter(serial_number=code).first()


def target_from_code(text: str) -> Site | Asset | None:
    """The Site or Asset a scanned or typed text names, or None when it is forged or
    unknown. Accepts the bare code (any case) and a portal link or token carrying one."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_LENGTH * 2:
        return None
    text = text.strip()
    if "/portal/q/" in text:
        path = urlsplit(text).path if "://" in text else text
        token = path.split("/portal/q/", 1)[1].split("/", 1)[0]
        text = _decode(token) or ""
    elif not text.upper().startswith(PREFIX + ":"):
        text = _decode(text) or text
    parts = text.split(":")
    if len(text) > MAX_LENGTH or len(parts) < 4 or parts[0].upper() != PREFIX or parts[1].upper() not in _KINDS:
        return None
    kind, sig, code = parts[1].upper(), parts[-1].upper(), ":".join(parts[2:-1])
    if not _verified(kind, code, sig):
        return None
    return _target(kind, code)


def _decode(token: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def target_from_token(token: str) -> Site | Asset | None:
    """The portal link's token (current, or a former django.core.signing one) → Site/Asset."""
    decoded = _decode(token)
    if decoded and decoded.startswith(PREFIX + ":"):
        return target_from_code(decoded)
    try:
        keys = signing.verifying_keys()
        data = django_signing.loads(token, salt=_LEGACY_PORTAL_SALT, key=keys[0], fallback_keys=keys[1:])
    except django_signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    model = {"a": Asset, "s": Site}.get(data.get("k"))
    if model is None:
        return None
    return model.objects.select_related("customer").filter(pk=data.get("id")).first()
