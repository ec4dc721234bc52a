"""Writes to work order types and their custom fields (administrators and managers).

A type's key and a field's key are public (API, imports, rule conditions such as
`custom.temperature > 200`), so they are checked strictly: a type key is a
lower-case slug, a field key a lower-case identifier unique within its type. The
code prefix is 1-4 upper-case letters and unique. A field definition must make
sense for its kind: choices for a choice field, min <= max for a number, a
pattern that compiles for text. Deleting a type refuses while work orders use it.
Deleting a field removes the definition only; values already stored on work
orders stay in their history. `do_remove_field` (the form designer's "remove")
deletes a field no work order holds a value for and deactivates one that has
values, so old work orders keep showing them under the field's label.
"""

import re
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, User
from closeloop.audit.services import record_change, snapshot
from closeloop.core.errors import FieldProblem, Forbidden, ValidationFailed
from closeloop.core.validation import Cleaner, delete_unreferenced

from . import mainline
from .models import CustomField, FieldKind, Kind, WorkOrder, WorkOrderType

TYPE_FIELDS = {"key", "name", "kind", "prefix", "description", "process_steps", "stages", "active"}
FIELD_FIELDS = {"key", "label", "kind", "required", "choices", "min_value", "max_value", "max_length", "pattern",
                "help_text", "unit", "order", "active"}

TYPE_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*\Z")
FIELD_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*\Z")
PREFIX_RE = re.compile(r"^[A-Z]{1,4}\Z")
MAX_STEPS = 50
MAX_CHOICES = 100
MAX_TEXT_LENGTH = 5000
NUMBER_LIMIT = Decimal("99999999999999")  # max_digits=18, decimal_places=4
NUMBER_STEP = Decimal("0.0001")

#: Which definition attributes apply to which kinds, and their empty value.
KIND_ATTRS = {
    "choices": ({FieldKind.CHOICE}, []),
    "min_value": ({FieldKind.NUMBER}, None),
    "max_value": ({FieldKind.NUMBER}, None),
    "max_length": ({FieldKind.TEXT}, None),
    "pattern": ({FieldKind.TEXT}, ""),
    "unit": ({FieldKind.NUMBER}, ""),
}
MAX_FIELDS = 100


def may_manage_types(actor) -> bool:
    """Administrators and managers design work order types (the pages and the API alike)."""
    return bool(actor is not None and actor.is_active
                and (actor.is_superuser or actor.role in (Role.ADMIN, Role.MANAGER)))


def require_type_manager(actor: User) -> None:
    if not may_manage_types(actor):
        raise Forbidden(_("Only administrators and managers manage work order types."))


def _save(obj, field: str, message: str) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:  # a concurrent insert won the unique check
        raise ValidationFailed(FieldProblem(field, message, "unique"))


# ---- types -------------------------------------------------------------------------

def _clean_steps(c: Cleaner) -> None:
    if c._skip("process_steps"):
        return
    value = c.data.get("process_steps")
    if value is None:
        value = []
    if not isinstance(value, list) or len(value) > MAX_STEPS:
        return c.problem("process_steps", _("A list of at most %(n)d step names.") % {"n": MAX_STEPS})
    steps = []
    for i, step in enumerate(value):
        if not isinstance(step, str) or not step.strip() or len(step.strip()) > 100:
            return c.problem(f"process_steps[{i}]", _("A step name is 1 to 100 characters."))
        if step.strip() in steps:
            return c.problem(f"process_steps[{i}]", _("Listed twice."), "duplicate")
        steps.append(step.strip())
    c.out["process_steps"] = steps


def _clean_stages(c: Cleaner) -> None:
    """The main line (workorders.mainline): every stage once, in the lifecycle's order, intake,
    execution and close always; absent on create: every stage."""
    if c._skip("stages"):
        return
    value = c.data.get("stages")
    if value is None:
        c.out["stages"] = mainline.default_stages()
        return
    stages, problems = mainline.clean_stages(value)
    for field, message, code in problems:
        c.problem(field, message, code)
    if not problems:
        c.out["stages"] = stages


