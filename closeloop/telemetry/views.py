"""Console pages (Settings → Meters and alarms; admins and managers): gateways (the token is
shown once, on the answer to its creation), meters per asset, conditions with the builder and
"try against history", and one asset's meters, readings and alarms. Thin: services write."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from closeloop.core.access import MANAGERS, refuse
from closeloop.core.clock import now
from closeloop.core.errors import DomainError, FieldProblem, ValidationFailed
from closeloop.customers.models import Asset, Customer

from . import builder, selectors, services
from .models import Gateway, GatewayScope, Meter, MeterMode

PERIODS = [(30, "30"), (90, "90"), (180, "180"), (365, "365")]
MAX_ASSETS_MATCHED = 10000


def _guard(request):
    if not services.may_manage(request.user):
        refuse(MANAGERS)


def _problems(e: DomainError) -> list[dict]:
    return [p.as_dict() for p in e.problems] or [{"field": "", "message": str(e.message)}]


def _id(request) -> int:
    v = request.POST.get("id") or ""
    return int(v) if v.isdigit() else 0


@login_required
@require_http_methods(["GET", "POST"])
def gateways_page(request):
    _guard(request)
    errors, created, posted = [], None, {}
    if request.method == "POST":
        action = request.POST.get("action", "create")
        if action == "revoke":
            g = Gateway.objects.filter(pk=_id(request)).first()
            if g is None:
                raise Http404()
            services.do_revoke_gateway(actor=request.user, gateway=g)
            messages.success(request, _("Gateway %(n)s revoked: its token is refused from now on.") % {"n": g.name})
            return redirect("telemetry:gateways")
        posted = {k: request.POST.get(k, "") for k in ("name", "customer", "scope")}
        try:
            created = services.do_create_gateway(actor=request.user, name=posted["name"],
                                                 customer=posted["customer"] or None,
                                                 scope=posted["scope"] or GatewayScope.INGEST)
            posted = {}
        except DomainError as e:
            errors = _problems(e)
    ctx = {"tab": "gateways", "rows": selectors.gateways(), "errors": errors, "posted": posted,
           "scopes": GatewayScope.choices, "customers": Customer.objects.order_by("name").only("code", "name"),
           "created": created[0] if created else None, "token": created[1] if created else None}
    return render(request, "telemetry/gateways.html", ctx, status=422 if errors else 200)


def _match_assets(text: str, *, limit: int = MAX_ASSETS_MATCHED) -> list[Asset]:
    """Assets named by serial numbers, or a model or batch (space, comma or line separated)."""
    words = [w for w in text.replace(",", " ").replace("，", " ").split() if w]
    if not words:
        return []
    q = Q(serial_number__in=words) | Q(model__in=words) | Q(batch__in=words)
    return list(Asset.objects.filter(q).order_by("serial_number")[:limit])


@login_required
@require_http_methods(["GET", "POST"])
def meters_page(request):
    _guard(request)
    errors, posted = [], {}
    if request.method == "POST":
        posted = {k: request.POST.get(k, "") for k in ("assets", "kind", "unit", "mode")}
        try:
            found = _match_assets(posted["assets"])
            if posted["assets"].strip() and not found:
                raise ValidationFailed(FieldProblem("assets", _("No asset has that serial number, model or batch."),
                                                    "unknown_asset"))
            n = services.do_add_meters(actor=request.user, assets=found, kind=posted["kind"].strip(),
                                       unit=posted["unit"], mode=posted["mode"] or MeterMode.GAUGE)
            messages.success(request, _("%(n)d meters added (assets that had one keep theirs).") % {"n": n})
            return redirect("telemetry:meters")
        except DomainError as e:
            errors = _problems(e)
    labels = dict(MeterMode.choices)
    kinds = [{**k, "mode_label": labels.get(k["mode"], k["mode"])} for k in
             Meter.objects.values("kind", "unit", "mode").annotate(n=Count("id")).order_by("kind", "unit")]
    q = request.GET.get("q", "").strip()
    assets = []
    if q:
        assets = list(Asset.objects.filter(Q(serial_number__icontains=q) | Q(name__icontains=q) | Q(model=q) | Q(
            batch=q)).select_related("customer").order_by("serial_number")[:50])
    ctx = {"tab": "meters", "kinds": kinds, "errors": errors, "posted": posted, "modes": MeterMode.choices,
           "q": q, "assets": assets}
    return render(request, "telemetry/meters.html", ctx, status=422 if errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def asset_page(request, serial: str):
    _guard(request)
    asset = Asset.objects.select_related("customer", "site").filter(serial_number=serial).first()
    if asset is None:
        raise Http404()
    errors, posted = [], {}
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            m = Meter.objects.filter(pk=_id(request), asset=asset).select_related("asset").first()
            if m is None:
                raise Http404()
            services.do_delete_meter(actor=request.user, meter=m)
            messages.success(request, _("Meter removed; its readings stay."))
            return redirect("telemetry:asset", serial=asset.serial_number)
        posted = {k: request.POST.get(k, "") for k in ("kind", "unit", "mode")}
        try:
            services.do_add_meters(actor=request.user, assets=[asset], kind=posted["kind"].strip(),
                                   unit=posted["unit"], mode=posted["mode"] or MeterMode.GAUGE)
            messages.success(request, _("Meter added."))
            return redirect("telemetry:asset", serial=asset.serial_number)
        except DomainError as e:
            errors = _problems(e)
    kind = request.GET.get("kind") or None
    ctx = {"tab": "meters", "asset": asset, "meters": selectors.meters_of(asset), "errors": errors,
           "posted": posted, "modes": MeterMode.choices, "kind": kind or "",
           "readings": selectors.recent_readings(asset, kind=kind, limit=50),
           "alarms": selectors.recent_alarms(asset, limit=50)}
    return render(request, "telemetry/asset.html", ctx, status=422 if errors else 200)


BUILDER_KEYS = ("metric", "kind", "window", "unit", "op", "threshold", "joiner")
FORM_KEYS = ("name", "expression", "description", "assets", "period") + BUILDER_KEYS


@login_required
@require_http_methods(["GET", "POST"])
def conditions_page(request):
    _guard(request)
    errors, result, form = [], None, {}
    editing = None
    raw_id = request.POST.get("id") or request.GET.get("id") or ""
    if raw_id:
        editing = selectors.conditions().filter(pk=int(raw_id) if raw_id.isdigit() else 0).first()
        if editing is None:
            raise Http404()
    if request.method == "POST":
        action = request.POST.get("action", "save")
        form = {k: request.POST.get(k, "") for k in FORM_KEYS}
        form["active"] = request.POST.get("active") == "on"
        try:
            if action == "delete" and editing is not None:
                services.do_delete_condition(actor=request.user, condition=editing)
                messages.success(request, _("Condition deleted."))
                return redirect("telemetry:conditions")
            if action == "build":
                part = builder.build(form)
                form["expression"] = builder.combine(form["expression"], part, form["joiner"])
            elif action == "try":
                result = _backtest(form)
            else:
                data = {"name": form["name"], "expression": form["expression"],
                        "description": form["description"], "active": form["active"],
                        "builder": {k: form[k] for k in BUILDER_KEYS if form[k]}}
                if editing is None:
                    c = services.do_create_condition(actor=request.user, data=data)
                else:
                    c = services.do_update_condition(actor=request.user, condition=editing, data=data)
                messages.success(request, _("Condition %(n)s saved.") % {"n": c.name})
                return redirect(f"{request.path}?id={c.pk}")
        except DomainError as e:
            errors = _problems(e)
    elif editing is not None:
        form = {"name": editing.name, "expression": editing.expression, "description": editing.description,
                "active": editing.active, **{k: v for k, v in (editing.builder or {}).items() if k in BUILDER_KEYS}}
    else:
        form = {"active": True}
    form.setdefault("period", "90")
    form.setdefault("unit", "d")
    form.setdefault("op", ">")
    ctx = {"tab": "conditions", "rows": selectors.conditions(), "editing": editing, "form": form, "errors": errors,
           "result": result, "metrics": builder.METRICS, "operators": builder.OPERATORS, "units": builder.UNITS,
           "periods": PERIODS, "max_assets": selectors.MAX_BACKTEST_ASSETS}
    return render(request, "telemetry/conditions.html", ctx, status=422 if errors else 200)


def _backtest(form: dict) -> dict:
    services.check_expression(form["expression"])
    if not form["assets"].strip():
        raise ValidationFailed(FieldProblem("assets", _("Name the assets to try it on: serial numbers, a model or "
                                                        "a batch."), "required"))
    found = _match_assets(form["assets"], limit=selectors.MAX_BACKTEST_ASSETS + 1)
    if not found:
        raise ValidationFailed(FieldProblem("assets", _("No asset has that serial number, model or batch."),
                                            "unknown_asset"))
    days = int(form["period"]) if form["period"] in {str(p) for p, _l in PERIODS} else 90
    end = now()
    start = end - timedelta(days=days)
    out = selectors.backtest(form["expression"], start=start, end=end,
                             asset_ids=[a.pk for a in found[:selectors.MAX_BACKTEST_ASSETS]])
    names = {a.pk: a for a in found}
    out["firings"] = [{"asset": names[f["asset_id"]], "at": f["at"]} for f in out["firings"]]
    out.update(start=start, end=end, days=days, truncated=len(found) > selectors.MAX_BACKTEST_ASSETS)
    return out
