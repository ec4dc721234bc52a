"""Custom field values: validated against the type's CustomField rows.

One definition drives the create form, the API (values under `custom`), list
filters and validation here, so no code changes when an admin adds a field.

A deactivated field (removed in the designer while work orders hold values for it)
is offered by no form and takes no new value, but the values already stored stay
on their work orders and keep its label (`all_definitions`). Photo and signature
fields are evidence taken on the engineer's phone, not values under `custom`.
"""

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from closeloop.core.errors import FieldProblem, ValidationFailed

from .models import EVIDENCE_KINDS, CustomField, FieldKind, WorkOrderType

MAX_TEXT = 5000


def all_definitions(wo_type: WorkOrderType) -> list[CustomField]:
    """Every field of the type, deactivated ones included (to label old values)."""
    cached = getattr(wo_type, "_field_defs", None)
    if cached is None:
        cached = list(wo_type.fields.all())
        wo_type._field_defs = cached
    return cached


def definitions(wo_type: WorkOrderType) -> list[CustomField]:
    """The type's fields in use, in order."""
    return [f for f in all_definitions(wo_type) if f.active]


def value_definitions(wo_type: WorkOrderType) -> list[CustomField]:
    """The fields in use that hold a typed value (not photo or signature evidence)."""
    return [f for f in definitions(wo_type) if f.kind not in EVIDENCE_KINDS]


def _clean_one(f: CustomField, value):
    """Returns the JSON-storable value, or raises ValueError with a message."""
    from django.contrib.auth import get_user_model

    from closeloop.customers.models import Asset

    if f.kind == FieldKind.TEXT:
        if not isinstance(value, str):
            raise ValueError(_("Must be text."))
        limit = f.max_length or MAX_TEXT
        if len(value) > limit:
            raise ValueError(_("At most %(n)d characters.") % {"n": limit})
        if f.pattern and not re.fullmatch(f.pattern, value):
            raise ValueError(_("Does not match the required format."))
        return value
    if f.kind == FieldKind.NUMBER:
        if isinstance(value, bool):
            raise ValueError(_("Must be a number."))
        try:
            num = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(_("Must be a number."))
        if not num.is_finite():
            raise ValueError(_("Must be a number."))
        if f.min_value is not None and num < f.min_value:
            raise ValueError(_("Must be at least %(v)s.") % {"v": format(f.min_value.normalize(), "f")})
        if f.max_value is not None and num > f.max_value:
            raise ValueError(_("Must be at most %(v)s.") % {"v": format(f.max_value.normalize(), "f")})
        return int(num) if num == num.to_integral_value() and abs(num) < 2**53 else float(num)
    if f.kind == FieldKind.CHOICE:
        if value not in (f.choices or []):
            raise ValueError(_("Must be one of: %(c)s.") % {"c": ", ".join(map(str, f.choices or []))})
        return value
    if f.kind == FieldKind.DATE:
        if isinstance(value, date):
            return value.isoformat()
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ValueError(_("Must be a date (YYYY-MM-DD)."))
    if f.kind == FieldKind.BOOLEAN:
        if isinstance(value, bool):
            return value
        if value in ("true", "on", "1", 1):
            return True
        if value in ("false", "off", "0", 0):
            return False
        raise ValueError(_("Must be true or false."))
    if f.kind == FieldKind.USER:
        model = get_user_model()
        if not model.objects.filter(username=str(value), is_active=True).exists():
            raise ValueError(_("No such user."))
        return str(value)
    if f.kind == FieldKind.ASSET:
        if not Asset.objects.filter(serial_number=str(value)).exists():
            raise ValueError(_("No asset with this serial number."))
        return str(value)
    raise ValueError(_("Unsupported field kind."))


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def clean_custom(wo_type: WorkOrderType, data: dict | None, *, existing: dict | None = None) -> dict:
    """Validate `data` (possibly partial when `existing` is given) and return the
    merged values. Every problem is reported at once, named `custom.<key>`."""
    data = dict(data or {})
    every = {f.key: f for f in all_definitions(wo_type)}
    defs = {f.key: f for f in value_definitions(wo_type)}
    problems: list[FieldProblem] = []
    for key in list(data):
        if key in defs:
            continue
        f = every.get(key)
        if f is not None and not f.active and existing is not None and data[key] == existing.get(key):
            data.pop(key)  # an old value sent back unchanged (a client echoing what it read) is kept as is
        elif f is not None and not f.active:
            problems.append(FieldProblem(f"custom.{key}", _("This field is no longer used by type %(t)s.")
                                         % {"t": wo_type.key}, "inactive"))
        elif f is not None:
            problems.append(FieldProblem(f"custom.{key}", _("Photos and signatures are taken on the engineer's "
                                                            "phone."), "evidence"))
        else:
            problems.append(FieldProblem(f"custom.{key}", _("Unknown field for type %(t)s.") % {"t": wo_type.key},
                                         "unknown"))
    result = dict(existing or {})
    for key, f in defs.items():
        if key in data:
            value = data[key]
            if _empty(value):
                result.pop(key, None)
                continue
            try:
                result[key] = _clean_one(f, value)
            except ValueError as e:
                problems.append(FieldProblem(f"custom.{key}", str(e)))
    for key, f in defs.items():
        if f.required and _empty(result.get(key)) and not any(p.field == f"custom.{key}" for p in problems):
            problems.append(FieldProblem(f"custom.{key}", _("This field is required."), "required"))
    if problems:
        raise ValidationFailed(problems)
    return result


def phone_fields(fields: list[CustomField], values: dict) -> list[dict]:
    """What the engineer's phone shows for each field in use (fieldwork's phone page and the designer's
    preview render the same list): its value, and how it is filled in."""
    def num(d):
        return format(d.normalize(), "f") if d is not None else ""

    out = []
    for f in fields:
        if not f.active:
            continue
        v = values.get(f.key, "")
        out.append({"key": f.key, "label": f.label, "kind": f.kind, "required": f.required,
                    "help_text": f.help_text, "unit": f.unit, "choices": list(f.choices or []),
                    "min": num(f.min_value), "max": num(f.max_value),
                    "value": "" if v is None else v, "evidence": f.kind in EVIDENCE_KINDS})
    return out
