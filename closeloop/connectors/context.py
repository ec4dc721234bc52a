"""A work order's context from the connected systems, side by side with our own data.

`gather(wo)` asks every enabled connector for the work order's record in parallel (threads;
the HTTP calls go through the SSRF-guarded transport of notify.channels.base), waits at most
the longest connector's time limit, and returns one `Outcome` per system, in order: our own
check-in first, then each connector's record, "did not answer in time", "failed" or "not
linked". Answers (records and "no record") are cached for CACHE_SECONDS per connector and id;
failures are not, so a retry asks again.

The caller has already checked that the user may see the work order: the cache is keyed by
connector and id, never by user.
"""

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from closeloop.notify.channels import base as transport

from .kinds import KINDS, NoRecord, Record
from .models import Connector

log = logging.getLogger(__name__)

#: How long an answer is kept (settings.CLOSELOOP_CONNECTORS_CACHE_SECONDS).
CACHE_SECONDS = 60
#: Threads shared by all requests of a process; a call that outlives its time limit finishes
#: (or times out) here without holding the page.
_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="connectors")

OK, NO_RECORD, NOT_LINKED, TIMEOUT, FAILED = "ok", "no_record", "not_linked", "timeout", "failed"


@dataclass
class Outcome:
    key: str
    name: str
    status: str
    ident: str = ""
    fields: list = field(default_factory=list)
    link: str = ""
    message: str = ""
    cached: bool = False
    own: bool = False  # our own data (no retry)

    @property
    def retry(self) -> bool:
        return not self.own and self.status in (TIMEOUT, FAILED)


def cache_seconds() -> int:
    return int(getattr(settings, "CLOSELOOP_CONNECTORS_CACHE_SECONDS", CACHE_SECONDS))


def cache_key(c: Connector, ident: str) -> str:
    digest = hashlib.sha256(f"{c.pk}:{c.updated_at.timestamp()}:{ident}".encode()).hexdigest()[:32]
    return f"connectors:rec:{digest}"


def ident_for(c: Connector, wo, refs: dict) -> str | None:
    if c.ref_system:
        return refs.get(c.ref_system)
    return wo.code


def own_checkin(wo) -> Outcome:
    """Our own system: the engineer's latest check-in (where, when, how far from the site)."""
    from closeloop.fieldwork.models import CheckIn

    name = _("Check-in (closeloop)")
    ci = CheckIn.objects.filter(work_order=wo).select_related("actor").order_by("-at", "-id").first()
    if ci is None:
        return Outcome("checkin", name, NO_RECORD, own=True, message=_("No check-in yet."))
    rows = [(_("When"), timezone.localtime(ci.at).strftime("%Y-%m-%d %H:%M")),
            (_("Engineer"), str(ci.actor) if ci.actor else "")]
    link = ""
    if ci.latitude is not None and ci.longitude is not None:
        rows.append((_("Location"), f"{ci.latitude:.5f}, {ci.longitude:.5f}"
                     + (f" (±{ci.accuracy_m:.0f} m)" if ci.accuracy_m is not None else "")))
        link = f"https://www.openstreetmap.org/?mlat={ci.latitude:.5f}&mlon={ci.longitude:.5f}#map=17/{ci.latitude:.5f}/{ci.longitude:.5f}"
    if ci.distance_m is not None:
        rows.append((_("Distance from site"), f"{ci.distance_m:.0f} m"))
    if ci.scanned:
        rows.append((_("Scanned"), ci.scanned))
    return Outcome("checkin", name, OK, fields=rows, link=link, own=True)


def _run(kind, spec: dict) -> Record:
    return kind.fetch(spec)


def gather(wo, *, only: str | None = None, fresh: bool = False) -> list[Outcome]:
    """Every system's outcome for `wo` (or only the one keyed `only`); `fresh` skips the cache."""
    out: list[Outcome | None] = []
    if only in (None, "checkin"):
        out.append(own_checkin(wo))
    connectors = [c for c in Connector.objects.filter(enabled=True) if only in (None, c.key)]
    refs = {r.system: r.external_id for r in wo.external_refs.all()} if connectors else {}
    jobs = []
    for c in connectors:
        ident = ident_for(c, wo, refs)
        if ident is None:
            out.append(Outcome(c.key, c.name, NOT_LINKED, message=_("This work order has no %(s)s id.")
                               % {"s": c.ref_system}))
            continue
        key = cache_key(c, ident)
        hit = None if fresh else cache.get(key)
        if hit is not None:
            out.append(Outcome(c.key, c.name, hit["status"], ident=ident, fields=hit["fields"], link=hit["link"],
                               message=hit.get("message", ""), cached=True))
            continue
        kind = KINDS.get(c.kind)
        try:
            if kind is None:
                raise ValueError(_("Unknown kind %(k)s.") % {"k": c.kind})
            spec = kind.prepare(c, ident, wo.code)
        except ValueError as e:
            out.append(Outcome(c.key, c.name, FAILED, ident=ident, message=str(e)))
            continue
        jobs.append((len(out), c, ident, key, _pool.submit(_run, kind, spec)))
        out.append(None)
    if jobs:
        limit = max(c.timeout_ms for _i, c, _id, _k, _f in jobs) / 1000
        wait_for([f for *_rest, f in jobs], timeout=limit)
    for i, c, ident, key, fut in jobs:
        out[i] = _outcome(c, ident, key, fut)
    return out


def _outcome(c: Connector, ident: str, key: str, fut) -> Outcome:
    base = {"key": c.key, "name": c.name, "ident": ident}
    if not fut.done():
        fut.cancel()
        return Outcome(**base, status=TIMEOUT, message=_("Did not answer within %(s)s s.")
                       % {"s": f"{c.timeout_ms / 1000:g}"})
    try:
        rec = fut.result()
    except NoRecord:
        o = Outcome(**base, status=NO_RECORD, message=_("No record %(id)s there.") % {"id": ident})
        cache.set(key, {"status": o.status, "fields": [], "link": "", "message": o.message}, cache_seconds())
        return o
    except TimeoutError:
        return Outcome(**base, status=TIMEOUT, message=_("Did not answer within %(s)s s.")
                       % {"s": f"{c.timeout_ms / 1000:g}"})
    except (transport.Permanent, transport.Retryable, RuntimeError, ValueError) as e:
        return Outcome(**base, status=FAILED, message=str(e)[:200])
    except Exception as e:  # a connector must never break the page
        log.warning("connector %s failed: %r", c.key, e)
        return Outcome(**base, status=FAILED, message=type(e).__name__)
    cache.set(key, {"status": OK, "fields": rec.fields, "link": rec.link}, cache_seconds())
    return Outcome(**base, status=OK, fields=rec.fields, link=rec.link)
