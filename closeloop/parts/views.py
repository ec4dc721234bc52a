"""Console pages: the parts catalogue, stock locations with their stock and movements, the
movement forms (receipt, transfer, return, adjustment), reorder warnings and the fleet view;
and the parts card on the work order page. Thin: selectors read, services write. A role that
does not see stock gets a 404 page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from closeloop.accounts.models import Role, User
from closeloop.core.errors import DomainError, NotFound

from . import selectors, services
from .models import LocationKind, MovementKind, Part


def _reader(request):
    if not services.may_read(request.user):
        raise Http404()


def _say(request, e: DomainError) -> None:
    messages.error(request, "; ".join(f"{p.field}: {p.message}" for p in e.problems) if e.problems and e.status == 422
                   else str(e))


def card_context(request, wo):
    """The parts card: hidden from customers; reservations, issued parts and what the
    assignee's van lacks (or, with nobody assigned yet, every needed part)."""
    user = request.user
    if not services.may_read(user):
        return None
    reservations = list(selectors.reservations_for(wo))
    issued = list(selectors.movements(user, work_order=wo).order_by("at", "id"))
    if not reservations and not issued:
        return None
    missing = []
    if wo.assignee_id:
        missing = selectors.parts_check(wo, [wo.assignee_id]).get(wo.assignee_id, [])
    return {"reservations": reservations, "issued": issued, "missing": missing,
            "engineer": (wo.assignee.display_name or wo.assignee.username) if wo.assignee_id else ""}


@login_required
def catalogue(request):
    _reader(request)
    if request.method == "POST":
        try:
            p = services.do_save_part(actor=request.user, data=_part_data(request.POST))
        except DomainError as e:
            _say(request, e)
            return redirect("parts:catalogue")
        messages.success(request, _("Part %(n)s added.") % {"n": p.number})
        return redirect("parts:part", number=p.number)
    q = request.GET.get("q", "").strip()[:100]
    rows = list(selectors.parts(request.user, q=q)[:500])
    totals = selectors.stock_totals([p.pk for p in rows])
    return render(request, "parts/catalogue.html", {
        "parts": [{"part": p, "on_hand": totals.get(p.pk, 0)} for p in rows], "q": q,
        "may_manage": services.may_manage(request.user), "may_move": services.may_move(request.user),
        "warnings": len(selectors.reorder_warnings(request.user))})


def _part_data(post) -> dict:
    data = {k: post.get(k, "").strip() for k in ("number", "name", "unit", "vendor", "price", "asset_models")
            if k in post}
    if data.get("price") == "":
        data["price"] = None
    if "is_active" in post or "is_active_present" in post:
        data["is_active"] = post.get("is_active") == "on"
    return data


@login_required
def part_page(request, number):
    _reader(request)
    try:
        part = selectors.part(request.user, number)
    except NotFound:
        raise Http404()
    if request.method == "POST":
        try:
            if request.POST.get("form") == "reorder":
                services.do_set_reorder_point(actor=request.user, data={
                    "part": part.number, "location": request.POST.get("location", ""),
                    "minimum": request.POST.get("minimum", ""), "target": request.POST.get("target", "")})
                messages.success(request, _("Reorder point saved."))
            else:
                data = _part_data(request.POST)
                data.pop("number", None)
                services.do_save_part(actor=request.user, data=data, part=part)
                messages.success(request, _("Saved."))
        except DomainError as e:
            _say(request, e)
        return redirect("parts:part", number=part.number)
    return render(request, "parts/part.html", {
        "part": part, "stock": list(selectors.stock(request.user, part=part)),
        "movements": list(selectors.movements(request.user, part=part)[:100]),
        "reorder_points": list(part.reorder_points.select_related("location")),
        "locations": list(selectors.locations(request.user).filter(is_active=True)),
        "may_manage": services.may_manage(request.user), "may_move": services.may_move(request.user)})


