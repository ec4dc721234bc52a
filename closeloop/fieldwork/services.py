"""Every write of field work: closure forms, signatures, photos, check-ins, steps, parts.
Each public do_* is one transaction with its timeline event (and outbox rows)."""

import base64
import hashlib
import io
import secrets
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from closeloop.accounts.models import Role
from closeloop.audit.services import record_change, snapshot
from closeloop.core.clock import now
from closeloop.core.errors import Conflict, FieldProblem, Forbidden, NotFound, ValidationFailed
from closeloop.parts import selectors as parts_selectors
from closeloop.parts import services as parts_services
from closeloop.parts.models import Part
from closeloop.workorders import mainline, permissions, timeline
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import TimelineEvent, WorkOrder
from closeloop.workorders.services import apply_transition

from . import gates, repeats
from .models import ClosureForm, ClosurePolicy, PartUsed, Signature, SignatureLink, StepResult

SIGNABLE_STATES = (S.RESOLVED, S.CONFIRMED, S.INVOICED)
#: Field work (photos, steps, parts, form) is recorded while the work is under way or just finished.
WORKING_STATES = (S.ACCEPTED, S.EN_ROUTE, S.ON_SITE, S.IN_PROGRESS, S.WAITING_CUSTOMER, S.WAITING_PARTS, S.RESOLVED)
MAX_SIGNATURE_BYTES = 300 * 1024
SIGNATURE_LINK_DAYS = 7


def may_do_field_work(user, wo) -> bool:
    """The assigned engineer, or dispatch staff / admin."""
    return user is not None and (user.is_superuser or user.role in permissions.EDITOR_ROLES
                                 or (user.role == Role.ENGINEER and permissions.is_assignee(user, wo)))


def _require_field_work(actor, wo):
    if not may_do_field_work(actor, wo):
        raise Forbidden(_("Only the assigned engineer or a dispatcher may record field work."))
    if wo.status not in WORKING_STATES:
        raise Conflict(_("Field work cannot be recorded on a work order that is %(s)s.") % {"s": wo.status_label},
                       current_state=wo.status, version=wo.version)


def _touch(wo, t):
    """Field work changes what a signature covers: bump the version (the ETag) like any edit."""
    WorkOrder.objects.filter(pk=wo.pk).update(updated_at=t, version=F("version") + 1)
    wo.version += 1
    wo.updated_at = t


# ---- gate policy ------------------------------------------------------------------------

POLICY_FIELDS = {"required_photos", "form_fields", "checklist", "require_signature", "require_invoice", "auto_close",
                 "checkin_radius_m"}
FORM_KINDS = ("number", "text", "boolean")


def _slug_list(problems, name, value, max_items=20):
    if not isinstance(value, list) or len(value) > max_items or not all(
            isinstance(v, str) and 0 < len(v.strip()) <= 40 for v in value):
        problems.append(FieldProblem(name, _("A list of at most %(n)d short names.") % {"n": max_items}))
        return []
    return [v.strip() for v in value]


def clean_policy(data: dict) -> dict:
    problems = [FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(set(data) - POLICY_FIELDS)]
    out: dict = {}
    if "required_photos" in data:
        out["required_photos"] = _slug_list(problems, "required_photos", data["required_photos"])
    if "checklist" in data:
        v = data["checklist"]
        if not isinstance(v, list) or len(v) > 50 or not all(isinstance(s, str) and 0 < len(s.strip()) <= 200
                                                             for s in v):
            problems.append(FieldProblem("checklist", _("A list of at most 50 steps of up to 200 characters.")))
        else:
            out["checklist"] = [s.strip() for s in v]
    if "form_fields" in data:
        fields = []
        v = data["form_fields"]
        if not isinstance(v, list) or len(v) > 30:
            problems.append(FieldProblem("form_fields", _("A list of at most 30 fields.")))
            v = []
        keys = set()
        for i, f in enumerate(v):
            name = f"form_fields[{i}]"
            if not isinstance(f, dict) or not isinstance(f.get("key"), str) or not f["key"].strip() \
                    or len(f["key"]) > 40 or f["key"] in keys:
                problems.append(FieldProblem(name, _("Each field needs a unique key of up to 40 characters.")))
                continue
            kind = f.get("kind", "number")
            if kind not in FORM_KINDS:
                problems.append(FieldProblem(name + ".kind", _("Must be one of: %(c)s.") % {"c": ", ".join(FORM_KINDS)}))
                continue
            keys.add(f["key"])
            clean = {"key": f["key"].strip(), "label": str(f.get("label") or f["key"])[:100], "kind": kind,
                     "unit": str(f.get("unit") or "")[:20], "required": bool(f.get("required", True))}
            for bound in ("min", "max"):
                if f.get(bound) is not None:
                    try:
                        clean[bound] = float(f[bound])
                    except (TypeError, ValueError):
                        problems.append(FieldProblem(f"{name}.{bound}", _("Must be a number.")))
            fields.append(clean)
        out["form_fields"] = fields
    for flag in ("require_signature", "require_invoice", "auto_close"):
        if flag in data:
            if not isinstance(data[flag], bool):
                problems.append(FieldProblem(flag, _("Must be true or false.")))
            else:
                out[flag] = data[flag]
    if "checkin_radius_m" in data:
        r = data["checkin_radius_m"]
        if not isinstance(r, int) or isinstance(r, bool) or not 10 <= r <= 100000:
            problems.append(FieldProblem("checkin_radius_m", _("A whole number of metres from 10 to 100000.")))
        else:
            out["checkin_radius_m"] = r
    if problems:
        raise ValidationFailed(problems)
    return out


