"""Per-process caches of small reference tables that every write reads (SLA policies, rules and
keyword libraries, approval flows, handoff requirements, acknowledge-or-escalate policies, dispatch
settings, work order types and their custom fields).

    from closeloop.core import refcache

    _policies = refcache.RefCache("sla.policies", "sla.SLAPolicy", "sla.BusinessCalendar")

    def active_policies():
        return _policies.get("active", lambda: list(SLAPolicy.objects.filter(active=True)...))

How a change is seen:
- in this process, at once: a save or delete of any model the cache names (post_save, post_delete)
  empties it; a change made with `QuerySet.update()` / `bulk_create` (which send no signal) calls
  `refcache.changed(name)` right after;
- in other processes (the other gunicorn workers, the worker), within `SECONDS` (5 s): an entry is
  read again from the database when it is older than that.

What is cached is shared by every request of the process: callers read it and never change it
(no attribute set on a cached instance, no save of one). Tests start each test with every cache
empty (conftest: `forget_all`).
"""

import time
from collections.abc import Callable
from typing import Any

from django.db.models.signals import post_delete, post_save

#: How old an entry may be before it is read again (a change made by another process is seen
#: within this many seconds).
SECONDS = 5.0

_caches: dict[str, "RefCache"] = {}
_clock = time.monotonic  # tests move it forward to stand for time passing


class RefCache:
    def __init__(self, name: str, *models: str):
        """`models`: "app_label.ModelName" of every table the cached values are read from."""
        self.name = name
        self.models = models
        self._values: dict[Any, tuple[float, Any]] = {}
        _caches[name] = self
        for label in models:
            for signal in (post_save, post_delete):
                signal.connect(self._changed, sender=label, weak=False, dispatch_uid=f"refcache:{name}:{label}")

    def _changed(self, **_kw) -> None:
        self._values.clear()

    def clear(self) -> None:
        self._values.clear()

    def get(self, key, load: Callable[[], Any]):
        hit = self._values.get(key)
        t = _clock()
        if hit is not None and t - hit[0] < SECONDS:
            return hit[1]
        value = load()
        if len(self._values) > 1000:
            self._values.clear()
        self._values[key] = (t, value)
        return value


def changed(*names: str) -> None:
    """Tell the caches named that their tables changed without a model signal (an `update()`)."""
    for name in names:
        cache = _caches.get(name)
        if cache is not None:
            cache.clear()


def forget_all() -> None:
    for cache in _caches.values():
        cache.clear()
