"""The form designer of a work order type (Settings → Work order types → a type).

Fields are added, edited, reordered (drag and drop, static/src/type-designer.js) and removed through
workorders.types_services, the API's own services: a field that work orders already hold values for is
deactivated, not deleted, so old work orders keep showing their values. The preview renders the three
forms the type drives — the console's create form, the engineer's phone form and what closing needs —
from the saved fields plus, while one is being typed, the unsaved draft (nothing is written for it)."""

import json
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from closeloop.core.errors import DomainError, NotFound
from closeloop.fieldwork.models import ClosurePolicy
from closeloop.workorders import mainline, types_selectors, types_services
from closeloop.workorders.fields import all_definitions, phone_fields
from closeloop.workorders.forms import WorkOrderCreateForm
from closeloop.workorders.lifecycle import STATE_LABELS, S
from closeloop.workorders.models import EVIDENCE_KINDS, CustomField, FieldKind, WorkOrderType

from . import forms


def _type(request, ref: str) -> WorkOrderType:
    if not types_services.may_manage_types(request.user):
        raise Http404()
    try:
        return types_selectors.access_type(request.user, ref)
    except NotFound:
        raise Http404() from None


def _field(wo_type: WorkOrderType, key: str) -> CustomField:
    f = CustomField.objects.filter(wo_type=wo_type, key=key).first()
    if f is None:
        raise Http404()
    return f


def field_data(post, *, partial: bool = False) -> dict:
    """The designer's inputs as the service's data: only what applies to the chosen kind."""
    kind = (post.get("kind") or "text").strip()
    data = {"label": (post.get("label") or "").strip(), "kind": kind, "required": post.get("required") in ("on", "1"),
            "help_text": (post.get("help_text") or "").strip()}
    key = (post.get("key") or "").strip()
    if key or not partial:
        data["key"] = key
    if kind == FieldKind.NUMBER:
        data["unit"] = (post.get("unit") or "").strip()
        for name in ("min_value", "max_value"):
            v = (post.get(name) or "").strip().replace("，", ".")
            data[name] = v or None
    if kind == FieldKind.CHOICE:
        data["choices"] = [line.strip() for line in (post.get("choices") or "").replace("，", "\n").splitlines()
                           if line.strip()]
    return data


def field_initial(f: CustomField) -> dict:
    def num(d):
        return format(d.normalize(), "f") if d is not None else ""

    return {"label": f.label, "key": f.key, "kind": f.kind, "required": f.required, "help_text": f.help_text,
            "unit": f.unit, "min_value": num(f.min_value), "max_value": num(f.max_value),
            "choices": "\n".join(f.choices or [])}


def _draft(wo_type: WorkOrderType, post) -> CustomField | None:
    """An unsaved field from the add form's inputs, for the live preview (lenient: bad numbers are ignored)."""
    data = field_data(post)
    if not data["label"]:
        return None
    if data["kind"] not in FieldKind.values:
        data["kind"] = FieldKind.TEXT
    nums = {}
    for name in ("min_value", "max_value"):
        try:
            nums[name] = Decimal(data.get(name)) if data.get(name) else None
        except InvalidOperation:
            nums[name] = None
    return CustomField(wo_type=wo_type, key=data["key"] or "draft", label=data["label"][:100], kind=data["kind"],
                       required=data["required"], help_text=data["help_text"][:200],
                       unit=data.get("unit", "")[:20], choices=data.get("choices", [])[:100], **nums)


def preview_context(request, wo_type: WorkOrderType, draft: CustomField | None = None) -> dict:
    fields = [f for f in all_definitions(wo_type) if f.active]
    if draft is not None:
        fields = [f for f in fields if f.key != draft.key] + [draft]
    shadow = WorkOrderType(pk=wo_type.pk, key=wo_type.key, name=wo_type.name, kind=wo_type.kind,
                           prefix=wo_type.prefix, description=wo_type.description,
                           process_steps=wo_type.process_steps)
    shadow._field_defs = fields
    create_form = WorkOrderCreateForm(user=request.user, wo_type=shadow, initial={"type": wo_type.key})
    policy = ClosurePolicy.objects.filter(wo_type=wo_type).first()
    evidence = [f for f in fields if f.kind in EVIDENCE_KINDS]
    return {
        "wo_type": wo_type, "create_form": create_form, "details": phone_fields(fields, {}),
        "closure": {
            "photos": [f for f in evidence if f.kind == FieldKind.PHOTO],
            "signatures": [f for f in evidence if f.kind == FieldKind.SIGNATURE],
            "required_values": [f for f in fields if f.required and f.kind not in EVIDENCE_KINDS],
            "policy": policy,
        },
    }


