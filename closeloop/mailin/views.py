"""Console pages of the mail intake: mailboxes (Settings, administrators) and held mail
(dispatchers). Thin: forms in, services and selectors out."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from closeloop.accounts.models import Team
from closeloop.core.errors import DomainError, Forbidden, NotFound
from closeloop.customers.models import Customer
from closeloop.workorders.models import WorkOrderType

from . import imap, selectors, services
from .models import Kind, Security

FORM_FIELDS = ("name", "kind", "address", "type", "team", "host", "port", "security", "username", "password",
               "folder", "poll_seconds")


def _admin(request):
    if not services.may_manage_mailboxes(request.user):
        raise PermissionDenied


def _decider(request):
    if not services.may_decide(request.user):
        raise PermissionDenied


def _form_data(post) -> dict:
    data = {k: post.get(k, "").strip() for k in FORM_FIELDS if k in post}
    if not data.get("password"):
        data.pop("password", None)  # blank keeps the stored one
    data["team"] = data.get("team") or None
    data["active"] = post.get("active") == "on"
    return data


def _choices() -> dict:
    return {"kinds": Kind.choices, "securities": Security.choices, "teams": Team.objects.order_by("name"),
            "types": WorkOrderType.objects.filter(active=True).order_by("name")}


def _problems(e: DomainError) -> dict:
    return {p.field: str(p.message) for p in e.problems}


@login_required
@require_http_methods(["GET", "POST"])
def mailboxes(request):
    _admin(request)
    form, errors = {"kind": "imap", "security": "ssl", "folder": "INBOX", "poll_seconds": 60, "active": True}, {}
    if request.method == "POST":
        form = _form_data(request.POST)
        try:
            mb = services.do_create_mailbox(actor=request.user, data=form)
            messages.success(request, _("Mailbox %(n)s added.") % {"n": mb.name})
            return redirect("mailin:mailbox", mb.pk)
        except DomainError as e:
            errors = _problems(e)
            messages.error(request, str(e))
    return render(request, "mailin/mailboxes.html", {
        "mailboxes": selectors.mailboxes(request.user), "form": form, "errors": errors, **_choices()},
        status=422 if errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def mailbox(request, mid):
    _admin(request)
    try:
        mb = selectors.mailbox(request.user, mid)
    except NotFound:
        raise Http404
    errors: dict = {}
    form = {"name": mb.name, "kind": mb.kind, "address": mb.address, "type": mb.wo_type.key,
            "team": mb.team.code if mb.team_id else "", "host": mb.host, "port": mb.port or "",
            "security": mb.security, "username": mb.username, "folder": mb.folder,
            "poll_seconds": mb.poll_seconds, "active": mb.active}
    if request.method == "POST":
        data = _form_data(request.POST)
        try:
            services.do_update_mailbox(actor=request.user, mailbox=mb, data=data)
            messages.success(request, _("Saved."))
            return redirect("mailin:mailbox", mb.pk)
        except DomainError as e:
            errors = _problems(e)
            form.update(data)
            messages.error(request, str(e))
    return render(request, "mailin/mailbox.html", {
        "mb": mb, "form": form, "errors": errors, "password_set": bool(mb.password_encrypted),
        "recent": selectors.recent_messages(request.user, mb), **_choices()}, status=422 if errors else 200)


@login_required
@require_POST
def mailbox_poll(request, mid):
    _admin(request)
    try:
        mb = selectors.mailbox(request.user, mid)
    except NotFound:
        raise Http404
    if mb.kind != Kind.IMAP:
        messages.error(request, _("Only an IMAP mailbox is polled; inbound SMTP mail arrives by itself."))
        return redirect("mailin:mailbox", mb.pk)
    taken, error = imap.poll(mb)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Polled: %(n)d new mail.") % {"n": taken})
    return redirect("mailin:mailbox", mb.pk)


@login_required
@require_POST
def mailbox_delete(request, mid):
    _admin(request)
    try:
        mb = selectors.mailbox(request.user, mid)
    except NotFound:
        raise Http404
    services.do_delete_mailbox(actor=request.user, mailbox=mb)
    messages.success(request, _("Mailbox %(n)s removed.") % {"n": mb.name})
    return redirect("mailin:mailboxes")


@login_required
def held(request):
    _decider(request)
    rows = list(selectors.held(request.user).defer(None)[:100])
    items = [{"m": m, **selectors.held_preview(m)} for m in rows]
    return render(request, "mailin/held.html", {
        "items": items, "customers": Customer.objects.filter(is_active=True).order_by("name")[:500],
        "types": WorkOrderType.objects.filter(active=True).order_by("name")})


@login_required
@require_POST
def held_accept(request, pk):
    _decider(request)
    try:
        m = selectors.held_message(request.user, pk)
        data = {"customer": request.POST.get("customer", "")}
        if request.POST.get("type"):
            data["type"] = request.POST["type"]
        m = services.do_accept_message(actor=request.user, message=m, data=data)
        messages.success(request, _("Work order %(c)s opened from the mail.") % {"c": m.work_order.code})
    except NotFound:
        raise Http404
    except Forbidden:
        raise PermissionDenied
    except DomainError as e:
        messages.error(request, str(e))
    return redirect("mailin:held")


@login_required
@require_POST
def held_discard(request, pk):
    _decider(request)
    try:
        m = selectors.held_message(request.user, pk)
        services.do_discard_message(actor=request.user, message=m)
        messages.success(request, _("Mail discarded."))
    except NotFound:
        raise Http404
    except DomainError as e:
        messages.error(request, str(e))
    return redirect("mailin:held")
