"""Pages of field work: the engineer's phone (/m/), photo and report downloads,
printable QR codes, and the customer's signing page reached through a link."""

import io
import json
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from closeloop.core.access import MANAGERS, refuse
from closeloop.core.errors import DomainError, NotFound
from closeloop.workorders import mainline, permissions
from closeloop.workorders.fields import definitions, phone_fields
from closeloop.workorders.lifecycle import S

from . import evidence, gates, report, selectors, services
from .models import Photo, StepResult, photo_kind_label


def _wo_or_404(request, code):
    try:
        return selectors.access_for_field(request.user, code)
    except NotFound:
        raise Http404(_("No such work order."))


def call_link(wo) -> dict | None:
    """Tap-to-call for the work order's contact (else the customer's number): a tel: URI."""
    contact = wo.contact if wo.contact_id else None
    customer = wo.customer if wo.customer_id else None
    phone = (contact.phone if contact else "") or (customer.phone if customer else "")
    digits = re.sub(r"[^\d+]", "", phone or "")
    if not digits:
        return None
    name = contact.name if contact and contact.phone else (customer.name if customer else "")
    return {"name": name, "phone": phone, "href": f"tel:{digits}"}


def route_link(site) -> str:
    """Navigation to the site as a geo: URI (RFC 5870): the phone offers the map apps it has
    (Amap, Baidu, Apple or Google Maps...), so no provider is chosen for the engineer. From the
    site's coordinates when it has them, else from its address."""
    if site is None:
        return ""
    if site.latitude is not None and site.longitude is not None:
        lat, lon = f"{float(site.latitude):.6f}", f"{float(site.longitude):.6f}"
        return f"geo:{lat},{lon}?q={lat},{lon}({quote(site.name)})"
    if site.address:
        return f"geo:0,0?q={quote(site.address)}"
    return ""


@login_required
@require_GET
def phone_home(request):
    if request.user.role != "engineer":
        return redirect("workorders:home")
    return render(request, "fieldwork/mobile/home.html", {"items": list(selectors.todays_work(request.user)[:100])})


@login_required
@require_GET
def phone_work_order(request, code):
    wo = _wo_or_404(request, code)
    if not services.may_do_field_work(request.user, wo):
        raise Http404(_("No such work order."))
    policy = gates.policy_for(wo)
    steps = services.steps_for(wo)
    results = {s.index: s for s in StepResult.objects.filter(work_order=wo)}
    form = getattr(wo, "closure_form", None) if hasattr(wo, "closure_form") else None
    form_data = form.data if form else {}
    photo_kinds = list(policy.required_photos) if policy else []
    details = phone_fields(definitions(wo.wo_type), wo.custom or {})
    field_labels = {d["key"]: d["label"] for d in details if d["kind"] == "photo"}  # the type's photo fields
    for extra in [d["key"] for d in details if d["kind"] == "photo"] + ["before", "after", "other"]:
        if extra not in photo_kinds:
            photo_kinds.append(extra)
    actions = [t.action for t in permissions.allowed_actions(request.user, wo)]
    return render(request, "fieldwork/mobile/work_order.html", {
        "details": details, "details_editable": permissions.may_edit(request.user, wo),
        "wo": wo, "policy": policy, "gates": gates.evaluate(wo, policy),
        "steps": [{"index": i, "label": label, "result": results.get(i)} for i, label in enumerate(steps)],
        "form_fields": [{**f, "value": form_data.get(f["key"], "")} for f in (policy.form_fields if policy else [])],
        "photo_kinds": [(k, field_labels.get(k) or photo_kind_label(k)) for k in photo_kinds], "photos": list(Photo.objects.filter(work_order=wo)),
        "parts": list(wo.parts_used.all()), "van_stock": _van_stock(request.user),
        "actions": actions,
        # The type's main line: without travel, no check-in card, and work starts from accepted.
        "travel": mainline.wo_uses(wo, "travel"),
        "start_here": "start" in actions and (wo.status == S.ON_SITE or not mainline.wo_uses(wo, "travel")),
        "signature": wo.signatures.order_by("-id").first(),
        "call": call_link(wo), "route": route_link(wo.site if wo.site_id else None),
    })


def _van_stock(user) -> list:
    """What the engineer's van holds (the part number field offers it)."""
    from closeloop.parts.models import Stock
    from closeloop.parts.selectors import van_of

    van = van_of(user)
    if van is None:
        return []
    return list(Stock.objects.filter(location=van, quantity__gt=0).select_related("part").order_by("part__number"))