# ---- the main line (workorders.mainline) -------------------------------------------------------

def line_preview(wo_type: WorkOrderType, stages: list[str]) -> dict:
    """What a line means, for the editor's preview: the states a work order goes through, the
    buttons on the engineer's phone, the closure gates kept or skipped and what meets the SLA's
    first response; with the problems that would refuse saving it (nothing is written)."""
    clean, problems = mainline.clean_stages(stages)
    used = set(clean or [s for s in stages if s in mainline.BY_KEY]) if isinstance(stages, list) else set()
    states = [S.NEW] + ([S.ASSIGNED] if "accept" in used else []) + [S.ACCEPTED]
    states += [S.EN_ROUTE, S.ON_SITE] if "travel" in used else []
    states += [S.IN_PROGRESS, S.RESOLVED] + ([S.CONFIRMED] if "confirm" in used else [])
    states += ([S.INVOICED] if "invoice" in used else []) + [S.CLOSED]
    phone = ([_("Accept")] if "accept" in used else []) + ([_("Depart"), _("Arrive (scan the code)")]
                                                           if "travel" in used else [])
    phone += [_("Start work"), _("Complete")] + ([_("Customer signs")] if "confirm" in used else [])
    policy = ClosurePolicy.objects.filter(wo_type=wo_type).first()
    signature_field = CustomField.objects.filter(wo_type=wo_type, active=True, required=True,
                                                 kind=FieldKind.SIGNATURE).exists()
    gates = []
    if (policy and policy.require_signature) or signature_field:
        gates.append({"label": _("Customer signature"), "kept": "confirm" in used,
                      "why": _("no customer confirmation in the line")})
    if policy and policy.require_invoice:
        gates.append({"label": _("Invoice number"), "kept": "invoice" in used, "why": _("no invoice in the line")})
    return {
        "line_stages": [mainline.BY_KEY[k] for k in (clean or [])],
        "line_problems": [{"field": f, "message": m} for f, m, _c in problems],
        "line_states": [STATE_LABELS[x] for x in states], "line_phone": phone, "line_gates": gates,
        "line_response": (_("depart or arrive on site (the SLA policy's response actions)") if "travel" in used
                          else _("starting the work (there is no travel)")),
        "line_dispatch": "dispatch" in used,
    }


def line_context(wo_type: WorkOrderType, *, stages: list[str] | None = None, process_steps=None) -> dict:
    """The editor: the blocks in the line (draft or saved), the palette of the blocks left out, the
    approval points and handoffs at their stage, and the preview."""
    saved = list(mainline.stages_of(wo_type))
    draft = saved if stages is None else [s for s in stages if s in mainline.BY_KEY]
    pts = mainline.points(wo_type)
    blocks = [{"stage": mainline.BY_KEY[k], "points": [p for p in pts if p["stage"] == k]}
              for k in dict.fromkeys(draft)]
    steps = list(wo_type.process_steps or []) if process_steps is None else process_steps
    return {
        "line_blocks": blocks,
        "line_palette": [s for s in mainline.STAGES if s.key not in draft],
        "line_other_points": [p for p in pts if p["stage"] not in draft],
        "line_steps": steps, "line_steps_text": "\n".join(steps),
        "line_save_url": reverse("administration:type_main_line", args=[wo_type.key]),
        "line_preview_url": reverse("administration:type_main_line_preview", args=[wo_type.key]),
        "line_api_url": f"/api/v1/work-order-types/{wo_type.key}/main-line",
        **line_preview(wo_type, stages if stages is not None else saved),
    }


def _line_input(post) -> tuple[list[str], list[str] | None]:
    stages = [s.strip() for s in post.getlist("stages") if s.strip()]
    steps = None
    if "process_steps" in post:
        steps = [line.strip() for line in post.get("process_steps", "").splitlines() if line.strip()]
    return stages, steps


@login_required
@require_POST
def main_line_save(request, ref: str):
    """The editor's Save: the stages in the order of the blocks, and the execution's process steps."""
    wo_type = _type(request, ref)
    stages, steps = _line_input(request.POST)
    data = {"stages": stages} | ({"process_steps": steps} if steps is not None else {})
    try:
        types_services.do_set_main_line(actor=request.user, wo_type=wo_type, data=data)
    except DomainError as e:
        from .views import render_edit

        messages.error(request, _("The main line was not saved: %(problems)s") % {"problems": _problems(e)})
        return render_edit(request, "types", types_selectors.access_type(request.user, ref),
                           line={"stages": stages, "process_steps": steps}, status=422)
    messages.success(request, _("Saved the main line of %(type)s.") % {"type": wo_type.name})
    return redirect(reverse("administration:edit", args=["types", wo_type.key]) + "?tab=line")


