"""Reads of maintenance plans: who may see them, the forecast of next occurrences, the parts
they will need (for purchasing), an asset's next planned maintenance (asset page, passport)."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import QuerySet

from closeloop.core.clock import local_today, now
from closeloop.core.errors import Forbidden, NotFound
from closeloop.customers.models import Asset

from . import engine, services
from .models import Anchor, Occurrence, Plan, Scope, Trigger

FORECAST_MAX = 200
MAX_FORECAST_ASSETS = 2000


def visible_plans(user) -> QuerySet[Plan]:
    if not services.may_read(user):
        raise Forbidden("")
    return Plan.objects.select_related("owner", "wo_type", "team", "assignee", "asset")


def plan_for(user, pk: int) -> Plan:
    plan = visible_plans(user).filter(pk=pk).first()
    if plan is None:
        raise NotFound(f"No maintenance plan {pk}.")
    return plan


def history(plan: Plan, limit: int = 50) -> list[Occurrence]:
    return list(
        Occurrence.objects.filter(plan=plan)
        .select_related("asset", "work_order")
        .order_by("-at", "-id")[:limit]
    )


def _upcoming(plan: Plan, *, until: date | None, n: int, since: date | None = None) -> list[dict]:
    """The plan's next occurrences not yet acted on (those due now first), at most `n`, due up to
    `until`. Meter and condition plans have no dates to forecast (they depend on what devices
    report) and give []."""
    if plan.trigger not in (Trigger.CALENDAR, Trigger.AGE):
        return []
    today = local_today()
    since = since or today
    assets = list(
        engine.assets_of(plan)
        .only("id", "name", "serial_number", "install_date", "batch")
        .order_by("id")[:MAX_FORECAST_ASSETS]
    )
    if not assets:
        return []
    names = {a.pk: a for a in assets}
    is_working = engine.working_day_test(plan)
    lead = timedelta(days=plan.lead_days)
    rows: list[tuple[date, int, str, date]] = []  # due, asset, key, nominal
    pending = engine.due_occurrences(plan, now())
    rows += [(d.due, d.asset_id, d.key, d.due) for d in pending]
    pending_keys = {(d.asset_id, d.key) for d in pending}
    if plan.trigger == Trigger.AGE:
        done = set(
            Occurrence.objects.filter(plan=plan, key=f"age{plan.age_years}").values_list(
                "asset_id", flat=True
            )
        )
        for aid, born in engine._age_basis(plan, assets).items():
            due = engine.shift(born + engine.relativedelta(years=plan.age_years or 0), is_working)
            if aid not in done and (aid, f"age{plan.age_years}") not in pending_keys:
                rows.append((due, aid, f"age{plan.age_years}", due))
    elif plan.anchor == Anchor.FIXED:
        start = engine.plan_start(plan)
        after = max(start - timedelta(days=1), today + lead)
        recorded = set(Occurrence.objects.filter(plan=plan).values_list("asset_id", "key"))
        for d in engine.nominal_dates(plan, start, after=after, count=n + 1):
            due = engine.shift(d, is_working)
            if until is not None and due > until:
                break
            for a in assets:
                key = f"d{d.isoformat()}"
                if (a.pk, key) not in recorded and (a.pk, key) not in pending_keys and due - lead > today:
                    rows.append((due, a.pk, key, d))
            if len(rows) >= n:
                break
    else:
        hist = engine._history(plan, [a.pk for a in assets])
        start = engine.plan_start(plan)
        for a in assets:
            nxt = engine._next_after_completion(plan, hist.get(a.pk, []), start)
            if nxt is None:  # still open: count from its due date
                latest = max(hist[a.pk], key=lambda r: r["at"])
                nxt = (
                    engine.nominal_dates(plan, start, after=latest["due"], count=1)[0]
                    if plan.rrule
                    else latest["due"] + engine.step_of(plan)
                )
            for _i in range(n):
                due = engine.shift(nxt, is_working)
                if until is not None and due > until:
                    break
                if (a.pk, f"d{nxt.isoformat()}") not in pending_keys:
                    rows.append((due, a.pk, f"d{nxt.isoformat()}", nxt))
                following = (
                    engine.nominal_dates(plan, start, after=nxt, count=1)
                    if plan.rrule
                    else [nxt + engine.step_of(plan)]
                )
                if not following:
                    break
                nxt = following[0]
    rows.sort()
    out = []
    for due, aid, key, _nominal in rows:
        if due < since and (aid, key) not in pending_keys:
            continue
        if until is not None and due > until:
            continue
        a = names[aid]
        out.append(
            {
                "plan_id": plan.pk,
                "asset_id": aid,
                "asset": a.name,
                "serial": a.serial_number,
                "key": key,
                "due": due,
                "generate_on": due - lead,
                "pending": (aid, key) in pending_keys,
            }
        )
        if len(out) >= n:
            break
    return out


def forecast(plan: Plan, n: int = 10) -> list[dict]:
    """The next `n` occurrences of `plan` (asset, due date, the day the work order is generated)."""
    return _upcoming(plan, until=None, n=max(1, min(n, FORECAST_MAX)))


def forecast_parts(*, until: date, since: date | None = None) -> list[dict]:
    """Parts that enabled plans will need for the occurrences forecast with a due date in
    [since (today), until]: one row per part per occurrence, dict(part_id, quantity, due,
    plan_id, asset_id). For consolidated purchasing."""
    out = []
    for plan in Plan.objects.filter(enabled=True, trigger__in=[Trigger.CALENDAR, Trigger.AGE]).exclude(
        parts=[]
    ):
        if not plan.parts:
            continue
        for occ in _upcoming(plan, until=until, n=FORECAST_MAX * 10, since=since):
            for p in plan.parts:
                out.append(
                    {
                        "part_id": p["part_id"],
                        "quantity": p["quantity"],
                        "due": occ["due"],
                        "plan_id": plan.pk,
                        "asset_id": occ["asset_id"],
                    }
                )
    out.sort(key=lambda r: (r["due"], r["plan_id"], r["asset_id"], r["part_id"]))
    return out


def plans_for_asset(asset: Asset) -> QuerySet[Plan]:
    from django.db.models import Q

    q = Q(scope=Scope.ASSET, asset=asset)
    if asset.model:
        q |= Q(scope=Scope.MODEL, asset_model=asset.model)
    if asset.batch:
        q |= Q(scope=Scope.BATCH, batch=asset.batch)
    return Plan.objects.filter(q, enabled=True).select_related("wo_type")


def next_for_asset(asset: Asset) -> dict | None:
    """The asset's next planned maintenance: dict(plan, due, pending) or None."""
    best = None
    for plan in plans_for_asset(asset):
        for occ in _upcoming(plan, until=None, n=50):
            if occ["asset_id"] == asset.pk:
                if best is None or occ["due"] < best["due"]:
                    best = {"plan": plan, "due": occ["due"], "pending": occ["pending"], "title": plan.name}
                break
    return best


def asset_history(asset: Asset, limit: int = 20) -> list[Occurrence]:
    return list(
        Occurrence.objects.filter(asset=asset)
        .select_related("plan", "work_order")
        .order_by("-at", "-id")[:limit]
    )


def asset_card(user, asset: Asset) -> dict | None:
    """What the asset's page shows: the next planned maintenance, its plans and what they
    generated (None for a user who may not see plans)."""
    if not services.may_read(user):
        return None
    return {
        "next": next_for_asset(asset),
        "plans": list(plans_for_asset(asset)),
        "history": asset_history(asset, 10),
    }
