"""Closure gates: technical evidence, customer signature, invoice number.

`evaluate(wo)` says, for each gate the work order's type requires, whether it passes,
what is missing, and who satisfied it when. `close_guard` (registered on the "close"
action in apps.py) refuses a close while a required gate is open, whatever the path
(console, API, rules, any creation path): they all close through services.do_transition.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from closeloop.core.errors import DomainError, FieldProblem

from .models import (
    ClosureForm,
    ClosurePolicy,
    GateKind,
    PartUsed,
    Photo,
    Signature,
    StepResult,
    photo_kind_label,
)

GATE_LABELS = {
    GateKind.TECHNICAL: gettext_lazy("Technical"),
    GateKind.DELIVERY: gettext_lazy("Customer signature"),
    GateKind.FINANCIAL: gettext_lazy("Invoice number"),
}


@dataclass
class GateStatus:
    gate: str
    required: bool
    passed: bool
    missing: list[str] = field(default_factory=list)
    by: str = ""
    at: datetime | None = None

    @property
    def label(self):
        return GATE_LABELS[self.gate]

    def as_dict(self) -> dict:
        return {"gate": self.gate, "label": str(self.label), "required": self.required, "passed": self.passed,
                "missing": self.missing, "by": self.by, "at": self.at.isoformat() if self.at else None}


def policy_for(wo) -> ClosurePolicy | None:
    return ClosurePolicy.objects.filter(wo_type_id=wo.wo_type_id).first()


def signed_content(wo) -> dict:
    """What a customer's signature covers. Status and version are not part of it (later
    steps of the loop do not void a signature); an edit of any of these does."""
    form = ClosureForm.objects.filter(work_order=wo).first()
    return {
        "code": wo.code,
        "title": wo.title,
        "customer": wo.customer.code if wo.customer_id else None,
        "site": wo.site.code if wo.site_id else None,
        "asset": wo.asset.serial_number if wo.asset_id else None,
        "resolution": wo.resolution,
        "form": form.data if form else {},
        "parts": [[p.part_number, p.name, str(p.quantity)] for p in PartUsed.objects.filter(work_order=wo)],
        "steps": [[s.index, s.result] for s in StepResult.objects.filter(work_order=wo)],
        "photos": list(Photo.objects.filter(work_order=wo).order_by("id").values_list("sha256", flat=True)),
    }


def content_hash(content: dict) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _who(user) -> str:
    return (user.display_name or user.username) if user is not None else ""


def required_evidence(wo) -> tuple[list, list]:
    """The type's required photo fields and signature fields (the form designer's): each one is a
    closure requirement of its own, named by the field's label, with or without a ClosurePolicy."""
    from closeloop.workorders.fields import definitions
    from closeloop.workorders.models import FieldKind

    if not wo.wo_type_id:
        return [], []
    fields = [f for f in definitions(wo.wo_type) if f.required and f.kind in (FieldKind.PHOTO, FieldKind.SIGNATURE)]
    return ([f for f in fields if f.kind == FieldKind.PHOTO], [f for f in fields if f.kind == FieldKind.SIGNATURE])


_UNREAD = object()  # evaluate's policy when the caller has not read it (None: the type has none)


def evaluate(wo, policy: ClosurePolicy | None | object = _UNREAD) -> list[GateStatus]:
    """The gates of the work order's type: its ClosurePolicy's, plus the technical gate for each
    required photo field and the signature gate for a required signature field of the type;
    without the delivery gate when the type's main line has no customer confirmation, without
    the financial gate when it has no invoice (workorders.mainline)."""
    from closeloop.workorders import mainline

    policy = policy_for(wo) if policy is _UNREAD else policy
    photo_fields, signature_fields = required_evidence(wo)
    if policy is None and not photo_fields and not signature_fields:
        return []
    # A main line without customer confirmation / invoice skips the delivery / financial gate.
    confirm, invoice = mainline.wo_uses(wo, "confirm"), mainline.wo_uses(wo, "invoice")
    out: list[GateStatus] = []

    # Technical: required photo kinds (the policy's and the type's required photo fields), required
    # closure form fields, every checklist step recorded.
    if (policy is not None and policy.technical_required) or photo_fields:
        missing: list[str] = []
        stamps: list[tuple[datetime, object]] = []
        photos = {}
        for p in Photo.objects.filter(work_order=wo).select_related("uploaded_by"):
            photos.setdefault(p.kind, p)
        wanted = [(kind, photo_kind_label(kind)) for kind in (policy.required_photos if policy else [])]
        wanted += [(f.key, f.label) for f in photo_fields if f.key not in {k for k, _l in wanted}]
        for kind, label in wanted:
            if kind in photos:
                stamps.append((photos[kind].created_at, photos[kind].uploaded_by))
            else:
                missing.append(_("photo: %(k)s") % {"k": label})
        form_fields = policy.form_fields if policy else []
        form = ClosureForm.objects.filter(work_order=wo).select_related("submitted_by").first() if form_fields else None
        for f in form_fields:
            if f.get("required", True) and (form is None or form.data.get(f["key"]) in (None, "")):
                missing.append(_("form: %(f)s") % {"f": f.get("label") or f["key"]})
        if form is not None and form_fields:
            stamps.append((form.submitted_at, form.submitted_by))
        checklist = policy.checklist if policy else []
        steps = ({s.index: s for s in StepResult.objects.filter(work_order=wo).select_related("actor")}
                 if checklist else {})
        for i, label in enumerate(checklist):
            if i in steps:
                stamps.append((steps[i].at, steps[i].actor))
            else:
                missing.append(_("step: %(s)s") % {"s": label})
        last = max(stamps, key=lambda s: s[0]) if stamps and not missing else None
        out.append(GateStatus(GateKind.TECHNICAL, True, not missing, missing,
                              by=_who(last[1]) if last else "", at=last[0] if last else None))

    if confirm and ((policy is not None and policy.require_signature) or signature_fields):
        sig = Signature.objects.filter(work_order=wo).order_by("-id").first()
        if sig is None:
            named = [_("signature: %(f)s") % {"f": f.label} for f in signature_fields]
            out.append(GateStatus(GateKind.DELIVERY, True, False, named or [_("customer signature")]))
        elif sig.content_hash != content_hash(signed_content(wo)):
            out.append(GateStatus(GateKind.DELIVERY, True, False,
                                  [_("signature does not match the current work order (edited after signing)")]))
        else:
            out.append(GateStatus(GateKind.DELIVERY, True, True, by=sig.signer_name, at=sig.created_at))

    if invoice and policy is not None and policy.require_invoice:
        if wo.invoice_number:
            from closeloop.workorders.models import TimelineEvent

            ev = (TimelineEvent.objects.filter(work_order=wo, action="invoice").select_related("actor")
                  .order_by("-id").first())
            out.append(GateStatus(GateKind.FINANCIAL, True, True, by=_who(ev.actor) if ev else "",
                                  at=wo.invoiced_at))
        else:
            out.append(GateStatus(GateKind.FINANCIAL, True, False, [_("invoice number")]))
    return out