def _clean_type(data: dict, *, instance: WorkOrderType | None) -> dict:
    c = Cleaner(data, partial=instance is not None, allowed=TYPE_FIELDS)
    c.slug("key", pattern=TYPE_KEY_RE, message=_("Lower-case letters, digits, - and _, starting with a letter or "
                                                 "digit."))
    c.unique("key", WorkOrderType, exclude=instance, message=_("A type with this key exists."))
    c.text("name", max_len=100, required=True)
    c.choice("kind", Kind.values, default=Kind.REPAIR)
    c.slug("prefix", max_len=4, pattern=PREFIX_RE, message=_("1 to 4 upper-case letters, e.g. WD."))
    c.unique("prefix", WorkOrderType, exclude=instance, message=_("Another type already uses this prefix."))
    c.text("description", max_len=5000, multiline=True)
    _clean_steps(c)
    _clean_stages(c)
    c.boolean("active", default=True)
    c.check()
    return c.out


@transaction.atomic
def do_create_type(*, actor: User, data: dict) -> WorkOrderType:
    require_type_manager(actor)
    wo_type = WorkOrderType(**_clean_type(data, instance=None))
    _save(wo_type, "key", _("A type with this key or prefix exists."))
    record_change(actor=actor, kind="wo_type", obj=wo_type, label=wo_type.key, before=None, after=snapshot(wo_type))
    return wo_type


@transaction.atomic
def do_create_type_with_fields(*, actor: User, data: dict, fields: list[dict]) -> WorkOrderType:
    """One transaction: the type and all its fields, or nothing. A field's problems are
    named `fields[i].<name>`."""
    require_type_manager(actor)
    if not isinstance(fields, list):
        raise ValidationFailed(FieldProblem("fields", _("A list of field definitions.")))
    wo_type = do_create_type(actor=actor, data=data)
    problems: list[FieldProblem] = []
    for i, fd in enumerate(fields):
        try:
            if not isinstance(fd, dict):
                raise ValidationFailed(FieldProblem("", _("A field definition is an object.")))
            do_create_field(actor=actor, wo_type=wo_type, data=fd)
        except ValidationFailed as e:
            problems += [FieldProblem(f"fields[{i}]" + (f".{p.field}" if p.field else ""), p.message, p.code)
                         for p in e.problems]
    if problems:
        raise ValidationFailed(problems)  # rolls back the type too
    return wo_type


@transaction.atomic
def do_update_type(*, actor: User, wo_type: WorkOrderType, data: dict) -> WorkOrderType:
    """Changing the prefix affects new work orders only; existing codes never change."""
    require_type_manager(actor)
    before = snapshot(wo_type)
    for k, v in _clean_type(data, instance=wo_type).items():
        setattr(wo_type, k, v)
    _save(wo_type, "key", _("A type with this key or prefix exists."))
    record_change(actor=actor, kind="wo_type", obj=wo_type, label=wo_type.key, before=before, after=snapshot(wo_type))
    return wo_type


MAIN_LINE_FIELDS = {"stages", "process_steps"}


@transaction.atomic
def do_set_main_line(*, actor: User, wo_type: WorkOrderType, data: dict) -> WorkOrderType:
    """The type designer's main line: the stages the type uses, in order, and the process steps of
    its field execution (optional). Work orders already under way keep going: an action the new
    line leaves out is refused from now on, and closing asks only for the stages the line keeps."""
    require_type_manager(actor)
    if not isinstance(data, dict):
        raise ValidationFailed(FieldProblem("stages", _("An object with the stages.")))
    unknown = sorted(set(data) - MAIN_LINE_FIELDS)
    if unknown:
        raise ValidationFailed([FieldProblem(k, _("Unknown field."), "unknown") for k in unknown])
    if data.get("stages") is None:
        raise ValidationFailed(FieldProblem("stages", _("This field is required."), "required"))
    return do_update_type(actor=actor, wo_type=wo_type, data={k: data[k] for k in MAIN_LINE_FIELDS if k in data})