@login_required
def locations(request):
    _reader(request)
    if request.method == "POST":
        data = {k: request.POST.get(k, "").strip() for k in ("code", "name", "kind", "user", "region")}
        data = {k: (v or None) if k in ("user", "region") else v for k, v in data.items()}
        try:
            loc = services.do_save_location(actor=request.user, data=data)
        except DomainError as e:
            _say(request, e)
            return redirect("parts:locations")
        messages.success(request, _("%(name)s added.") % {"name": loc.name})
        return redirect("parts:location", code=loc.code)
    locs = list(selectors.locations(request.user))
    return render(request, "parts/locations.html", {
        "locations": locs, "kinds": LocationKind.choices, "regions": [x for x in locs if x.kind == "regional"],
        "engineers": User.objects.filter(role=Role.ENGINEER, is_active=True).order_by("username"),
        "may_manage": services.may_manage(request.user)})


@login_required
def location_page(request, code):
    _reader(request)
    try:
        loc = selectors.location(request.user, code)
    except NotFound:
        raise Http404()
    return render(request, "parts/location.html", {
        "location": loc, "stock": list(selectors.stock(request.user, location=loc)),
        "movements": list(selectors.movements(request.user, location=loc)[:100]),
        "warnings": selectors.reorder_warnings(request.user, location=loc),
        "may_move": services.may_move(request.user)})


FORMS = {"receipt": ("part", "quantity", "target", "note"),
         "transfer": ("part", "quantity", "source", "target", "note"),
         "return": ("part", "quantity", "target", "work_order", "note"),
         "adjustment": ("part", "quantity", "location", "note")}
WRITERS = {"receipt": services.do_receive, "transfer": services.do_transfer, "return": services.do_return,
           "adjustment": services.do_adjust}


@login_required
def move(request):
    """One page for the four movement forms (?kind=receipt|transfer|return|adjustment)."""
    _reader(request)
    if not services.may_move(request.user):
        raise Http404()
    kind = request.POST.get("kind") or request.GET.get("kind") or "receipt"
    if kind not in FORMS:
        kind = "receipt"
    if request.method == "POST":
        data = {k: request.POST.get(k, "").strip() for k in FORMS[kind]}
        data["key"] = request.POST.get("key", "").strip()[:200] or None
        try:
            m = WRITERS[kind](actor=request.user, data=data)
        except DomainError as e:
            _say(request, e)
            return redirect(f"{request.path}?kind={kind}")
        messages.success(request, _("%(kind)s recorded: %(part)s × %(q)s.") % {
            "kind": m.get_kind_display(), "part": m.part.number, "q": services._fmt(m.quantity)})
        loc = m.target or m.source
        return redirect("parts:location", code=loc.code)
    import uuid

    return render(request, "parts/move.html", {
        "kind": kind, "fields": FORMS[kind], "kinds": [(k, MovementKind(k).label) for k in FORMS],
        "parts": Part.objects.filter(is_active=True).order_by("number"),
        "locations": list(selectors.locations(request.user).filter(is_active=True)),
        "initial": {k: request.GET.get(k, "") for k in ("part", "source", "target", "location", "work_order")},
        "key": uuid.uuid4().hex})


@login_required
def reorder(request):
    _reader(request)
    return render(request, "parts/reorder.html", {"warnings": selectors.reorder_warnings(request.user),
                                                  "may_move": services.may_move(request.user)})


@login_required
def fleet(request):
    _reader(request)
    by = "model" if request.GET.get("by") == "model" else "batch"
    return render(request, "parts/fleet.html", {"groups": selectors.fleet(request.user, by=by), "by": by})


@login_required
@require_POST
def reserve(request, code):
    """The parts card's reserve form (dispatchers)."""
    from closeloop.workorders.selectors import access_work_order_by_code

    _reader(request)
    try:
        wo = access_work_order_by_code(request.user, code)
    except NotFound:
        raise Http404()
    try:
        services.do_reserve_parts(actor=request.user, work_order=wo, items=[
            {"part": request.POST.get("part", "").strip(), "quantity": request.POST.get("quantity", "").strip()}])
    except DomainError as e:
        _say(request, e)
    return redirect("workorders:detail", code=wo.code)
