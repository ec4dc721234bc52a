"""Customer portal writes: reports from QR links or accounts, tracking links, the
customer's confirmation (signature + rating), reopening, key-step notifications.

Anonymous visitors act through one service user per customer organisation
(`portal+<customer code>`, role customer, no usable password): the work order services
then apply exactly the rules they apply to a customer account of that organisation.
"""

import os
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from closeloop.accounts.models import Role, User
from closeloop.core.clock import now
from closeloop.core.errors import Conflict, DomainError, FieldProblem, Forbidden, ValidationFailed
from closeloop.core.validation import compact_phone
from closeloop.customers import stickers
from closeloop.customers.models import Asset, Contact, Customer, Site
from closeloop.workorders import services as wo_services
from closeloop.workorders import timeline
from closeloop.workorders.attachments import do_add_attachment
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import TimelineEvent, WorkOrder, WorkOrderType

from .models import Feedback, PortalHit, TrackingLink

WHAT_MAX = 2000
NAME_MAX = 100


def reopen_days() -> int:
    return int(getattr(settings, "PORTAL_REOPEN_DAYS", os.environ.get("CLOSELOOP_PORTAL_REOPEN_DAYS", "7")))


def rate_limits() -> dict[str, tuple[int, int]]:
    """scope -> (max requests, window seconds) per client address."""
    return getattr(settings, "PORTAL_RATE_LIMITS", {
        "report": (int(os.environ.get("CLOSELOOP_PORTAL_REPORTS_PER_HOUR", "10")), 3600),
        "lookup": (int(os.environ.get("CLOSELOOP_PORTAL_LOOKUPS_PER_MINUTE", "60")), 60),
        "act": (20, 3600),
    })


# ---- QR codes ------------------------------------------------------------------------------

def sign_qr(obj: Site | Asset) -> str:
    """The token of a site's or an asset's portal link: the sticker's signed code
    (customers.stickers, the one scheme; no expiry: stickers stay on machines for years)."""
    return stickers.token_for(obj)


def unsign_qr(token: str) -> Site | Asset | None:
    """The Site or Asset of a portal link's token (current or former), or None when forged."""
    return stickers.target_from_token(token)


def qr_path(obj: Site | Asset) -> str:
    from django.urls import reverse

    return reverse("portal:qr", args=[sign_qr(obj)])


# ---- rate limits ---------------------------------------------------------------------------

def check_rate(scope: str, address: str) -> None:
    """Count this request; refuse (Forbidden -> 429 in the views) past the limit."""
    limit, window = rate_limits().get(scope, (60, 60))
    t = now()
    recent = PortalHit.objects.filter(scope=scope, address=address, at__gte=t - timedelta(seconds=window)).count()
    if recent >= limit:
        raise RateLimited(_("Too many requests from your network. Please wait a little and try again."))
    PortalHit.objects.create(scope=scope, address=address, at=t)
    if secrets.randbelow(200) == 0:  # prune now and then
        PortalHit.objects.filter(at__lt=t - timedelta(days=1)).delete()


class RateLimited(DomainError):
    def __init__(self, message: str):
        super().__init__(message, 429, "rate_limited")


# ---- tracking --------------------------------------------------------------------------------

def ensure_tracking(wo: WorkOrder, *, created: bool = False) -> TrackingLink:
    """The work order's tracking link, made on first use. `created`: the work order was created in
    this transaction (its create's effect), so it has none yet: nothing to look up."""
    link = None if created else TrackingLink.objects.filter(work_order=wo).first()
    if link is None:
        link = TrackingLink.objects.create(work_order=wo, token=secrets.token_urlsafe(32), created_at=now())
    return link


def tracking_path(wo: WorkOrder) -> str:
    from django.urls import reverse

    return reverse("portal:track", args=[ensure_tracking(wo).token])


def tracking_url(wo: WorkOrder) -> str:
    """Absolute tracking link (settings.SITE_URL / CLOSELOOP_SITE_URL, else the company's public
    URL from the first run, else relative)."""
    from closeloop.core.site import site_url

    base = site_url()
    return base + tracking_path(wo)