class GatesNotPassed(DomainError):
    """409 naming each open gate: `gates` the keys, `open_gates` each key with its translated
    label and what is missing (the same shape as workorders.lifecycle.StepsOpen)."""

    def __init__(self, open_gates: list[GateStatus], action: str = "close"):
        names = ", ".join(f"{g.label} ({'; '.join(g.missing)})" for g in open_gates)
        if action == "close":
            message = _("Cannot close: closure gates not passed: %(g)s.") % {"g": names}
        else:  # a gate that must pass before this step, which would make it unfixable
            message = _("Cannot %(a)s yet: complete first: %(g)s.") % {"a": ACTION_WORDS[action](), "g": names}
        super().__init__(message, 409, "gates_not_passed",
                         problems=[FieldProblem(f"gates.{g.gate}", "; ".join(g.missing), "gate") for g in open_gates],
                         extra={"gates": [g.gate for g in open_gates],
                                "open_gates": [{"gate": g.gate, "label": str(g.label), "missing": g.missing}
                                               for g in open_gates]})


ACTION_WORDS = {"confirm": lambda: _("confirm"), "invoice": lambda: _("invoice")}


def check_all_pass(wo) -> None:
    open_gates = [g for g in evaluate(wo) if g.required and not g.passed]
    if open_gates:
        raise GatesNotPassed(open_gates)


def close_guard(ctx) -> None:
    """lifecycle guard on "close" (and any transition whose target is closed), except the
    administrator's override_close, which closes past open gates with a recorded reason."""
    if ctx.to_state == "closed" and ctx.transition.action != "override_close":
        check_all_pass(ctx.wo)


def technical_before_guard(ctx) -> None:
    """lifecycle guard on "confirm" and "invoice": the technical gate (photos, closure form,
    checklist) must pass first. Field work cannot be recorded once the customer confirmed, so
    a confirmed or invoiced work order with the form missing could never close (issue 15)."""
    policy = policy_for(ctx.wo)
    if (policy is None or not policy.technical_required) and not required_evidence(ctx.wo)[0]:
        return
    open_gates = [g for g in evaluate(ctx.wo, policy) if g.gate == GateKind.TECHNICAL and not g.passed]
    if open_gates:
        raise GatesNotPassed(open_gates, ctx.transition.action)


#: wo_type_id -> (read at, close steps): pages ask close_steps for every card of a board or
#: list; a policy is read once per type for CLOSE_STEPS_SECONDS (emptied at once when one
#: is saved in this process). A stale answer cannot close work early: close_guard reads the
#: policy fresh in the closing transaction.
_close_steps_cache: dict[int, tuple[float, tuple[str, ...] | None]] = {}
CLOSE_STEPS_SECONDS = 5.0


def forget_close_steps(**_kw) -> None:
    _close_steps_cache.clear()


def close_steps(wo) -> tuple[str, ...] | None:
    """lifecycle.register_close_steps: the type's gates say which lifecycle steps come before
    close: a customer confirmation only with a signature gate, an invoice only with the
    invoice gate. A type without gates keeps the whole lifecycle (None)."""
    import time

    hit = _close_steps_cache.get(wo.wo_type_id)
    if hit is not None and time.monotonic() - hit[0] < CLOSE_STEPS_SECONDS:
        return hit[1]
    from django.db.models import Exists, OuterRef

    from closeloop.workorders.models import CustomField, FieldKind

    # One query: the policy, and whether the type has a required signature field (which asks for the
    # customer's confirmation as the policy's signature gate does).
    policy = (ClosurePolicy.objects.filter(wo_type_id=wo.wo_type_id)
              .annotate(signature_field=Exists(CustomField.objects.filter(
                  wo_type_id=OuterRef("wo_type_id"), active=True, required=True, kind=FieldKind.SIGNATURE)))
              .first())
    signature = policy is not None and (policy.require_signature or policy.signature_field)
    steps = None if policy is None else (
        (("confirm",) if signature else ()) + (("invoice",) if policy.require_invoice else ()))
    if len(_close_steps_cache) > 1000:
        _close_steps_cache.clear()
    _close_steps_cache[wo.wo_type_id] = (time.monotonic(), steps)
    return steps
