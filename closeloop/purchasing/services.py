"""Every write of purchasing: consolidation (needs → one request per vendor × period ×
source, each a `purchase` work order sent through the approval flows), the ERP webhook of an
approved request, the purchase order number coming back, rules and settings.

A need is recorded once, ever (Need.key unique), and a request once per vendor × period ×
source (PurchaseRequest.key unique): consolidating twice, or on two workers at once, makes
nothing twice. Needs that appear after their vendor's request of this period was made wait
for the next period.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, User
from closeloop.approvals import services as approvals
from closeloop.approvals.models import ApprovalRequest, RequestStatus
from closeloop.audit.services import record_change, snapshot
from closeloop.core.clock import now
from closeloop.core.errors import Conflict, FieldProblem, Forbidden, ValidationFailed
from closeloop.core.validation import Cleaner
from closeloop.customers.models import Asset
from closeloop.notify import webhooks
from closeloop.parts import selectors as parts_selectors
from closeloop.parts.models import Part
from closeloop.workorders import services as wo_services
from closeloop.workorders.models import WorkOrderType

from .models import BatchAgeRule, ErpStatus, Need, PurchaseLine, PurchaseRequest, Settings, Source

log = logging.getLogger(__name__)

#: The approval action a purchase request asks for (flows for it: action "purchase").
ACTION = "purchase"
TYPE_KEY = "purchase"
WRITE_ROLES = {Role.ADMIN, Role.MANAGER}
READ_ROLES = {Role.ADMIN, Role.MANAGER, Role.FINANCE, Role.DISPATCHER}
FINISHED = ("closed", "cancelled")


def may_read(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in READ_ROLES))


def may_purchase(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in WRITE_ROLES))


def settings_row() -> Settings:
    row, _c = Settings.objects.get_or_create(pk=1)
    return row


def purchase_type() -> WorkOrderType:
    """The `purchase` work order type, made on first use."""
    t = WorkOrderType.objects.filter(key=TYPE_KEY).first()
    if t is not None:
        return t
    taken = set(WorkOrderType.objects.values_list("prefix", flat=True))
    prefix = next(p for p in ("CG", "PO", "PQ", "PUR", "CGQ") if p not in taken)
    try:
        with transaction.atomic():
            return WorkOrderType.objects.create(key=TYPE_KEY, name=_("Purchase"), kind="service", prefix=prefix)
    except IntegrityError:
        return WorkOrderType.objects.get(key=TYPE_KEY)


def period_of(d: date, kind: str) -> str:
    if kind == "week":
        y, w, _d = d.isocalendar()
        return f"{y}-W{w:02d}"
    return f"{d.year}-{d.month:02d}"


def requester() -> User | None:
    s = settings_row()
    if s.requester_id and s.requester.is_active:
        return s.requester
    for role in (Role.MANAGER, Role.ADMIN):
        u = User.objects.filter(role=role, is_active=True).order_by("id").first()
        if u is not None:
            return u
    return None


# ---- needs ----------------------------------------------------------------------------------------

def _age_needs(today: date) -> list[dict]:
    out = []
    for rule in BatchAgeRule.objects.filter(is_active=True).select_related("part"):
        qs = Asset.objects.filter(is_active=True, install_date__isnull=False)
        if rule.batch:
            qs = qs.filter(batch=rule.batch)
        if rule.asset_model:
            qs = qs.filter(model=rule.asset_model)
        try:
            cutoff = today.replace(year=today.year - rule.years)
        except ValueError:  # 29 February
            cutoff = today.replace(year=today.year - rule.years, day=28)
        for a in qs.filter(install_date__lte=cutoff).order_by("install_date", "serial_number"):
            age = round((today - a.install_date).days / 365.25, 1)
            out.append({"key": f"age:{rule.pk}:{a.pk}", "source": Source.AGE, "part": rule.part,
                        "quantity": rule.quantity,
                        "reason": _("%(asset)s of batch %(batch)s: %(age)s years") % {
                            "asset": a.serial_number, "batch": a.batch or a.model, "age": age}})
    return out


def _forecast_needs(today: date, weeks: int) -> list[dict]:
    from closeloop.maintenance.selectors import forecast_parts

    rows = forecast_parts(until=today + timedelta(weeks=weeks), since=today)
    parts = Part.objects.in_bulk({r["part_id"] for r in rows})
    out = []
    for r in rows:
        p = parts.get(r["part_id"])
        if p is None:
            continue
        out.append({"key": f"plan:{r['plan_id']}:{r['asset_id']}:{r['due']}:{r['part_id']}", "source": Source.FORECAST,
                    "part": p, "quantity": Decimal(str(r["quantity"])),
                    "reason": _("plan %(plan)s due %(due)s") % {"plan": r["plan_id"], "due": r["due"]}})
    return out


def _reorder_needs(period: str) -> list[dict]:
    open_keys = set(Need.objects.filter(key__startswith="reorder:").exclude(
        request__work_order__status__in=FINISHED).values_list("key", flat=True))
    open_pairs = {k.rsplit(":", 1)[0] for k in open_keys}
    out = []
    for w in parts_selectors.reorder_warnings():
        pair = f"reorder:{w['part'].pk}:{w['location'].pk}"
        if pair in open_pairs or w["to_order"] <= 0:
            continue  # already on a request that is not finished yet
        out.append({"key": f"{pair}:{period}", "source": Source.REORDER, "part": w["part"], "quantity": w["to_order"],
                    "reason": _("%(location)s: %(have)s on hand, minimum %(min)s") % {
                        "location": w["location"].name, "have": w["on_hand"], "min": w["minimum"]}})
    return out


def pending_needs(today: date | None = None) -> list[dict]:
    """What consolidation would order now: the needs of every source not recorded yet."""
    today = today or now().date()
    s = settings_row()
    period = period_of(today, s.period)
    needs = _reorder_needs(period) + _forecast_needs(today, s.forecast_weeks) + _age_needs(today)
    seen = set(Need.objects.filter(key__in=[n["key"] for n in needs]).values_list("key", flat=True))
    return [n for n in needs if n["key"] not in seen]


# ---- consolidation --------------------------------------------------------------------------------

def do_consolidate(*, actor=None, today: date | None = None) -> list[PurchaseRequest]:
    """Turn the pending needs into purchase requests: one per vendor × period × source, each a
    `purchase` work order with its lines, its approval started (data: amount, vendor,
    source, lines). `actor` None: the worker (the settings' requester)."""
    if actor is not None and not may_purchase(actor):
        raise Forbidden(_("Only managers and administrators raise purchase requests."))
    today = today or now().date()
    who = actor or requester()
    if who is None:
        return []
    s = settings_row()
    period = period_of(today, s.period)
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for n in pending_needs(today):
        groups[(n["part"].vendor.strip(), n["source"])].append(n)
    made = []
    for (vendor, source), needs in sorted(groups.items()):
        key = f"{vendor}|{period}|{source}"[:260]
        if PurchaseRequest.objects.filter(key=key).exists():
            continue  # this period's request for the vendor is made: the rest waits for the next period
        try:
            with transaction.atomic():
                made.append(_make_request(who, vendor, period, source, key, needs))
        except IntegrityError:
            log.info("purchase request %s made meanwhile by another worker", key)
    return made


def _make_request(who, vendor, period, source, key, needs) -> PurchaseRequest:
    t = now()
    wtype = purchase_type()
    lines: dict[int, dict] = {}
    for n in needs:
        line = lines.setdefault(n["part"].pk, {"part": n["part"], "quantity": Decimal(0), "reasons": []})
        line["quantity"] += n["quantity"]
        line["reasons"].append(n["reason"])
    amount = sum((ln["part"].price * ln["quantity"] for ln in lines.values()), Decimal(0)).quantize(Decimal("0.01"))
    summary = ", ".join(f"{ln['part'].name} × {ln['quantity'].normalize():f}" for ln in lines.values())
    title = _("Purchase %(period)s %(vendor)s: %(summary)s") % {
        "period": period, "vendor": vendor or _("no vendor"), "summary": summary}
    wo = wo_services.do_create_work_order(actor=who, data={
        "type": wtype.key, "title": title[:200],
        "description": "\n".join(f"{ln['part'].number} {ln['part'].name} × {ln['quantity'].normalize():f}: "
                                 + "; ".join(ln["reasons"][:50]) for ln in lines.values())[:4000]})
    pr = PurchaseRequest.objects.create(work_order=wo, vendor=vendor, period=period, source=source, key=key,
                                        amount=amount, created_at=t)
    PurchaseLine.objects.bulk_create([
        PurchaseLine(request=pr, part=ln["part"], quantity=ln["quantity"], unit_price=ln["part"].price,
                     amount=(ln["part"].price * ln["quantity"]).quantize(Decimal("0.01")), reasons=ln["reasons"][:200])
        for ln in lines.values()])
    Need.objects.bulk_create([Need(key=n["key"], request=pr, part=n["part"], quantity=n["quantity"], created_at=t)
                              for n in needs])
    if approvals.flow_for(wtype.pk, ACTION) is not None:
        approvals.do_start_request(actor=who, wo=wo, action=ACTION, data={
            "amount": float(amount), "vendor": vendor[:500], "source": source, "lines": len(lines)})
    return pr


def approval_of(pr: PurchaseRequest) -> ApprovalRequest | None:
    return ApprovalRequest.objects.filter(work_order_id=pr.work_order_id, action=ACTION).order_by("-id").first()


def status_of(pr: PurchaseRequest) -> str:
    """no_flow, pending, approved, rejected, cancelled, sent, ordered."""
    if pr.erp_status != ErpStatus.NOT_SENT:
        return pr.erp_status
    a = approval_of(pr)
    return a.status if a is not None else "no_flow"


# ---- the ERP --------------------------------------------------------------------------------------

def erp_body(pr: PurchaseRequest) -> dict:
    return {"event": "purchase.approved", "request": pr.work_order.code, "vendor": pr.vendor, "period": pr.period,
            "source": pr.source, "amount": f"{pr.amount:.2f}", "currency": "CNY",
            "lines": [{"part_number": ln.part.number, "name": ln.part.name, "unit": ln.part.unit,
                       "quantity": f"{ln.quantity.normalize():f}", "unit_price": f"{ln.unit_price:.2f}",
                       "amount": f"{ln.amount:.2f}"} for ln in pr.lines.select_related("part")],
            "callback": f"/api/v1/purchase-requests/{pr.work_order.code}/purchase-order"}


def do_send_to_erp(*, actor, pr: PurchaseRequest):
    """Queue the signed webhook of an approved request to the ERP (sent by the worker through
    notify's guarded transport, retried; redeliverable from the delivery log). Once."""
    if not may_purchase(actor):
        raise Forbidden(_("Only managers and administrators send purchase requests."))
    s = settings_row()
    if not s.erp_url:
        raise ValidationFailed(FieldProblem("erp_url", _("Set the ERP webhook URL in the purchasing settings first."),
                                            "required"))
    a = approval_of(pr)
    if a is None or a.status != RequestStatus.APPROVED:
        raise Conflict(_("Only an approved purchase request goes to the ERP."), request_status=status_of(pr))
    with transaction.atomic():
        t = now()
        if not PurchaseRequest.objects.filter(pk=pr.pk, erp_status=ErpStatus.NOT_SENT).update(
                erp_status=ErpStatus.SENT, sent_at=t):
            raise Conflict(_("This purchase request was sent to the ERP already."), request_status=status_of(pr))
        d = webhooks.do_queue_webhook(key=f"purchase:{pr.pk}", url=s.erp_url, secret=s.erp_secret, body=erp_body(pr),
                                      event="purchase.order", work_order=pr.work_order, label="ERP")
    pr.refresh_from_db()
    return d


PO_SYSTEM = "erp-po"


def do_record_purchase_order(*, actor, pr: PurchaseRequest, po_number) -> PurchaseRequest:
    """The ERP's purchase order number for a sent request (its callback, or a person): kept on
    the request and as the work order's external reference `erp-po`. The same number again is
    a no-op; a different one is a 409."""
    if not may_purchase(actor):
        raise Forbidden(_("Only managers and administrators record purchase orders."))
    c = Cleaner({"po_number": po_number}, allowed={"po_number"})
    c.text("po_number", max_len=64, required=True)
    c.check()
    number = c.out["po_number"]
    with transaction.atomic():
        locked = PurchaseRequest.objects.select_for_update().get(pk=pr.pk)
        if locked.po_number:
            if locked.po_number == number:
                return locked
            raise Conflict(_("This request already has purchase order %(n)s.") % {"n": locked.po_number},
                           po_number=locked.po_number)
        if locked.erp_status == ErpStatus.NOT_SENT and status_of(locked) != RequestStatus.APPROVED:
            raise Conflict(_("Only an approved purchase request gets a purchase order."), request_status=status_of(locked))
        wo_services.do_add_external_ref(actor=actor, wo=locked.work_order, system=PO_SYSTEM, external_id=number)
        locked.po_number, locked.erp_status, locked.ordered_at = number, ErpStatus.ORDERED, now()
        locked.save(update_fields=["po_number", "erp_status", "ordered_at"])
    return locked


# ---- configuration --------------------------------------------------------------------------------

def do_save_rule(*, actor, data: dict, rule: BatchAgeRule | None = None) -> BatchAgeRule:
    if not may_purchase(actor):
        raise Forbidden(_("Only managers and administrators edit purchasing rules."))
    c = Cleaner(data, partial=rule is not None,
                allowed={"name", "batch", "asset_model", "years", "part", "quantity", "is_active"})
    c.text("name", max_len=100, required=True)
    c.text("batch", max_len=100)
    c.text("asset_model", max_len=100)
    c.decimal("years", lo=1, hi=100, step=Decimal(1))
    if not c.partial and c.out.get("years") is None and not c.failed("years"):
        c.problem("years", _("This field is required."), "required")
    c.ref("part", Part.objects.filter(is_active=True), by="number", label=_("part"), required=True)
    c.decimal("quantity", lo=Decimal("0.01"), hi=100000, step=Decimal("0.01"))
    if c.out.get("quantity") is None:
        c.out.pop("quantity", None)
        if rule is None:
            c.out["quantity"] = Decimal(1)
    c.boolean("is_active", default=True)
    batch = c.value("batch", rule.batch if rule else "")
    model = c.value("asset_model", rule.asset_model if rule else "")
    if not batch and not model and not c.failed("batch"):
        c.problem("batch", _("Name a batch or a model."), "required")
    c.check()
    if "years" in c.out and c.out["years"] is not None:
        c.out["years"] = int(c.out["years"])
    with transaction.atomic():
        before = snapshot(rule)
        obj = rule or BatchAgeRule(created_at=now())
        for k, v in c.out.items():
            setattr(obj, k, v)
        obj.save()
        record_change(actor=actor, kind="purchase_rule", obj=obj, before=before, after=snapshot(obj))
    return obj


def do_save_settings(*, actor, data: dict) -> Settings:
    if not may_purchase(actor):
        raise Forbidden(_("Only managers and administrators change the purchasing settings."))
    row = settings_row()
    c = Cleaner(data, partial=True, allowed={"period", "forecast_weeks", "requester", "erp_url", "erp_secret",
                                             "auto_consolidate"})
    c.choice("period", ["month", "week"])
    c.decimal("forecast_weeks", lo=1, hi=104, step=Decimal(1))
    c.ref("requester", User.objects.filter(is_active=True, role__in=list(WRITE_ROLES)), by="username",
          label=_("requester"))
    c.text("erp_url", max_len=300)
    c.text("erp_secret", max_len=200)
    c.boolean("auto_consolidate", default=False)
    if c.out.get("erp_url"):
        for p in webhooks.url_problems(c.out["erp_url"], field="erp_url"):
            c.problems.append(p)
    c.check()
    if "forecast_weeks" in c.out:
        c.out["forecast_weeks"] = int(c.out["forecast_weeks"])
    with transaction.atomic():
        before = snapshot(row, exclude=("erp_secret",))
        for k, v in c.out.items():
            setattr(row, k, v)
        row.updated_at = now()
        row.save()
        record_change(actor=actor, kind="purchasing_settings", obj=row, before=before,
                      after=snapshot(row, exclude=("erp_secret",)), label="purchasing")
    return row


# ---- the worker step ------------------------------------------------------------------------------

EVERY = timedelta(hours=1)


def step(worker_id: str = "") -> bool:
    """`purchasing.consolidate`: with automatic consolidation on, at most once an hour (the
    worker that wins the compare-and-set on last_run_at does it)."""
    from django.db.models import Q

    t = now()
    settings_row()
    claimed = Settings.objects.filter(pk=1, auto_consolidate=True).filter(
        Q(last_run_at__isnull=True) | Q(last_run_at__lte=t - EVERY)).update(last_run_at=t)
    if claimed:
        do_consolidate(actor=None, today=t.date())
    return False


def next_step_at():
    row = Settings.objects.filter(pk=1, auto_consolidate=True).values_list("last_run_at", flat=True).first()
    if row is None and not Settings.objects.filter(pk=1, auto_consolidate=True).exists():
        return None
    return (row + EVERY) if row else now()
