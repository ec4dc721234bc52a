"""Console pages for work orders. Thin: forms in, services and selectors out."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from closeloop.accounts.selectors import engineer_choices
from closeloop.core.errors import DomainError, NotFound
from closeloop.core.paging import Page

from . import attachments, listing, panels, permissions, selectors, services
from .api import attachment_response
from .forms import WorkOrderCreateForm
from .lifecycle import STATE_LABELS, TRANSITIONS
from .models import Priority, WorkOrderType
from .rows import list_rows


def _wo_or_404(request, code):
    try:
        return selectors.access_work_order_by_code(request.user, code)
    except NotFound:
        raise Http404(_("No such work order."))


@login_required
def home(request):
    """Each user lands where core.nav.register_landing sends their role (managers on the
    console's dashboard, engineers on the phone pages, customers on their portal, finance on
    the work waiting for an invoice), else on the list (dispatchers)."""
    from closeloop.core import nav

    return redirect(nav.landing_url(request.user))


def _list_filter(request):
    """The list's filter from the query string, or from a saved filter it names (listing)."""
    values, saved = listing.saved_filter(request.user, request.GET)
    return selectors.filter_from(request.GET if saved is None else values), saved


@login_required
@require_GET
def work_order_export(request):
    """The list as CSV, with the list's filters (and queue) and its visibility."""
    from django.http import StreamingHttpResponse

    from . import exports

    f, _queue = _list_filter(request)
    try:
        selectors.filter_work_orders(request.user, f)
    except DomainError as e:
        return HttpResponse(str(e), status=400, content_type="text/plain; charset=utf-8")
    from closeloop.core.clock import now

    resp = StreamingHttpResponse(exports.stream(request.user, f), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="work-orders-{now():%Y%m%d-%H%M}.csv"'
    resp["Cache-Control"] = "no-store"
    return resp


@login_required
@require_GET
def work_order_list(request):
    g = request.GET
    f, queue = _list_filter(request)
    try:
        page = selectors.page_work_order_rows(request.user, f, cursor=g.get("cursor") or None, limit=25)
        page = Page(list_rows(page.items), page.next_cursor)
    except DomainError as e:
        messages.error(request, str(e))
        page = Page([], None)
    params = g.copy()
    params.pop("cursor", None)
    ctx = {
        "page": page, "filters": f, "states": STATE_LABELS.items(), "priorities": Priority.choices,
        "types": WorkOrderType.objects.filter(active=True).values("key", "name"), "query_string": params.urlencode(),
        "may_create": permissions.may_create(request.user), "first_page": not g.get("cursor"),
        "queue": queue, "list_slots": listing.list_slots(), **listing.context(request),
    }
    listing.decorate(page.items)
    if request.htmx and request.htmx.target == "wo-rows":
        return render(request, "workorders/_list_rows.html", ctx)
    if request.user.sees_all_work_orders:
        from closeloop.accounts.models import Team

        ctx["teams"] = Team.objects.values("code", "name")
        if ctx.get("engineers") is None:  # the console's bulk bar may have read them already
            ctx["engineers"] = engineer_choices()
    return render(request, "workorders/list.html", ctx)


@login_required
def work_order_create(request):
    if not permissions.may_create(request.user):
        raise Http404
    wo_type = WorkOrderType.objects.filter(key=request.POST.get("type") or request.GET.get("type"),
                                           active=True).first()
    form = WorkOrderCreateForm(request.POST or None, user=request.user, wo_type=wo_type)
    if request.method == "POST" and form.is_valid():
        try:
            wo = services.do_create_work_order(actor=request.user, data=form.service_data())
        except DomainError as e:
            _errors_to_form(form, e)
        else:
            messages.success(request, _("Work order %(code)s created.") % {"code": wo.code})
            return redirect("workorders:detail", code=wo.code)
    return render(request, "workorders/create.html", {"form": form, "wo_type": wo_type})


@login_required
@require_GET
def custom_fields_partial(request):
    """htmx: the custom fields of the chosen type, swapped into the create form."""
    wo_type = WorkOrderType.objects.filter(key=request.GET.get("type"), active=True).first()
    form = WorkOrderCreateForm(user=request.user, wo_type=wo_type)
    return render(request, "workorders/_custom_fields.html", {"form": form})


def _errors_to_form(form, e: DomainError):
    if not e.problems:
        form.add_error(None, str(e))
    for p in e.problems:
        name = p.field.replace("custom.", "custom__")
        form.add_error(name if name in form.fields else None, p.message if name in form.fields
                       else f"{p.field}: {p.message}")


@login_required
@require_GET
def work_order_detail(request, code):
    wo = _wo_or_404(request, code)
    ctx = {
        "wo": wo,
        "events": selectors.timeline_for(request.user, wo),
        "attachments": selectors.attachments_for(request.user, wo),
        "actions": permissions.allowed_actions(request.user, wo),
        "may_comment_internal": permissions.may_comment_internal(request.user),
        "engineers": engineer_choices() if any(t.action == "assign" for t in permissions.allowed_actions(request.user, wo))
        else [],
        "state_labels": STATE_LABELS,
        "links_out": wo.links_out.select_related("target"),
        "links_in": wo.links_in.select_related("source"),
        "external_refs": wo.external_refs.all(),
    }
    ctx.update(panels.page_context(request, wo))
    ctx["panels"] = panels.for_work_order(request, wo)
    ctx["event_templates"] = panels.event_templates()
    return render(request, "workorders/detail.html", ctx)


@login_required
@require_POST
def work_order_action(request, code, action):
    wo = _wo_or_404(request, code)
    t = TRANSITIONS.get(action)
    if t is None:
        raise Http404
    data = {k: v for k in (*t.required, *t.optional) if (v := request.POST.get(k, "").strip())}
    version = request.POST.get("version")
    try:
        services.do_transition(actor=request.user, wo=wo, action=action, data=data,
                               expected_version=int(version) if version and version.isdigit() else None)
    except DomainError as e:
        messages.error(request, _format_error(e))
    else:
        messages.success(request, _("%(action)s: done.") % {"action": t.label})
    nxt = request.POST.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return redirect(nxt)
    return redirect("workorders:detail", code=wo.code)


def _format_error(e: DomainError) -> str:
    if e.problems and e.status == 422:  # input errors: each field; others (a gate still open) say it in words
        return "; ".join(f"{p.field}: {p.message}" for p in e.problems)
    return str(e)


@login_required
@require_POST
def work_order_comment(request, code):
    wo = _wo_or_404(request, code)
    try:
        services.do_add_comment(actor=request.user, wo=wo, body=request.POST.get("body", ""),
                                public=request.POST.get("public") == "on")
    except DomainError as e:
        messages.error(request, _format_error(e))
    return redirect("workorders:detail", code=wo.code)


@login_required
@require_POST
def work_order_tags(request, code):
    """Tags from the work order page: one text field, words separated by commas or spaces."""
    import re

    wo = _wo_or_404(request, code)
    tags = [t for t in re.split(r"[,，\s]+", request.POST.get("tags", "")) if t]
    try:
        services.do_set_tags(actor=request.user, wo=wo, tags=tags)
    except DomainError as e:
        messages.error(request, _format_error(e))
    return redirect("workorders:detail", code=wo.code)


@login_required
@require_POST
def work_order_watch(request, code):
    """Watch or stop watching (oneself) from the work order page."""
    wo = _wo_or_404(request, code)
    try:
        if request.POST.get("watch") == "1":
            services.do_add_watcher(actor=request.user, wo=wo, user=request.user)
        else:
            services.do_remove_watcher(actor=request.user, wo=wo, user=request.user)
    except DomainError as e:
        messages.error(request, _format_error(e))
    return redirect("workorders:detail", code=wo.code)


@login_required
@require_POST
def work_order_upload(request, code):
    wo = _wo_or_404(request, code)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("file: choose a file to upload."))
    else:
        try:
            attachments.do_add_attachment(actor=request.user, wo=wo, upload=upload,
                                       public=request.POST.get("public") == "on")
        except DomainError as e:
            messages.error(request, _format_error(e))
    return redirect("workorders:detail", code=wo.code)


@login_required
@require_GET
def attachment_download(request, code, attachment_id) -> HttpResponse:
    try:
        att = selectors.access_attachment(request.user, code, attachment_id)
    except NotFound:
        raise Http404
    return attachment_response(att)


def tags_panel_context(request, wo):
    """The work order page's tags and watchers card (staff only; customers see neither)."""
    user = request.user
    if not user.is_authenticated or user.role == "customer":
        return None
    watchers = services.watcher_names(wo)
    return {"tags": list(wo.tags or []), "watchers": watchers, "may_edit": permissions.may_edit(user, wo),
            "watching": user.username in watchers}