def do_set_policy(*, actor, wo_type, data: dict) -> ClosurePolicy:
    if not (actor.is_superuser or actor.role in (Role.ADMIN, Role.MANAGER)):
        raise Forbidden(_("Only an administrator or a manager may configure closure gates."))
    clean = clean_policy(data)
    with transaction.atomic():
        policy, created = ClosurePolicy.objects.get_or_create(wo_type=wo_type)
        before = None if created else snapshot(policy)
        for k, v in clean.items():
            setattr(policy, k, v)
        policy.save()
        record_change(actor=actor, kind="closure_policy", obj=policy, obj_id=wo_type.key, label=wo_type.name,
                      before=before, after=snapshot(policy))
    return policy


# ---- closure form -------------------------------------------------------------------------

def clean_form(policy: ClosurePolicy | None, data: dict) -> dict:
    if not isinstance(data, dict):
        raise ValidationFailed(FieldProblem("data", _("Must be an object of field values.")))
    defs = {f["key"]: f for f in (policy.form_fields if policy else [])}
    problems = [FieldProblem(k, _("Not a field of this closure form."), "unknown") for k in sorted(set(data) - set(defs))]
    out = {}
    for key, f in defs.items():
        v = data.get(key)
        if v in (None, ""):
            if f.get("required", True):
                problems.append(FieldProblem(key, _("This field is required."), "required"))
            continue
        if f["kind"] == "number":
            try:
                num = Decimal(str(v))
                if not num.is_finite():
                    raise InvalidOperation
            except (InvalidOperation, ValueError):
                problems.append(FieldProblem(key, _("Must be a number.")))
                continue
            if "min" in f and num < Decimal(str(f["min"])) or "max" in f and num > Decimal(str(f["max"])):
                problems.append(FieldProblem(key, _("Must be between %(lo)s and %(hi)s.")
                                             % {"lo": f.get("min", "-"), "hi": f.get("max", "-")}, "range"))
                continue
            out[key] = float(num) if num != num.to_integral_value() else int(num)
        elif f["kind"] == "boolean":
            if not isinstance(v, bool):
                problems.append(FieldProblem(key, _("Must be true or false.")))
                continue
            out[key] = v
        else:
            if not isinstance(v, str) or len(v) > 500:
                problems.append(FieldProblem(key, _("Text of at most 500 characters.")))
                continue
            out[key] = v.strip()
    if problems:
        raise ValidationFailed(problems)
    return out


def do_submit_closure_form(*, actor, wo, data: dict) -> ClosureForm:
    _require_field_work(actor, wo)
    clean = clean_form(gates.policy_for(wo), data)
    with transaction.atomic():
        t = now()
        form, _created = ClosureForm.objects.update_or_create(
            work_order=wo, defaults={"data": clean, "submitted_by": actor, "submitted_at": t})
        timeline.append_event(wo, TimelineEvent.Kind.GATE, actor=actor, at=t, data={"closure_form": clean})
        _touch(wo, t)
    return form