@transaction.atomic
def do_delete_type(*, actor: User, wo_type: WorkOrderType) -> None:
    """Only a type no work order (or anything else) uses; deactivate it otherwise."""
    require_type_manager(actor)
    record_change(actor=actor, kind="wo_type", obj=wo_type, label=wo_type.key, before=snapshot(wo_type), after=None)
    delete_unreferenced(wo_type, _("Type %(k)s") % {"k": wo_type.key}, allow={"workorders.customfield"})


# ---- custom fields -----------------------------------------------------------------

def _clean_choices(c: Cleaner) -> None:
    if c._skip("choices"):
        return
    value = c.data.get("choices")
    if value is None:
        value = []
    if not isinstance(value, list) or len(value) > MAX_CHOICES:
        return c.problem("choices", _("A list of at most %(n)d options.") % {"n": MAX_CHOICES})
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip() or len(item.strip()) > 100:
            return c.problem(f"choices[{i}]", _("An option is 1 to 100 characters of text."))
        if item.strip() in out:
            return c.problem(f"choices[{i}]", _("Listed twice."), "duplicate")
        out.append(item.strip())
    c.out["choices"] = out


def _clean_pattern(c: Cleaner) -> None:
    c.text("pattern", max_len=200)
    pattern = c.out.get("pattern")
    if pattern:
        try:
            re.compile(pattern)
        except re.error as e:
            c.out.pop("pattern")
            c.problem("pattern", _("Not a valid regular expression: %(e)s.") % {"e": e}, "format")


def _clean_int(c: Cleaner, name: str, *, lo: int, hi: int) -> None:
    if c._skip(name) or (c.data.get(name) is None and name not in c.data):
        return
    value = c.data.get(name)
    if value is None:
        c.out[name] = None
        return
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        return c.problem(name, _("A whole number from %(lo)d to %(hi)d.") % {"lo": lo, "hi": hi}, "range")
    c.out[name] = value


def _clean_field(data: dict, *, wo_type: WorkOrderType, instance: CustomField | None) -> dict:
    c = Cleaner(data, partial=instance is not None, allowed=FIELD_FIELDS)
    c.slug("key", pattern=FIELD_KEY_RE, message=_("Lower-case letters, digits and _, starting with a letter."))
    c.unique("key", CustomField, exclude=instance, scope={"wo_type": wo_type},
             message=_("This type already has a field with this key."))
    c.text("label", max_len=100, required=True)
    c.choice("kind", FieldKind.values, default=FieldKind.TEXT)
    c.boolean("required", default=False)
    _clean_choices(c)
    c.decimal("min_value", lo=-NUMBER_LIMIT, hi=NUMBER_LIMIT, step=NUMBER_STEP)
    c.decimal("max_value", lo=-NUMBER_LIMIT, hi=NUMBER_LIMIT, step=NUMBER_STEP)
    _clean_int(c, "max_length", lo=1, hi=MAX_TEXT_LENGTH)
    _clean_pattern(c)
    c.text("help_text", max_len=200)
    c.text("unit", max_len=20)
    _clean_int(c, "order", lo=0, hi=32767)
    c.boolean("active", default=True)
    if c.failed("kind"):
        c.check()

    # Cross-field rules on the merged definition.
    current = {a: getattr(instance, a) for a in KIND_ATTRS} if instance else {a: e for a, (_k, e) in
                                                                                KIND_ATTRS.items()}
    kind = c.value("kind", instance.kind if instance else FieldKind.TEXT)
    for attr, (kinds, empty) in KIND_ATTRS.items():
        if kind in kinds:
            continue
        if attr in c.data and c.data[attr] not in (None, "", []):
            c.problem(attr, _("Only applies to fields of kind %(k)s.") % {"k": ", ".join(sorted(kinds))},
                      "not_applicable")
        elif current[attr] not in (None, "", []) or attr in c.out:
            c.out[attr] = empty  # the kind changed: drop what no longer applies
    if kind == FieldKind.CHOICE and not c.failed("choices") and not c.value("choices", current["choices"]):
        c.problem("choices", _("A choice field needs at least one option."), "required")
    lo, hi = c.value("min_value", current["min_value"]), c.value("max_value", current["max_value"])
    if kind == FieldKind.NUMBER and lo is not None and hi is not None and lo > hi \
            and not (c.failed("min_value") or c.failed("max_value")):
        c.problem("max_value", _("Must not be less than min_value."), "range")
    c.check()
    return c.out