def work_order_by_token(token: str) -> WorkOrder | None:
    if not token or len(token) > 64:
        return None
    link = TrackingLink.objects.select_related(
        "work_order", "work_order__assignee", "work_order__site", "work_order__asset", "work_order__customer",
        "work_order__wo_type").filter(token=token).first()
    return link.work_order if link else None


def _on_create(ctx) -> None:
    ensure_tracking(ctx.wo, created=ctx.created)


NOTIFY_STEPS = {
    "accept": "portal.accepted",
    "depart": "portal.on_the_way",
    "arrive": "portal.arrived",
    "complete": "portal.done",
}


def _notify_step(ctx) -> None:
    """Tell the requester at key steps (accepted, on the way, arrived, done)."""
    wo = ctx.wo
    event = NOTIFY_STEPS.get(ctx.transition.action if ctx.transition else "")
    if not event or not wo.contact_id:
        return
    from closeloop.notify import messages as texts
    from closeloop.notify.services import notify

    messages = {
        "portal.accepted": gettext_noop("Your request %(code)s was accepted by %(name)s."),
        "portal.on_the_way": gettext_noop("%(name)s is on the way for %(code)s."),
        "portal.arrived": gettext_noop("%(name)s has arrived for %(code)s."),
        "portal.done": gettext_noop("%(code)s is done. Please confirm and rate the work."),
    }
    name = str(wo.assignee) if wo.assignee_id else ""
    notify(key=f"portal:{wo.pk}:{ctx.transition.action}:{wo.version}", event=event, work_order=wo,
           recipients=[{"contact": wo.contact_id}], message=texts.text(messages[event], code=wo.code, name=name),
           context={"url": tracking_url(wo), "engineer": name, "status": wo.status}, public=True)


def register_hooks() -> None:
    from closeloop.workorders.lifecycle import register_effect

    register_effect("create", _on_create, phase="notifications")
    for action in NOTIFY_STEPS:
        register_effect(action, _notify_step, phase="notifications")


# ---- who acts for an anonymous visitor ------------------------------------------------------------

def portal_actor(customer: Customer) -> User:
    username = f"portal+{customer.code}"[:150]
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, role=Role.CUSTOMER, customer=customer,
                    display_name=(_("Customer portal (%(org)s)") % {"org": customer.name})[:100])
        user.set_unusable_password()
        user.save()
    return user


# ---- report a problem -------------------------------------------------------------------------------

def default_type() -> WorkOrderType | None:
    key = getattr(settings, "PORTAL_WORK_ORDER_TYPE", os.environ.get("CLOSELOOP_PORTAL_TYPE", "repair"))
    return (WorkOrderType.objects.filter(key=key, active=True).first()
            or WorkOrderType.objects.filter(active=True, kind="repair").order_by("id").first()
            or WorkOrderType.objects.filter(active=True).order_by("id").first())


def report_fields(wo_type: WorkOrderType | None, place=None) -> list:
    """The custom fields the public report form asks for: the required ones of the type it
    files (a public form must ask for what its type requires, or the filing fails where
    the visitor cannot see why). An asset field is filled from the scanned asset instead."""
    from closeloop.workorders.fields import definitions
    from closeloop.workorders.models import FieldKind

    if wo_type is None:
        return []
    return [f for f in definitions(wo_type)
            if f.required and not (f.kind == FieldKind.ASSET and isinstance(place, Asset))]


def _clean_phone(problems, phone: str, required: bool) -> str:
    phone = compact_phone(phone)
    if required and not phone:
        problems.append(FieldProblem("phone", _("Give a phone number so the engineer can reach you."), "required"))
    elif phone and (len(phone) > 20 or not phone.lstrip("+").isdigit() or len(phone) < 5):
        problems.append(FieldProblem("phone", _("Not a phone number."), "invalid"))
    return phone


