"""Console pages for notifications. Thin: forms in, services and selectors out."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from closeloop.accounts.models import Team
from closeloop.core.errors import DomainError, NotFound

from . import ack, selectors, services
from . import messages as texts
from .channels import all_kinds, kind_module
from .models import AckPolicy, FlaggedAddress, Medium, Status, UserSettings


def poll() -> str:
    """How often the badge and the inbox refresh (settings.CLOSELOOP_NOTIFY_POLL_SECONDS, default 15)."""
    from django.conf import settings

    return f"every {int(getattr(settings, 'CLOSELOOP_NOTIFY_POLL_SECONDS', 15))}s"


def nav_badge(request):
    """The inbox entry's badge: polls a tiny endpoint so new messages show without a reload."""
    n = services.unread_count(request.user)
    return format_html('<span class="cl-unread" data-count="{}" data-testid="unread-count" hx-get="{}" '
                       'hx-trigger="{}" hx-swap="outerHTML">{}</span>', n, reverse("notify:unread_badge"), poll(), n)


@login_required
@require_GET
def unread_badge(request):
    return HttpResponse(nav_badge(request))


def _admin(request):
    if not selectors.is_notify_admin(request.user):
        raise PermissionDenied


def panel_context(request, wo):
    if request.user.is_customer:
        return None
    items = list(selectors.work_order_deliveries(request.user, wo)[:20])
    chains = list(wo.ack_chains.select_related("target").order_by("-id")[:3])
    if not items and not chains:
        return None
    return {"deliveries": items, "chains": chains, "describe": [services.describe(d) for d in items],
            "rows": list(zip(items, [services.describe(d) for d in items], strict=True))}


# ---- inbox and preferences --------------------------------------------------------------------

@login_required
@require_GET
def inbox(request):
    items = texts.for_reader(list(selectors.inbox(request.user)[:100]))
    return render(request, "notify/inbox.html", {"items": items, "unread": services.unread_count(request.user),
                                                 "poll": poll()})


@login_required
@require_POST
def inbox_read(request):
    item = request.POST.get("item")
    services.do_mark_read(actor=request.user, item_id=int(item) if item and item.isdigit() else None)
    return redirect("notify:inbox")


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    user = request.user
    events = [("*", _("Everything")), ("sla.escalation", _("SLA escalations")), ("rule.notify", _("Rule messages")),
              ("approval.requested", _("Approval requests")), ("ack.request", _("Urgent: please acknowledge"))]
    media = [m for m in Medium.choices if m[0] != Medium.WEBHOOK]
    if request.method == "POST":
        prefs = [{"event": ev, "medium": m, "enabled": request.POST.get(f"p:{ev}:{m}") == "on"}
                 for ev, _l in events for m, _ml in media]
        from datetime import time

        try:
            qs = request.POST.get("quiet_start") or None
            qe = request.POST.get("quiet_end") or None
            qs, qe = (time.fromisoformat(qs) if qs else None), (time.fromisoformat(qe) if qe else None)
            if (qs is None) != (qe is None):
                raise ValueError
            digest = (request.POST.get("digest") == "on") if selectors.digest_offered(user) else None
            services.do_set_preferences(actor=user, prefs=prefs, quiet_start=qs, quiet_end=qe, set_quiet=True,
                                        digest=digest)
            messages.success(request, _("Preferences saved."))
        except ValueError:
            messages.error(request, _("Quiet hours: give both times (HH:MM), or neither."))
        except DomainError as e:
            messages.error(request, str(e))
        return redirect("notify:preferences")
    current = {}
    for ev, _l in events:
        prefs = services._prefs(user, ev) if ev != "*" else {p.medium: p.enabled for p in user.notify_prefs.filter(event="*")}
        defaults = services.media_for_user(user, ev, None, False)
        current[ev] = {m: prefs.get(m, m in defaults) for m, _ml in media}
    s = UserSettings.objects.filter(user=user).first()
    rows = [(ev, label, [(m, ml, current[ev][m]) for m, ml in media]) for ev, label in events]
    digest = selectors.wants_digest(user) if selectors.digest_offered(user) else None
    return render(request, "notify/preferences.html", {"rows": rows, "media": media, "settings": s,
                                                       "digest": digest})


# ---- acknowledging ------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def ack_link(request, token):
    """The link in urgent messages: GET shows a confirm page (link scanners do not ack), POST acks."""
    chain = ack.chain_for_token(token)
    if chain is None:
        return render(request, "notify/ack.html", {"invalid": True}, status=404)
    if request.method == "POST":
        ack.do_ack_by_token(token, request.user if request.user.is_authenticated else None)
        chain.refresh_from_db()
    return render(request, "notify/ack.html", {"chain": chain, "token": token})


@login_required
@require_POST
def chain_ack(request, cid):
    try:
        chain = selectors.chain(request.user, cid)
        ack.do_ack(actor=request.user, chain=chain)
        messages.success(request, _("Acknowledged: %(c)s.") % {"c": chain.work_order.code})
    except NotFound:
        raise Http404
    except DomainError as e:
        messages.error(request, str(e))
    nxt = request.POST.get("next") or ""
    return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else reverse("notify:inbox"))


# ---- admin: channels -------------------------------------------------------------------------

