"""Loading the demo company: `load_demo` (used by `closeloop demo`).

A medical-device service provider with 22 provinces, ~186 hospitals, ~1,500 assets,
62 engineers in 5 teams and ~3,000 work orders over the last 90 days, generated from
`random.Random(2026)` so two loads give the same data; only timestamps move with
`closeloop.core.clock.now()`. Each app's own scenario is seeded afterwards by the command
(demo/scenarios.py).

The loader in four rooms:

- services.py (here): the entry point: refusals, --reset and --force, the marker.
- company.py: `Builder`, the in-memory company (types, skills, hospitals, sites, assets,
  contracts, staff and logins) and the conflict check for --force.
- stories.py: each work order planned as a list of steps (create, transitions, comments,
  external refs), generated before any clock is read; the scripted stories the logins land on.
- saving.py: timestamps last (a fixed day and time of day, natural gaps squeezed before
  now), the replay of transitions with the rules of `workorders.services.apply_transition`
  (`_WorkOrderState`, which refuses a step the state machine would refuse), and the bulk
  inserts inside one transaction: all or nothing. Codes and states never depend on what
  time it is; CodeCounter rows are written to the last number used per day.

It writes rows directly and does not run lifecycle hooks (`register_effect`): side
tables that later features keep from those hooks are not filled for demo data.
"""

import time
from dataclasses import dataclass

from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, SkillTag, Team, User
from closeloop.core import refcache
from closeloop.core.clock import now as clock_now
from closeloop.core.demo_database import forget_cached_marker
from closeloop.customers.models import Customer
from closeloop.workorders.models import WorkOrder, WorkOrderType

from .company import PASSWORD, Builder, DemoRefused
from .models import DemoMarker

SEED = 2026
DATA_VERSION = 1
MAX_SCALE = 5.0

#: The demo logins (public contract, DESIGN.md §5), besides the company's own people.
LOGIN_ROLES = [("admin", Role.ADMIN), ("manager", Role.MANAGER), ("dispatcher", Role.DISPATCHER),
               ("engineer", Role.ENGINEER), ("customer", Role.CUSTOMER), ("finance", Role.FINANCE)]

__all__ = ["LOGIN_ROLES", "MAX_SCALE", "PASSWORD", "DemoRefused", "LoadResult", "demo_logins", "load_demo"]


@dataclass
class LoadResult:
    loaded: bool
    marker: DemoMarker
    seconds: float = 0.0
    reset: bool = False


# ---- entry point ------------------------------------------------------------------------------

def load_demo(*, scale: float = 1.0, reset: bool = False, force: bool = False, seed: int = SEED,
              using: str = DEFAULT_DB_ALIAS) -> LoadResult:
    """Load the demo company, or do nothing when it is already loaded.

    reset: when the database holds the demo (and only the demo), wipe it and load again.
    force: load even though the database already holds other data (refused otherwise).
    """
    if not 0 < scale <= MAX_SCALE:
        raise DemoRefused(_("The scale must be greater than 0 and at most %(max)s.") % {"max": MAX_SCALE})
    started = time.perf_counter()
    with transaction.atomic(using=using):
        marker = DemoMarker.objects.using(using).filter(pk=1).first()
        did_reset = False
        if marker is not None and not reset:
            return LoadResult(False, marker)
        if marker is not None:
            if marker.mixed:
                raise DemoRefused(_(
                    "This database holds other data besides the demo (it was loaded with --force), so --reset "
                    "would delete that too. Use a fresh database for the demo instead."))
            # Nothing but the demo (and what people did in it) lives here: wipe every table.
            # (PostgreSQL refuses TRUNCATE while deferred FK checks are pending in this transaction.)
            _set_constraints(using, "IMMEDIATE")
            call_command("flush", interactive=False, verbosity=0, database=using)
            _set_constraints(using, "DEFERRED")
            # TRUNCATE sends no model signals: the per-process caches of reference rows (work order
            # types, teams, policies, ...) still hold the wiped rows' ids, which PostgreSQL does not
            # hand out again (its sequences go on), so a create would name a type that is gone.
            refcache.forget_all()
            did_reset = True
        existing = _existing_data(using)
        if existing and not force:
            raise DemoRefused(_(
                "This database already holds data (%(what)s) and no demo. Load the demo into an empty database "
                "(e.g. CLOSELOOP_DATA_DIR=/tmp/demo), or pass --force to add it next to that data.")
                % {"what": ", ".join(existing)})
        t = clock_now()
        try:
            # Insert the marker first: a second loader running at the same time waits on it,
            # then finds the demo loaded (PostgreSQL) instead of colliding row by row.
            with transaction.atomic(using=using):
                marker = DemoMarker.objects.using(using).create(
                    pk=1, loaded_at=t, seed=seed, scale=scale, data_version=DATA_VERSION, mixed=bool(existing))
        except IntegrityError:
            return LoadResult(False, DemoMarker.objects.using(using).get(pk=1))
        builder = Builder(seed=seed, scale=scale, now=t)
        builder.build()
        if existing:
            builder.check_conflicts(using)
        counts = builder.save(using)
        marker.summary = {"counts": counts, "seconds": round(time.perf_counter() - started, 2)}
        marker.save(using=using, update_fields=["summary"])
    forget_cached_marker()
    return LoadResult(True, marker, time.perf_counter() - started, did_reset)


def _set_constraints(using: str, mode: str) -> None:
    conn = connections[using]
    if conn.vendor == "postgresql":
        with conn.cursor() as cur:
            cur.execute(f"SET CONSTRAINTS ALL {mode}")


def _existing_data(using: str) -> list[str]:
    """Names of the kinds of non-demo rows the database already holds."""
    kinds = [(User, _("users")), (Team, _("teams")), (Customer, _("customers")),
             (WorkOrderType, _("work order types")), (WorkOrder, _("work orders")), (SkillTag, _("skill tags"))]
    return [str(label) for model, label in kinds if model.objects.using(using).exists()]


def demo_logins() -> list[tuple[str, str]]:
    return [(username, role.value) for username, role in LOGIN_ROLES]