def do_report(*, actor: User | None, what: str, place: Site | Asset | None = None, asset: str = "",
              site: str = "", phone: str = "", name: str = "", photo=None, custom: dict | None = None) -> WorkOrder:
    """Create a work order from the portal's five fields and the required custom fields of
    its type (`custom`, see report_fields). `actor` is the logged-in customer account, or
    None for an anonymous visitor who came through a QR link (`place`). Every problem is
    reported at once, custom fields as `custom.<key>`."""
    problems: list[FieldProblem] = []
    what = (what or "").strip()
    if not what:
        problems.append(FieldProblem("what", _("Tell us what is wrong."), "required"))
    elif len(what) > WHAT_MAX:
        problems.append(FieldProblem("what", _("At most %(n)d characters.") % {"n": WHAT_MAX}, "too_long"))
    name = (name or "").strip()[:NAME_MAX]
    phone = _clean_phone(problems, phone, required=actor is None)
    if actor is None and place is None:
        raise Forbidden(_("Scan the QR code on the equipment or site, or log in."))
    customer = place.customer if place is not None else actor.customer
    if actor is not None and (actor.role != Role.CUSTOMER or actor.customer_id is None):
        raise Forbidden(_("Only a customer account reports problems here."))
    if place is not None and actor is not None and place.customer_id != actor.customer_id:
        place = None  # a sticker of another organisation: ignore it, file for the account's own
    data: dict = {}
    if isinstance(place, Asset):
        data["asset"] = place.serial_number
        if place.site_id:
            data["site"] = place.site.code
    elif isinstance(place, Site):
        data["site"] = place.code
    if place is None and actor is not None:
        if asset:
            a = Asset.objects.filter(customer_id=actor.customer_id, serial_number=asset).first()
            if a is None:
                problems.append(FieldProblem("asset", _("No equipment with this serial number."), "not_found"))
            else:
                data["asset"] = a.serial_number
        if site:
            s = Site.objects.filter(customer_id=actor.customer_id, code=site).first()
            if s is None:
                problems.append(FieldProblem("site", _("No such site."), "not_found"))
            else:
                data["site"] = s.code
    wo_type = default_type()
    if wo_type is None:
        problems.append(FieldProblem("what", _("Reporting is not set up yet (no work order type).")))
    else:
        from closeloop.workorders.fields import clean_custom, definitions
        from closeloop.workorders.models import FieldKind

        asked = {f.key for f in report_fields(wo_type, place)}
        values = {k: v for k, v in (custom or {}).items() if k in asked}
        for f in definitions(wo_type):  # an equipment field is the equipment reported on
            if f.kind == FieldKind.ASSET and f.key not in values and data.get("asset"):
                values[f.key] = data["asset"]
        try:
            data["custom"] = clean_custom(wo_type, values)
        except ValidationFailed as e:
            problems.extend(e.problems)
    if problems:
        raise ValidationFailed(problems)
    first_line = what.splitlines()[0].strip()
    title = first_line if len(first_line) <= 60 else first_line[:59] + "…"
    data.update(type=wo_type.key, title=title, description=what)
    with transaction.atomic():
        contact = _find_contact(customer, phone, name, actor)
        if contact is not None:
            data["contact"] = contact.pk
        by = actor or portal_actor(customer)
        wo = wo_services.do_create_work_order(actor=by, data=data)
        timeline.append_event(wo, TimelineEvent.Kind.PORTAL, actor=by, public=True, data={
            "via": "qr" if place is not None else "account",
            "place": getattr(place, "code", None) or getattr(place, "serial_number", None)})
        ensure_tracking(wo)
        if photo is not None:
            do_add_attachment(actor=by, wo=wo, upload=photo, public=True)
    return wo


def _find_contact(customer: Customer, phone: str, name: str, actor: User | None) -> Contact | None:
    if not phone and actor is not None:
        phone = actor.phone
    if not phone:
        return None
    contact = Contact.objects.filter(customer=customer, phone=phone).order_by("id").first()
    if contact is None:
        contact = Contact.objects.create(customer=customer, phone=phone,
                                         name=name or (str(actor) if actor else phone))
    return contact


# ---- confirm, sign, rate, reopen ----------------------------------------------------------------