@require_GET
def manifest(request):
    data = {
        "name": "closeloop " + _("Field work"), "short_name": "closeloop", "start_url": "/m/", "scope": "/m/",
        "display": "standalone", "background_color": "#ffffff", "theme_color": "#206bc4",
        "icons": [{"src": reverse("fieldwork:icon", args=[s]), "sizes": f"{s}x{s}", "type": "image/png",
                   "purpose": "any maskable"} for s in (192, 512)],
    }
    return JsonResponse(data, content_type="application/manifest+json", json_dumps_params={"ensure_ascii": False})


@lru_cache(maxsize=4)
def _icon(size: int) -> bytes:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (size, size), (32, 107, 196))
    d = ImageDraw.Draw(im)
    m, w = size // 5, max(4, size // 12)
    d.arc([m, m, size - m, size - m], start=40, end=340, fill=(255, 255, 255), width=w)
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


@require_GET
def icon(request, size):
    if size not in (192, 512):
        raise Http404()
    resp = HttpResponse(_icon(size), content_type="image/png")
    resp["Cache-Control"] = "public, max-age=86400"
    return resp


@require_GET
def service_worker(request):
    """Served from /m/ so its scope covers the phone pages; the code is our own bundle."""
    path = Path(settings.BASE_DIR) / "static" / "dist" / "mobile-sw.js"
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        raise Http404()
    resp = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    resp["Cache-Control"] = "no-cache"
    return resp


@login_required
@require_GET
def photo(request, photo_id):
    try:
        p = selectors.access_photo(request.user, photo_id)
    except NotFound:
        raise Http404()
    resp = FileResponse(p.file.open("rb"), content_type="image/jpeg")
    resp["Content-Security-Policy"] = "default-src 'none'"
    resp["Cache-Control"] = "private, max-age=3600"
    return resp


@login_required
@require_GET
def report_pdf(request, code):
    wo = _wo_or_404(request, code)
    return report.pdf_response(wo, request.user)


@login_required
@require_GET
def qr_page(request, kind, code):
    """A printable sheet with the site's or asset's signed QR code (staff)."""
    if kind not in ("site", "asset"):
        raise Http404()
    try:
        obj = selectors.qr_target(request.user, kind, code)
    except NotFound:
        raise Http404()
    fmt = request.GET.get("format")
    if fmt in ("svg", "png"):
        resp = HttpResponse(evidence.qr_image(obj, fmt), content_type="image/svg+xml" if fmt == "svg" else "image/png")
        if request.GET.get("download"):
            resp["Content-Disposition"] = f'attachment; filename="qr-{kind}-{code}.{fmt}"'
        return resp
    return render(request, "fieldwork/qr.html", {"obj": obj, "kind": kind, "code": code,
                                                 "payload": evidence.qr_payload(obj)})


@require_http_methods(["GET", "POST"])
def sign_by_link(request, token):
    """The customer's signing page, reached through the one-time link (no login)."""
    try:
        link = services.link_for_token(token)
    except NotFound:
        return render(request, "fieldwork/sign.html", {"invalid": True}, status=404)
    wo = link.work_order
    if request.method == "POST":
        try:
            payload = json.loads(request.body or b"{}")
            services.do_sign_by_link(token=token, signer_name=payload.get("signer_name"),
                                     image_png=services.decode_png(payload.get("image_png")),
                                     version=payload.get("version"))
        except (ValueError, TypeError):
            return JsonResponse({"detail": _("Invalid request.")}, status=400)
        except DomainError as e:
            return JsonResponse({"detail": str(e.message), "errors": [p.as_dict() for p in e.problems]},
                                status=e.status)
        return JsonResponse({"ok": True}, status=201)
    return render(request, "fieldwork/sign.html", {
        "wo": wo, "link": link, "parts": list(wo.parts_used.all()),
        "steps": list(StepResult.objects.filter(work_order=wo)),
    })


@login_required
@require_http_methods(["POST"])
def send_signature_link(request, code):
    from django.contrib import messages

    wo = _wo_or_404(request, code)
    try:
        services.do_send_signature_link(actor=request.user, wo=wo, base_url=request.build_absolute_uri("/")[:-1])
        messages.success(request, _("A signing link was sent to %(c)s.") % {"c": wo.contact.name})
    except DomainError as e:
        messages.error(request, str(e.message))
    return redirect("workorders:detail", code=wo.code)