@transaction.atomic
def do_create_field(*, actor: User, wo_type: WorkOrderType, data: dict) -> CustomField:
    require_type_manager(actor)
    out = _clean_field(data, wo_type=wo_type, instance=None)
    if CustomField.objects.filter(wo_type=wo_type).count() >= MAX_FIELDS:
        raise ValidationFailed(FieldProblem("key", _("A type has at most %(n)d fields.") % {"n": MAX_FIELDS}, "limit"))
    if "order" not in out:
        top = CustomField.objects.filter(wo_type=wo_type).aggregate(m=Max("order"))["m"]
        out["order"] = 0 if top is None else min(top + 1, 32767)
    field = CustomField(wo_type=wo_type, **out)
    _save(field, "key", _("This type already has a field with this key."))
    record_change(actor=actor, kind="custom_field", obj=field, label=f"{wo_type.key}.{field.key}", before=None,
                  after=snapshot(field))
    return field


@transaction.atomic
def do_update_field(*, actor: User, field: CustomField, data: dict) -> CustomField:
    """Values already stored on work orders are not rewritten; the new definition
    applies to values written from now on."""
    require_type_manager(actor)
    before = snapshot(field)
    for k, v in _clean_field(data, wo_type=field.wo_type, instance=field).items():
        setattr(field, k, v)
    _save(field, "key", _("This type already has a field with this key."))
    record_change(actor=actor, kind="custom_field", obj=field, label=f"{field.wo_type.key}.{field.key}", before=before,
                  after=snapshot(field))
    return field


@transaction.atomic
def do_delete_field(*, actor: User, field: CustomField) -> None:
    require_type_manager(actor)
    record_change(actor=actor, kind="custom_field", obj=field, label=f"{field.wo_type.key}.{field.key}",
                  before=snapshot(field), after=None)
    field.delete()


def field_in_use(field: CustomField) -> bool:
    """Whether any work order of the field's type holds a value for it."""
    return WorkOrder.objects.filter(wo_type_id=field.wo_type_id, custom__has_key=field.key).exists()


@transaction.atomic
def do_remove_field(*, actor: User, field: CustomField) -> str:
    """The designer's "remove": a field no work order holds a value for is deleted; one with values is
    deactivated (no form offers it, the values stay readable, its key stays taken). Returns "deleted" or
    "deactivated"."""
    require_type_manager(actor)
    if field_in_use(field):
        if field.active:
            do_update_field(actor=actor, field=field, data={"active": False})
        return "deactivated"
    do_delete_field(actor=actor, field=field)
    return "deleted"


@transaction.atomic
def do_reorder_fields(*, actor: User, wo_type: WorkOrderType, keys: list) -> list[CustomField]:
    """Put the type's fields in the order of `keys` (every field key once; deactivated fields go last)."""
    require_type_manager(actor)
    fields = {f.key: f for f in CustomField.objects.select_for_update().filter(wo_type=wo_type)}
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValidationFailed(FieldProblem("keys", _("A list of field keys.")))
    unknown = [k for k in keys if k not in fields]
    if unknown:
        raise ValidationFailed(FieldProblem("keys", _("Not a field of this type: %(k)s.") % {"k": ", ".join(unknown)},
                                            "unknown"))
    if len(set(keys)) != len(keys):
        raise ValidationFailed(FieldProblem("keys", _("Listed twice."), "duplicate"))
    rest = sorted((f for k, f in fields.items() if k not in keys), key=lambda f: (f.order, f.id))
    ordered = [fields[k] for k in keys] + rest
    before = [f.key for f in sorted(fields.values(), key=lambda f: (f.order, f.id))]
    for i, f in enumerate(ordered):
        if f.order != i:
            f.order = i
            f.save(update_fields=["order"])
    after = [f.key for f in ordered]
    if after != before:
        record_change(actor=actor, kind="wo_type", obj=wo_type, label=wo_type.key,
                      before={"field_order": before}, after={"field_order": after})
    return ordered