# ---- signatures -------------------------------------------------------------------------------

def _clean_png(problems, image_png) -> bytes:
    from PIL import Image

    if not isinstance(image_png, bytes | bytearray) or not image_png:
        problems.append(FieldProblem("image_png", _("A PNG image is required."), "required"))
        return b""
    if len(image_png) > MAX_SIGNATURE_BYTES:
        problems.append(FieldProblem("image_png", _("At most %(n)d KB.") % {"n": MAX_SIGNATURE_BYTES // 1024},
                                     "too_large"))
        return b""
    if not bytes(image_png).startswith(b"\x89PNG\r\n\x1a\n"):
        problems.append(FieldProblem("image_png", _("Must be a PNG image."), "type"))
        return b""
    try:
        with Image.open(io.BytesIO(image_png)) as im:
            if im.width * im.height > 4_000_000 or im.width > 4000 or im.height > 4000:
                raise ValueError("too large")
            im.verify()
        with Image.open(io.BytesIO(image_png)) as im:
            im.load()
            out = io.BytesIO()
            im.convert("RGBA").save(out, "PNG", optimize=True)  # re-encoded: no text chunks survive
            return out.getvalue()
    except Exception:
        problems.append(FieldProblem("image_png", _("Not a readable PNG image of at most 4000×4000."), "invalid"))
        return b""


def do_record_signature(wo, *, signer_name: str, image_png: bytes, version: int, actor=None,
                        via: str = "device") -> Signature:
    """Record the customer's signature over `wo` as it was at `version`.

    Refused (409, naming `version`) when the work order changed since the signer saw it,
    and (409, naming `image_png`) when the same signature image was already used, on this
    or another work order (a replay). The signature covers the signed content's hash; an
    edit of that content afterwards voids it for the delivery gate."""
    if actor is not None and not (may_do_field_work(actor, wo) or permissions.is_own_customer(actor, wo)):
        raise Forbidden(_("You may not collect a signature on this work order."))
    problems: list[FieldProblem] = []
    name = (signer_name or "").strip() if isinstance(signer_name, str) else ""
    if not name:
        problems.append(FieldProblem("signer_name", _("This field is required."), "required"))
    elif len(name) > 100:
        problems.append(FieldProblem("signer_name", _("At most %(n)d characters.") % {"n": 100}, "too_long"))
    if via not in ("device", "link", "portal"):
        problems.append(FieldProblem("via", _("Must be one of: %(c)s.") % {"c": "device, link, portal"}))
    if not isinstance(version, int) or isinstance(version, bool):
        problems.append(FieldProblem("version", _("The work order version the signer saw is required."), "required"))
    raw_sha = hashlib.sha256(bytes(image_png)).hexdigest() if isinstance(image_png, bytes | bytearray) else ""
    png = _clean_png(problems, image_png)
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        current = WorkOrder.objects.select_for_update(of=("self",)).select_related("customer", "site", "asset").get(
            pk=wo.pk)
        if current.version != version:
            raise Conflict(_("The work order changed since it was shown for signing (now version %(v)d); "
                             "show it again and sign the current version.") % {"v": current.version},
                           field="version", version=current.version, current_state=current.status)
        if current.status not in SIGNABLE_STATES:
            raise Conflict(_("A signature is collected once the work is technically complete; "
                             "this work order is %(s)s.") % {"s": current.status_label},
                           field="status", current_state=current.status, version=current.version)
        if Signature.objects.filter(image_sha256=raw_sha).exists():
            raise Conflict(_("This signature was already used; the customer must sign again."), field="image_png")
        t = now()
        content = gates.signed_content(current)
        digest = gates.content_hash(content)
        try:
            with transaction.atomic():
                sig = Signature.objects.create(
                    work_order=current, signer_name=name, image_png=png, image_sha256=raw_sha, version=version,
                    content_hash=digest, content={**content, "version": version}, via=via, actor=actor,
                    created_at=t)
        except IntegrityError:
            raise Conflict(_("This signature was already used; the customer must sign again."), field="image_png")
        timeline.append_event(current, TimelineEvent.Kind.SIGNATURE, actor=actor, at=t, public=True, data={
            "signature_id": sig.pk, "signer": name, "via": via, "version": version, "content_hash": digest})
        WorkOrder.objects.filter(pk=current.pk).update(updated_at=t)  # signing is not an edit: same version
    return sig


def do_sign_and_confirm(wo, *, signer_name: str, image_png: bytes, version: int, actor=None,
                        via: str = "device") -> Signature:
    """The customer signs (on the engineer's phone or through a link): record the signature
    and, when the work order waits for it, take the "confirm" step for the customer."""
    with transaction.atomic():
        sig = do_record_signature(wo, signer_name=signer_name, image_png=image_png, version=version, actor=actor,
                                  via=via)
        current = WorkOrder.objects.select_related("customer", "site", "asset", "assignee").get(pk=wo.pk)
        if current.status == S.RESOLVED and mainline.wo_uses(current, "confirm"):
            apply_transition(actor=actor, wo=current, action="confirm",
                             data={"note": _("Signed by %(n)s (%(via)s)") % {"n": sig.signer_name, "via": via}})
    return sig


def decode_png(value) -> bytes:
    """base64 (optionally a data: URL) → bytes, for the JSON API."""
    if not isinstance(value, str) or not value:
        raise ValidationFailed(FieldProblem("image_png", _("A PNG image is required."), "required"))
    if value.startswith("data:"):
        value = value.split(",", 1)[-1]
    if len(value) > MAX_SIGNATURE_BYTES * 4 // 3 + 8:
        raise ValidationFailed(FieldProblem("image_png", _("At most %(n)d KB.") % {"n": MAX_SIGNATURE_BYTES // 1024},
                                            "too_large"))
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise ValidationFailed(FieldProblem("image_png", _("Not valid base64."), "invalid"))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def do_send_signature_link(*, actor, wo, contact=None, base_url: str = "") -> tuple[SignatureLink, str]:
    """A one-time signing link for the customer, sent through the notify contract.
    Returns the link row and the clear token (shown once)."""
    from closeloop.notify import messages as texts
    from closeloop.notify.services import notify

    if not may_do_field_work(actor, wo):
        raise Forbidden(_("Only the assigned engineer or a dispatcher may request a signature."))
    if wo.status not in SIGNABLE_STATES:
        raise Conflict(_("A signature is collected once the work is technically complete; "
                         "this work order is %(s)s.") % {"s": wo.status_label}, current_state=wo.status)
    contact = contact or wo.contact
    if contact is None:
        raise ValidationFailed(FieldProblem("contact", _("The work order has no contact to send the link to."),
                                            "required"))
    if contact.customer_id != wo.customer_id:
        raise ValidationFailed(FieldProblem("contact", _("Belongs to another customer."), "mismatch"))
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        t = now()
        link = SignatureLink.objects.create(work_order=wo, token_hash=_token_hash(token), contact=contact,
                                            created_by=actor, created_at=t,
                                            expires_at=t + timedelta(days=SIGNATURE_LINK_DAYS))
        url = f"{base_url.rstrip('/')}/sign/{token}/"
        notify(key=f"signature-link:{link.pk}", event="signature.requested", work_order=wo,
               recipients=[{"contact": contact.pk}], context={"url": url}, public=True,
               message=texts.text(gettext_noop("Please review and sign work order %(c)s: %(u)s"), c=wo.code, u=url))
        timeline.append_event(wo, TimelineEvent.Kind.SIGNATURE, actor=actor, at=t, data={
            "link_sent_to": contact.name, "expires_at": link.expires_at.isoformat()})
    return link, token


def link_for_token(token: str) -> SignatureLink:
    link = SignatureLink.objects.select_related("work_order", "work_order__customer", "work_order__site",
                                                "work_order__asset").filter(
        token_hash=_token_hash(token or "")).first()
    if link is None or link.used_at is not None or link.expires_at <= now():
        raise NotFound(_("This signing link is invalid, used or expired."))
    return link


def do_sign_by_link(*, token: str, signer_name: str, image_png: bytes, version: int) -> Signature:
    with transaction.atomic():
        link = link_for_token(token)
        if SignatureLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=now()) != 1:
            raise NotFound(_("This signing link is invalid, used or expired."))
        return do_sign_and_confirm(link.work_order, signer_name=signer_name, image_png=image_png, version=version,
                                   actor=None, via="link")


# ---- steps and parts -------------------------------------------------------------------------

def steps_for(wo) -> list[str]:
    policy = gates.policy_for(wo)
    if policy and policy.checklist:
        return list(policy.checklist)
    return list(wo.wo_type.process_steps or [])


class FollowUpNotOpened(ValidationFailed):
    """422: the failed step is recorded, but its follow-up work order could not be opened
    (its type requires fields the parent has no value for). Each problem is named
    `followup_custom.<key>`: send the step again with `followup_custom` to open it."""

    def __init__(self, step: StepResult, problems: list[FieldProblem]):
        named = [FieldProblem(f"followup_{p.field}" if p.field.startswith("custom.") else f"followup.{p.field}",
                              p.message, p.code) for p in problems]
        super().__init__(named, _("The failed step is recorded, but the follow-up work order was not opened: "
                                  "%(p)s. Give these values and record the step again.") % {
            "p": "; ".join(f"{p.field}: {p.message}" for p in problems)})
        self.step = step
        self.extra = {"step_recorded": True, "index": step.index}


def do_record_step(*, actor, wo, index: int, result: str, note: str = "", followup: bool = False,
                   followup_custom: dict | None = None) -> StepResult:
    """Record one checklist / process step. A failed step may open a follow-up work order
    (same type, customer, site, asset, priority and custom field values; linked as its child);
    `followup_custom` gives or overrides custom values of the follow-up. When the follow-up
    cannot be opened (its type requires a value nobody gave), the step is still recorded and
    FollowUpNotOpened (422) names the fields."""
    from closeloop.workorders import services as wo_services
    from closeloop.workorders.models import LinkKind, WorkOrderLink

    _require_field_work(actor, wo)
    steps = steps_for(wo)
    problems = []
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(steps):
        problems.append(FieldProblem("index", _("No such step.")))
    if result not in StepResult.Result.values:
        problems.append(FieldProblem("result", _("Must be one of: %(c)s.") % {"c": ", ".join(StepResult.Result.values)}))
    if not isinstance(note, str) or len(note) > 2000:
        problems.append(FieldProblem("note", _("At most %(n)d characters.") % {"n": 2000}))
    if followup and result != StepResult.Result.FAIL:
        problems.append(FieldProblem("followup", _("Only a failed step opens a follow-up work order.")))
    if followup_custom is not None and not isinstance(followup_custom, dict):
        problems.append(FieldProblem("followup_custom", _("An object of custom field values.")))
    if problems:
        raise ValidationFailed(problems)
    followup_problems: list[FieldProblem] = []
    with transaction.atomic():
        t = now()
        child = None
        if followup:
            from closeloop.workorders.fields import definitions

            keys = {f.key for f in definitions(wo.wo_type)}
            custom = {k: v for k, v in (wo.custom or {}).items() if k in keys}  # the parent's values
            custom.update(followup_custom or {})
            data = {"type": wo.wo_type.key, "title": (_("Follow-up: %(s)s") % {"s": steps[index]})[:200],
                    "description": note or "", "priority": wo.priority, "custom": custom}
            if wo.customer_id:
                data["customer"] = wo.customer.code
            if wo.site_id:
                data["site"] = wo.site.code
            if wo.asset_id:
                data["asset"] = wo.asset.serial_number
            token = repeats.SUPPRESS.set(True)  # a follow-up is not a repeat of its parent
            try:
                with transaction.atomic():  # a savepoint: the step is recorded even if this fails
                    child = wo_services.do_create_work_order(actor=actor, data=data)
            except ValidationFailed as e:
                followup_problems = e.problems
                child = None
            finally:
                repeats.SUPPRESS.reset(token)
            if child is not None:
                WorkOrderLink.objects.create(source=child, target=wo, kind=LinkKind.PARENT, created_at=t,
                                             created_by=actor)
                timeline.append_events([
                    timeline.new_event(child, TimelineEvent.Kind.LINK, actor=actor, at=t,
                                       data={"kind": LinkKind.PARENT, "target": wo.code}),
                    timeline.new_event(wo, TimelineEvent.Kind.LINK, actor=actor, at=t,
                                       data={"kind": LinkKind.PARENT, "source": child.code})])
        step, _created = StepResult.objects.update_or_create(
            work_order=wo, index=index, defaults={"label": steps[index], "result": result, "note": note.strip(),
                                                  "followup": child, "actor": actor, "at": t})
        timeline.append_event(wo, TimelineEvent.Kind.GATE, actor=actor, at=t,
                              data={"step": steps[index], "index": index, "result": result, "note": note.strip(),
                                    **({"followup": child.code} if child else {}),
                                    **({"followup_missing": [p.field for p in followup_problems]}
                                       if followup_problems else {})})
        _touch(wo, t)
    if followup_problems:
        raise FollowUpNotOpened(step, followup_problems)
    return step


def do_add_part(*, actor, wo, name: str, quantity, part_number: str = "", key: str | None = None) -> PartUsed:
    """Record a part used. A part number of the catalogue draws it from the engineer's van
    (the recorder's, else the assignee's) in the same transaction: refused with a 409 naming
    the part and the van when the van holds less. `key` (the phone's operation id) makes a
    replay return the first record without drawing again."""
    _require_field_work(actor, wo)
    if key is not None and (not isinstance(key, str) or not key or len(key) > 150):
        raise ValidationFailed(FieldProblem("key", _("At most %(n)d characters.") % {"n": 150}))
    op_key = f"{wo.pk}:{key}" if key else None
    if op_key:
        done = PartUsed.objects.filter(op_key=op_key).first()
        if done is not None:
            return done
    problems = []
    if not isinstance(part_number, str) or len(part_number) > 60:
        problems.append(FieldProblem("part_number", _("At most %(n)d characters.") % {"n": 60}))
        part_number = ""
    catalogue = Part.objects.filter(number=part_number.strip(), is_active=True).first() if part_number.strip() else None
    if catalogue is not None and isinstance(name, str) and not name.strip():
        name = catalogue.name
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        problems.append(FieldProblem("name", _("A part name of up to 200 characters is required."), "required"))
    try:
        qty = Decimal(str(quantity))
        if not qty.is_finite() or qty <= 0 or qty > 100000:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        problems.append(FieldProblem("quantity", _("A positive number.")))
        qty = None
    if problems:
        raise ValidationFailed(problems)
    qty = qty.quantize(Decimal("0.01"))
    with transaction.atomic():
        t = now()
        movement = None
        if catalogue is not None:
            van = parts_selectors.van_of(actor) or parts_selectors.van_of(wo.assignee)
            if van is not None:
                movement = parts_services.issue_to_work_order(
                    actor=actor, part=catalogue, location=van, qty=qty, work_order=wo,
                    key=f"fieldwork:{op_key}" if op_key else None)
        try:
            with transaction.atomic():
                part = PartUsed.objects.create(work_order=wo, name=name.strip(), part_number=part_number.strip(),
                                               quantity=qty, actor=actor, at=t, part=catalogue, movement=movement,
                                               op_key=op_key)
        except IntegrityError:  # the same operation, replayed at the same instant
            return PartUsed.objects.get(op_key=op_key)
        timeline.append_event(wo, TimelineEvent.Kind.GATE, actor=actor, at=t,
                              data={"part": part.name, "part_number": part.part_number, "quantity": str(part.quantity),
                                    **({"from": movement.source.code} if movement else {})})
        _touch(wo, t)
    return part


# ---- review of flagged evidence ------------------------------------------------------------

def do_review_evidence(*, actor, wo, note: str = "") -> int:
    """A dispatcher or manager looked at the flagged check-ins and photos: mark them reviewed
    (the flags stay on record). Returns how many items were marked."""
    from .models import CheckIn, Photo

    if not (actor.is_superuser or actor.role in permissions.EDITOR_ROLES):
        raise Forbidden(_("Only dispatchers, managers and administrators review evidence."))
    if not isinstance(note, str) or len(note) > 2000:
        raise ValidationFailed(FieldProblem("note", _("At most %(n)d characters.") % {"n": 2000}))
    with transaction.atomic():
        t = now()
        items = []
        for model, label in ((CheckIn, "checkin"), (Photo, "photo")):
            for obj in model.objects.select_for_update().filter(work_order=wo, reviewed_at__isnull=True).exclude(
                    flags=[]):
                obj.reviewed_by, obj.reviewed_at = actor, t
                obj.save(update_fields=["reviewed_by", "reviewed_at"])
                items.append(f"{label}:{obj.pk}")
        if items:
            timeline.append_event(wo, TimelineEvent.Kind.EVIDENCE, actor=actor, at=t,
                                  data={"reviewed": items, "note": note.strip()})
    return len(items)