@login_required
@require_POST
def main_line_preview(request, ref: str):
    """The preview of the blocks as they are now arranged (nothing is written); 422 with the problems
    that would refuse saving them."""
    wo_type = _type(request, ref)
    stages, _steps = _line_input(request.POST)
    ctx = {"wo_type": wo_type, **line_preview(wo_type, stages)}
    return render(request, "administration/_main_line_preview.html", ctx, status=422 if ctx["line_problems"] else 200)


def designer_context(request, wo_type: WorkOrderType, *, add_form=None, line=None) -> dict:
    fields = all_definitions(wo_type)
    in_use = set()
    for f in fields:
        if not f.active or types_services.field_in_use(f):
            in_use.add(f.key)
    line_tab = line is not None or request.GET.get("tab") == "line"
    return {
        "designer": True, "line_tab": line_tab,
        **(line_context(wo_type, **(line or {})) if line_tab else {}),
        "fields": [{"f": f, "form": forms.FieldForm(initial=field_initial(f), prefix=f"f-{f.key}"),
                    "in_use": f.key in in_use} for f in fields],
        "add_form": add_form or forms.FieldForm(initial={"kind": FieldKind.TEXT}),
        "order_url": reverse("administration:type_fields_order", args=[wo_type.key]),
        "preview_url": reverse("administration:type_preview", args=[wo_type.key]),
        **preview_context(request, wo_type),
    }


def _back(wo_type: WorkOrderType):
    return redirect(reverse("administration:edit", args=["types", wo_type.key]) + "#designer")


def _problems(e: DomainError) -> str:
    if not e.problems:
        return str(e)
    return " ".join(f"{p.field}: {p.message}" if p.field else str(p.message) for p in e.problems)


@login_required
@require_POST
def field_add(request, ref: str):
    wo_type = _type(request, ref)
    try:
        f = types_services.do_create_field(actor=request.user, wo_type=wo_type, data=field_data(request.POST))
    except DomainError as e:
        from .views import render_edit

        form = forms.FieldForm(request.POST)
        form.is_valid()
        forms.apply_problems(form, e)
        messages.error(request, _("The field was not added: see the problems below."))
        return render_edit(request, "types", wo_type, add_form=form, status=422)
    messages.success(request, _("Added the field %(label)s.") % {"label": f.label})
    return _back(wo_type)


@login_required
@require_POST
def field_edit(request, ref: str, field: str):
    wo_type = _type(request, ref)
    f = _field(wo_type, field)
    if request.POST.get("restore") == "1":
        data = {"active": True}
    else:
        prefixed = {k.removeprefix(f"f-{f.key}-"): v for k, v in request.POST.items()}
        data = field_data(prefixed, partial=True)
    try:
        types_services.do_update_field(actor=request.user, field=f, data=data)
    except DomainError as e:
        messages.error(request, _("%(label)s was not saved: %(problems)s") % {"label": f.label,
                                                                             "problems": _problems(e)})
    else:
        messages.success(request, _("Saved the field %(label)s.") % {"label": f.label})
    return _back(wo_type)


@login_required
@require_POST
def field_remove(request, ref: str, field: str):
    wo_type = _type(request, ref)
    f = _field(wo_type, field)
    try:
        outcome = types_services.do_remove_field(actor=request.user, field=f)
    except DomainError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, (_("Removed the field %(label)s.") if outcome == "deleted" else
                                   _("Deactivated the field %(label)s: work orders hold values for it, they stay "
                                     "readable.")) % {"label": f.label})
    return _back(wo_type)


@login_required
@require_POST
def fields_order(request, ref: str):
    """The new order after a drag (JSON {"keys": [...]} or form keys=…); answers the refreshed preview."""
    wo_type = _type(request, ref)
    if request.content_type == "application/json":
        try:
            keys = json.loads(request.body or b"{}").get("keys")
        except (ValueError, AttributeError):
            keys = None
    else:
        keys = request.POST.getlist("keys")
    try:
        types_services.do_reorder_fields(actor=request.user, wo_type=wo_type, keys=keys)
    except DomainError as e:
        return render(request, "administration/_type_preview.html",
                      {**preview_context(request, types_selectors.access_type(request.user, ref)),
                       "preview_error": _problems(e)}, status=422)
    return render(request, "administration/_type_preview.html",
                  preview_context(request, types_selectors.access_type(request.user, ref)))


@login_required
def preview(request, ref: str):
    """The three forms; a POST carries the add form's unsaved inputs (the live preview; nothing is written)."""
    wo_type = _type(request, ref)
    draft = _draft(wo_type, request.POST) if request.method == "POST" else None
    return render(request, "administration/_type_preview.html", preview_context(request, wo_type, draft))
