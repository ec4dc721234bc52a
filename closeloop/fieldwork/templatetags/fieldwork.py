"""`{% load fieldwork %}`: what people see for field work keys (photo kinds, closure form fields)."""

from django import template
from django.utils.translation import gettext as _

from closeloop.fieldwork.models import photo_kind_label

register = template.Library()


@register.filter
def photo_kind(kind) -> str:
    return photo_kind_label(str(kind or ""))


@register.simple_tag
def closure_form_rows(wo, values) -> list[dict]:
    """A submitted closure form as label/value pairs: the field's label from the type's closure
    policy (its key only for a field since removed), yes/no for a boolean, a number with its unit."""
    from closeloop.fieldwork.gates import policy_for

    if not isinstance(values, dict) or not values:
        return []
    policy = policy_for(wo) if getattr(wo, "wo_type_id", None) else None
    defs = {f.get("key"): f for f in (policy.form_fields if policy else []) if isinstance(f, dict)}
    rows = []
    for key, value in values.items():
        f = defs.get(key, {})
        if isinstance(value, bool):
            text = _("Yes") if value else _("No")
        elif value is None or value == "":
            text = "—"
        else:
            text = f"{value} {f.get('unit', '')}".strip()
        rows.append({"key": key, "label": f.get("label") or key, "value": text})
    return rows