def _policy_text(policy) -> dict:
    if policy is None:
        return {"required_photos": "", "checklist": "", "form_fields": "", "require_signature": False,
                "require_invoice": False, "auto_close": True, "checkin_radius_m": 500}
    lines = []
    for f in policy.form_fields:
        lines.append("|".join(str(x) for x in (f["key"], f.get("label", ""), f.get("kind", "number"),
                                               f.get("unit", ""), f.get("min", ""), f.get("max", ""))))
    return {"required_photos": ", ".join(policy.required_photos), "checklist": "\n".join(policy.checklist),
            "form_fields": "\n".join(lines), "require_signature": policy.require_signature,
            "require_invoice": policy.require_invoice, "auto_close": policy.auto_close,
            "checkin_radius_m": policy.checkin_radius_m}


def _policy_from_post(post) -> dict:
    fields = []
    for line in (post.get("form_fields") or "").splitlines():
        parts = [p.strip() for p in line.split("|")]
        if not parts or not parts[0]:
            continue
        parts += [""] * (6 - len(parts))
        f = {"key": parts[0], "label": parts[1] or parts[0], "kind": parts[2] or "number", "unit": parts[3]}
        for name, raw in (("min", parts[4]), ("max", parts[5])):
            if raw:
                f[name] = raw
        fields.append(f)
    radius = post.get("checkin_radius_m") or "500"
    return {
        "required_photos": [p.strip() for p in (post.get("required_photos") or "").replace("，", ",").split(",")
                            if p.strip()],
        "checklist": [s.strip() for s in (post.get("checklist") or "").splitlines() if s.strip()],
        "form_fields": fields,
        "require_signature": post.get("require_signature") == "on",
        "require_invoice": post.get("require_invoice") == "on",
        "auto_close": post.get("auto_close") == "on",
        "checkin_radius_m": int(radius) if radius.isdigit() else -1,
    }


@login_required
@require_http_methods(["GET", "POST"])
def gate_policies(request):
    """Closure gates per work order type (administrators and managers)."""
    from django.contrib import messages

    from closeloop.workorders.models import WorkOrderType

    from .models import ClosurePolicy

    if not (request.user.is_superuser or request.user.role in ("admin", "manager")):
        refuse(MANAGERS)
    errors: dict = {}
    posted_key = None
    if request.method == "POST":
        posted_key = request.POST.get("type")
        wo_type = WorkOrderType.objects.filter(key=posted_key).first()
        if wo_type is None:
            raise Http404()
        try:
            services.do_set_policy(actor=request.user, wo_type=wo_type, data=_policy_from_post(request.POST))
            messages.success(request, _("Closure gates of %(t)s saved.") % {"t": wo_type.name})
            return redirect("fieldwork:gate_policies")
        except DomainError as e:
            errors = {posted_key: [p.as_dict() for p in e.problems] or [{"field": "", "message": str(e.message)}]}
    policies = {p.wo_type_id: p for p in ClosurePolicy.objects.all()}
    rows = []
    for t in WorkOrderType.objects.filter(active=True).order_by("name"):
        values = _policy_text(policies.get(t.pk))
        if t.key == posted_key and errors:
            values = {**values, **{k: request.POST.get(k, "") for k in ("required_photos", "checklist",
                                                                        "form_fields", "checkin_radius_m")}}
        rows.append({"type": t, "values": values, "errors": errors.get(t.key, []),
                     "configured": t.pk in policies})
    from .models import PHOTO_KIND_LABELS

    return render(request, "fieldwork/gate_policies.html", {
        "rows": rows, "photo_kinds": [(k, str(v)) for k, v in PHOTO_KIND_LABELS.items()],
    }, status=422 if errors else 200)


@login_required
@require_http_methods(["POST"])
def review_evidence(request, code):
    from django.contrib import messages

    wo = _wo_or_404(request, code)
    try:
        n = services.do_review_evidence(actor=request.user, wo=wo, note=request.POST.get("note", ""))
        messages.success(request, _("%(n)d flagged item(s) marked reviewed.") % {"n": n})
    except DomainError as e:
        messages.error(request, str(e.message))
    return redirect("workorders:detail", code=wo.code)
