"""Console pages: Settings → Lookup connectors (administrators), and the context fragment the
work order page and the universal lookup load with htmx after the page (so neither waits)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from closeloop.core.access import ADMINS, refuse
from closeloop.core.errors import NotFound, ValidationFailed

from . import context, selectors, services
from .kinds import MAX_FIELDS
from .models import Connector


def _admin(request):
    if not selectors.may_configure(request.user):
        refuse(ADMINS)


# ---- the context (work order page, lookup) ------------------------------------------------------

def _panel(request, wo) -> dict | None:
    if not selectors.may_see_context(request.user):
        return None
    return {"code": wo.code, "url": reverse("connectors:context", args=[wo.code])}


def work_order_panel(request, wo) -> dict | None:
    """workorders.panels context: the card that loads the context after the page."""
    return _panel(request, wo)


def lookup_panel(request, result: dict) -> dict | None:
    """console.lookup context: the context of the work order the lookup found (the first)."""
    wos = result.get("work_orders") or []
    if not wos:
        return None
    panel = _panel(request, wos[0])
    return panel and {**panel, "wide": True}


@login_required
@require_GET
def context_fragment(request, code: str):
    try:
        wo = selectors.work_order_for_context(request.user, code)
    except NotFound:
        raise Http404 from None
    only = request.GET.get("system") or None
    outcomes = context.gather(wo, only=only, fresh=request.GET.get("fresh") == "1")
    tpl = "connectors/_system.html" if only else "connectors/_context.html"
    ctx = {"outcomes": outcomes, "wo": wo, "url": reverse("connectors:context", args=[wo.code]),
           "wide": request.GET.get("wide") == "1"}
    if only:
        if not outcomes:
            raise Http404
        ctx["o"] = outcomes[0]
    return render(request, tpl, ctx)


# ---- settings -----------------------------------------------------------------------------------

@login_required
@require_GET
def connector_list(request):
    _admin(request)
    return render(request, "connectors/list.html", {"connectors": selectors.connectors()})


def _form_data(post) -> dict:
    paths, labels = post.getlist("field_path"), post.getlist("field_label")
    fields = [{"path": p.strip(), "label": lab.strip()} for p, lab in zip(paths, labels, strict=False)
              if p.strip() or lab.strip()]
    try:
        order = int(post.get("order", "50") or 50)
    except ValueError:
        order = -1
    try:
        timeout = int(post.get("timeout_ms", "1500") or 0)
    except ValueError:
        timeout = 0
    data = {k: post.get(k, "") for k in ("key", "name", "ref_system", "url_template", "link_template",
                                         "auth_header")}
    data.update(enabled=post.get("enabled") == "1", order=order, timeout_ms=timeout, fields=fields)
    if post.get("auth_secret"):
        data["auth_secret"] = post["auth_secret"]
    if post.get("clear_secret") == "1":
        data["clear_secret"] = True
    return data


def _edit(request, c: Connector | None):
    _admin(request)
    errors: dict = {}
    values = None
    if request.method == "POST":
        data = _form_data(request.POST)
        try:
            if c is None:
                c = services.do_create_connector(actor=request.user, data=data)
                messages.success(request, _("Connector added."))
            else:
                services.do_update_connector(actor=request.user, connector=c, data=data)
                messages.success(request, _("Connector saved."))
            return redirect("connectors:list")
        except ValidationFailed as e:
            for p in e.problems:
                errors.setdefault(p.field.split("[")[0] if p.field.startswith("fields") else p.field, p.message)
            values = {**data, "auth_secret": ""}
    if values is None:
        values = ({k: getattr(c, k) for k in ("key", "name", "enabled", "order", "ref_system", "url_template",
                                              "link_template", "auth_header", "fields", "timeout_ms")}
                  if c else {"enabled": True, "order": 50, "timeout_ms": 1500, "fields": []})
    rows = list(values.get("fields") or [])
    rows += [{"path": "", "label": ""}] * max(0, min(MAX_FIELDS, len(rows) + 2) - len(rows))
    return render(request, "connectors/edit.html", {"c": c, "v": values, "rows": rows, "errors": errors,
                                                    "has_secret": bool(c and c.auth_secret)},
                  status=422 if errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def connector_new(request):
    return _edit(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def connector_edit(request, cid: int):
    _admin(request)
    try:
        c = selectors.connector(cid)
    except NotFound:
        raise Http404 from None
    return _edit(request, c)


@login_required
@require_POST
def connector_delete(request, cid: int):
    _admin(request)
    try:
        c = selectors.connector(cid)
    except NotFound:
        raise Http404 from None
    services.do_delete_connector(actor=request.user, connector=c)
    messages.success(request, _("Connector removed."))
    return redirect("connectors:list")