def _channel_form_data(post, kind: str, events_default="") -> dict:
    mod = kind_module(kind)
    cfg = {name: post.get(f"config.{name}", "") for name, *_r in mod.FIELDS}
    return {"name": post.get("name", ""), "config": cfg, "enabled": post.get("enabled") == "on",
            "events": [e.strip() for e in (post.get("events") or "").split(",") if e.strip()],
            "team": post.get("team") or None}


@login_required
@require_http_methods(["GET", "POST"])
def channels(request):
    _admin(request)
    kind = request.POST.get("kind") or request.GET.get("kind") or "dingtalk"
    if request.method == "POST":
        try:
            data = _channel_form_data(request.POST, kind)
            ch = services.do_create_channel(actor=request.user, data={"kind": kind, **data})
            messages.success(request, _("Channel %(n)s added.") % {"n": ch.name})
            return redirect("notify:channel", ch.pk)
        except DomainError as e:
            messages.error(request, str(e))
    return render(request, "notify/channels.html", {
        "channels": selectors.channels(request.user), "kinds": all_kinds(), "kind": kind_module(kind),
        "teams": Team.objects.all(), "flags": FlaggedAddress.objects.all()[:50]})


@login_required
@require_http_methods(["GET", "POST"])
def channel(request, cid):
    _admin(request)
    try:
        ch = selectors.channel(request.user, cid)
    except NotFound:
        raise Http404
    if request.method == "POST":
        try:
            services.do_update_channel(actor=request.user, channel=ch, data=_channel_form_data(request.POST, ch.kind))
            messages.success(request, _("Saved."))
            return redirect("notify:channel", ch.pk)
        except DomainError as e:
            messages.error(request, str(e))
            ch = selectors.channel(request.user, cid)
    mod = kind_module(ch.kind)
    fields = [(name, label, req, secret, "" if secret else ch.config.get(name, ""), bool(ch.config.get(name)))
              for name, label, req, secret in mod.FIELDS]
    return render(request, "notify/channel.html", {
        "ch": ch, "fields": fields, "teams": Team.objects.all(),
        "recent": selectors.deliveries(request.user, channel=ch.pk)[:20]})


@login_required
@require_POST
def channel_test(request, cid):
    _admin(request)
    try:
        ch = selectors.channel(request.user, cid)
    except NotFound:
        raise Http404
    d = services.do_send_test(actor=request.user, channel=ch, address=request.POST.get("address", "")[:300])
    if d.status in (Status.SENT, Status.DELIVERED):
        messages.success(request, _("Test message: %(s)s.") % {"s": d.get_status_display()})
    else:
        messages.error(request, _("Test message failed: %(e)s") % {"e": d.error})
    return redirect("notify:channel", ch.pk)


@login_required
@require_POST
def channel_resume(request, cid):
    _admin(request)
    try:
        ch = selectors.channel(request.user, cid)
    except NotFound:
        raise Http404
    services.do_resume_channel(actor=request.user, channel=ch)
    messages.success(request, _("Channel resumed."))
    return redirect("notify:channel", ch.pk)


@login_required
@require_POST
def flag_clear(request, fid):
    _admin(request)
    services.do_clear_flag(actor=request.user, flag_id=fid)
    return redirect("notify:channels")


# ---- admin: delivery log -----------------------------------------------------------------------

@login_required
@require_GET
def deliveries(request):
    _admin(request)
    g = request.GET
    f = {k: (g.get(k) or None) for k in ("status", "medium", "work_order", "channel", "event", "q")}
    rows = list(selectors.deliveries(request.user, **f)[:200])
    return render(request, "notify/deliveries.html", {
        "rows": rows, "f": f, "statuses": Status.choices, "media": Medium.choices,
        "channels": selectors.channels(request.user)})


@login_required
@require_POST
def redeliver(request, did):
    _admin(request)
    try:
        d = selectors.delivery(request.user, did)
        services.do_redeliver(actor=request.user, delivery=d)
        messages.success(request, _("Queued for redelivery."))
    except NotFound:
        raise Http404
    except DomainError as e:
        messages.error(request, str(e))
    return redirect(reverse("notify:deliveries") + "?" + request.POST.get("qs", ""))


# ---- admin: acknowledge-or-escalate policies ----------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
def policies(request):
    _admin(request)
    if request.method == "POST":
        pid = request.POST.get("id")
        policy = AckPolicy.objects.filter(pk=pid).first() if pid and pid.isdigit() else None
        try:
            data = {"name": request.POST.get("name", ""), "enabled": request.POST.get("enabled") == "on",
                    "always": request.POST.get("always") == "on",
                    "priorities": request.POST.getlist("priorities") or ["urgent"],
                    "team": request.POST.get("team") or None,
                    "work_start": request.POST.get("work_start") or "08:30",
                    "work_end": request.POST.get("work_end") or "18:00",
                    "steps": json.loads(request.POST.get("steps") or "[]")}
            ack.do_save_policy(actor=request.user, data=data, policy=policy)
            messages.success(request, _("Policy saved."))
            return redirect("notify:policies")
        except ValueError:
            messages.error(request, _("Steps: a JSON list like %(e)s.") % {"e": json.dumps(ack.DEFAULT_STEPS[:2])})
        except DomainError as e:
            messages.error(request, str(e))
    from closeloop.workorders.models import Priority

    return render(request, "notify/policies.html", {
        "policies": [(p, json.dumps(p.steps)) for p in AckPolicy.objects.select_related("team")],
        "teams": Team.objects.all(), "priorities": Priority.choices,
        "default_steps": json.dumps(ack.DEFAULT_STEPS)})
