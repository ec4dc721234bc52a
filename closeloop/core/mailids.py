"""Message-IDs of the mail we send, and reading them back when a reply arrives (docs/email.md).

An outgoing message about a work order gets `<WD2026112200001.<mac>.<hash>@<domain>>`: the
code, a short HMAC of the code (so a forged In-Reply-To cannot thread a stranger's mail onto
any work order) and a hash of the delivery key (a resent message keeps its id). A reply's
In-Reply-To / References carry it back; `work_order_code(mid)` returns the code when the id is
one of ours and its MAC checks. Mail whose *own* Message-ID is in our domain is our own mail
coming back (a loop); `is_ours(mid)` says so.
"""

import hashlib
import hmac
import re

from django.conf import settings

LOOP_HEADER_VALUE = "closeloop"
_MID = re.compile(r"<?([^<>\s@]+)@([^<>\s@]+)>?")


def domain() -> str:
    return str(getattr(settings, "CLOSELOOP_MAIL_DOMAIN", "") or "closeloop").lower()


def _mac(code: str) -> str:
    key = (settings.SECRET_KEY + ":mail-thread").encode()
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()[:16]


def make(key: str, work_order_code: str | None = None) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    if work_order_code and re.fullmatch(r"[A-Za-z0-9]{1,30}", work_order_code):
        return f"<{work_order_code}.{_mac(work_order_code)}.{digest}@{domain()}>"
    return f"<{digest}@{domain()}>"


def split(value: str) -> list[str]:
    """The ids in a header (In-Reply-To, References), lower-cased domain."""
    return [f"{m.group(1)}@{m.group(2).lower()}" for m in _MID.finditer(value or "")]


def is_ours(mid: str) -> bool:
    ids = split(mid)
    return bool(ids) and ids[0].rsplit("@", 1)[1] == domain()


def work_order_code(mid: str) -> str | None:
    for one in split(mid):
        local, dom = one.rsplit("@", 1)
        if dom != domain():
            continue
        parts = local.split(".")
        if len(parts) == 3 and hmac.compare_digest(parts[1], _mac(parts[0])):
            return parts[0]
    return None
