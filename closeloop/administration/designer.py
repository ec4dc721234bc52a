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
from closeloop.workorders import types_selectors, types_services
from closeloop.workorders.fields import all_definitions, phone_fields
from closeloop.workorders.forms import WorkOrderCreateForm
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


def designer_context(request, wo_type: WorkOrderType, *, add_form=None) -> dict:
    fields = all_definitions(wo_type)
    in_use = set()
    for f in fields:
        if not f.active or types_services.field_in_use(f):
            in_use.add(f.key)
    return {
        "designer": True,
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