def may_reopen(wo: WorkOrder) -> bool:
    if wo.status not in (S.RESOLVED, S.CONFIRMED, S.CLOSED):
        return False
    done = wo.resolved_at or wo.closed_at
    return done is not None and now() - done <= timedelta(days=reopen_days())


def do_confirm(*, actor: User | None, wo: WorkOrder, rating, comment: str = "", signer_name: str = "",
               image_png: bytes | None = None, version: int | None = None) -> WorkOrder:
    """The customer confirms the work: e-signature (via field work's signature service),
    rating 1-5 and an optional comment, then the `confirm` action."""
    problems: list[FieldProblem] = []
    try:
        stars = int(rating)
        if not 1 <= stars <= 5:
            raise ValueError
    except (TypeError, ValueError):
        problems.append(FieldProblem("rating", _("Choose 1 to 5 stars."), "required"))
        stars = None
    comment = (comment or "").strip()
    if len(comment) > 2000:
        problems.append(FieldProblem("comment", _("At most %(n)d characters.") % {"n": 2000}))
    signer_name = (signer_name or "").strip()[:NAME_MAX]
    if not signer_name:
        problems.append(FieldProblem("signer_name", _("Type your name to sign."), "required"))
    if not image_png:
        problems.append(FieldProblem("signature", _("Sign in the box with your finger or mouse."), "required"))
    elif not image_png.startswith(b"\x89PNG\r\n\x1a\n") or len(image_png) > 512 * 1024:
        problems.append(FieldProblem("signature", _("The signature image is not a PNG (at most 512 KB).")))
    if problems:
        raise ValidationFailed(problems)
    if wo.status != S.RESOLVED:
        raise Conflict(_("This work order is not waiting for your confirmation."), current_state=wo.status,
                       version=wo.version)
    by = actor or portal_actor(wo.customer)
    with transaction.atomic():
        from closeloop.fieldwork.services import do_record_signature

        do_record_signature(wo, signer_name=signer_name, image_png=image_png,
                            version=wo.version if version is None else version, actor=by, via="portal")
        wo.refresh_from_db()
        data = {"rating": stars, "note": comment[:2000]} if comment else {"rating": stars}
        wo_services.do_transition(actor=by, wo=wo, action="confirm", data=data)
        Feedback.objects.update_or_create(work_order=wo, defaults={
            "rating": stars, "comment": comment, "signer_name": signer_name, "at": now(), "via": "portal"})
        timeline.append_event(wo, TimelineEvent.Kind.PORTAL, actor=by, public=True, data={
            "rating": stars, "comment": comment, "signer_name": signer_name, "signed": True})
    return wo


def do_reopen(*, actor: User | None, wo: WorkOrder, reason: str) -> WorkOrder:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(FieldProblem("reason", _("Tell us what is still wrong."), "required"))
    if not may_reopen(wo):
        raise Conflict(_("This work order can no longer be reopened here; please report a new problem."),
                       current_state=wo.status, version=wo.version)
    by = actor or portal_actor(wo.customer)
    return wo_services.do_transition(actor=by, wo=wo, action="reopen", data={"reason": reason[:2000]})


def demo_line(*, qr_url: str | None, track_url: str | None, code: str | None) -> str:
    """The line `closeloop demo` prints for the portal scenario (closeloop/portal/demo.py)."""
    parts = []
    if qr_url:
        parts.append(_("scan %(url)s (equipment passport, report a problem)") % {"url": qr_url})
    if track_url:
        parts.append(_("track %(code)s at %(url)s") % {"code": code, "url": track_url})
    if not parts:
        return _("Customer portal: no assets or work orders to show.")
    return _("Customer portal: %(what)s") % {"what": "; ".join(parts)}


def panel_context(request, wo: WorkOrder) -> dict | None:
    """The work order page's portal card: the requester's tracking link and their rating.
    Staff only (a customer account has the portal itself)."""
    if request.user.role == Role.CUSTOMER:
        return None
    return {"track_url": request.build_absolute_uri(tracking_path(wo)),
            "feedback": Feedback.objects.filter(work_order=wo).first()}
