"""Input cleaning and safe deletion shared by the services of several apps: the
reference data of accounts (users, teams, skill tags), customers (customers, sites,
contacts, assets, contracts) and workorders (types), the portal and the console's lookup
(`compact_phone`).

`Cleaner` collects one FieldProblem per bad field, so a caller gets every
problem at once and nothing is written until all inputs are good. It takes the
same plain dicts from the API, the console and importers.

`refuse_delete_if_referenced` is the only way these services delete: anything
that points at the row (work orders, timeline, other apps' rows added later)
makes it a 409 that says what still refers to it. Work history is never
cascade-deleted.
"""

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.db.models import ForeignObjectRel, ProtectedError, RestrictedError
from django.utils.translation import gettext as _

from closeloop.core.errors import DomainError, FieldProblem, ValidationFailed

SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*\Z")
PHONE_RE = re.compile(r"^[0-9+()\-\s.#*xX]*\Z")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
COORD_STEP = Decimal("0.000001")


def compact_phone(value: str | None) -> str:
    """A phone number as typed, without surrounding blanks, inner spaces and dashes: how the
    portal stores a reporter's number and how the console's lookup searches for one."""
    return (value or "").strip().replace(" ", "").replace("-", "")


class Cleaner:
    """Cleans `data` field by field into `out`, collecting `problems`.

    With `partial=True` (PATCH) a field absent from `data` is skipped; with
    `partial=False` (create) an absent field gets its default and required
    fields are enforced.
    """

    def __init__(self, data: dict, *, partial: bool = False, allowed: set[str] | None = None):
        self.data = dict(data or {})
        self.partial = partial
        self.problems: list[FieldProblem] = []
        self.out: dict = {}
        if allowed is not None:
            for k in sorted(set(self.data) - allowed):
                self.problems.append(FieldProblem(k, _("Unknown field."), "unknown"))

    # -- plumbing -------------------------------------------------------------------

    def _skip(self, name: str) -> bool:
        return self.partial and name not in self.data

    def problem(self, name: str, message: str, code: str = "invalid") -> None:
        self.problems.append(FieldProblem(name, message, code))

    def failed(self, name: str) -> bool:
        return any(p.field == name for p in self.problems)

    def check(self) -> None:
        if self.problems:
            raise ValidationFailed(self.problems)

    # -- kinds ----------------------------------------------------------------------

    def text(self, name: str, *, max_len: int, required: bool = False, multiline: bool = False) -> None:
        if self._skip(name):
            return
        value = self.data.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            return self.problem(name, _("Must be text."))
        value = value.strip()
        if required and not value:
            return self.problem(name, _("This field is required."), "required")
        if len(value) > max_len:
            return self.problem(name, _("At most %(n)d characters.") % {"n": max_len}, "too_long")
        if CONTROL_RE.search(value) or (not multiline and ("\n" in value or "\r" in value)):
            return self.problem(name, _("Contains characters that are not allowed."))
        self.out[name] = value

    def slug(self, name: str, *, max_len: int = 40, pattern: re.Pattern = SLUG_RE, message: str | None = None
             ) -> None:
        if self._skip(name):
            return
        value = self.data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return self.problem(name, _("This field is required."), "required")
        if not isinstance(value, str):
            return self.problem(name, _("Must be text."))
        value = value.strip()
        if len(value) > max_len:
            return self.problem(name, _("At most %(n)d characters.") % {"n": max_len}, "too_long")
        if not pattern.match(value):
            return self.problem(name, message or _("Use only letters, digits, hyphens and underscores, "
                                                   "starting with a letter or digit."), "format")
        self.out[name] = value

    def email(self, name: str) -> None:
        self.text(name, max_len=254)
        value = self.out.get(name)
        if value:
            try:
                validate_email(value)
            except ValidationError:
                self.out.pop(name)
                self.problem(name, _("Enter a valid email address."), "format")

    def phone(self, name: str) -> None:
        self.text(name, max_len=32)
        value = self.out.get(name)
        if value and not PHONE_RE.match(value):
            self.out.pop(name)
            self.problem(name, _("A phone number has digits, spaces and + ( ) - only."), "format")

    def choice(self, name: str, choices, *, default=None) -> None:
        if self._skip(name):
            return
        value = self.data.get(name)
        if value is None and default is not None and name not in self.data:
            value = default
        if value not in choices:
            return self.problem(name, _("Must be one of: %(c)s.") % {"c": ", ".join(map(str, choices))})
        self.out[name] = value

    def boolean(self, name: str, *, default: bool) -> None:
        if self._skip(name):
            return
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            return self.problem(name, _("Must be true or false."))
        self.out[name] = value

    def decimal(self, name: str, *, lo: Decimal | int | None = None, hi: Decimal | int | None = None,
                step: Decimal | None = None) -> None:
        if self._skip(name):
            return
        value = self.data.get(name)
        if value is None:
            self.out[name] = None
            return
        if isinstance(value, bool):
            return self.problem(name, _("Must be a number."))
        try:
            num = Decimal(str(value).strip())
        except InvalidOperation:
            return self.problem(name, _("Must be a number."))
        if not num.is_finite():
            return self.problem(name, _("Must be a number."))
        if lo is not None and num < lo or hi is not None and num > hi:
            return self.problem(name, _("Must be between %(lo)s and %(hi)s.") % {"lo": lo, "hi": hi}, "range")
        self.out[name] = num.quantize(step) if step is not None else num

    def latitude(self, name: str) -> None:
        self.decimal(name, lo=-90, hi=90, step=COORD_STEP)

    def longitude(self, name: str) -> None:
        self.decimal(name, lo=-180, hi=180, step=COORD_STEP)

    def date(self, name: str, *, required: bool = False) -> None:
        if self._skip(name):
            return
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                return self.problem(name, _("This field is required."), "required")
            self.out[name] = None
            return
        if isinstance(value, date):
            self.out[name] = value
            return
        try:
            self.out[name] = date.fromisoformat(str(value))
        except ValueError:
            self.problem(name, _("Must be a date (YYYY-MM-DD)."))

    def ref(self, name: str, queryset: models.QuerySet, *, by: str, label: str, required: bool = False) -> None:
        """Resolve a reference given by its public key (code, username, serial) within
        `queryset`, so a caller can only point at rows they may see."""
        if self._skip(name):
            return
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                return self.problem(name, _("This field is required."), "required")
            self.out[name] = None
            return
        if isinstance(value, queryset.model):
            self.out[name] = value
            return
        obj = queryset.filter(**{by: value}).first()
        if obj is None:
            return self.problem(name, _("No %(what)s %(v)s.") % {"what": label, "v": value}, "not_found")
        self.out[name] = obj

    def unique(self, name: str, model: type[models.Model], *, field: str | None = None, exclude=None,
               scope: dict | None = None, message: str | None = None) -> None:
        """After cleaning `name`: refuse a value another row already has."""
        if name not in self.out or self.out[name] in (None, ""):
            return
        qs = model._base_manager.filter(**{field or name: self.out[name]}, **(scope or {}))
        if exclude is not None and exclude.pk is not None:
            qs = qs.exclude(pk=exclude.pk)
        if qs.exists():
            self.out.pop(name)
            self.problem(name, message or _("%(v)s is already taken.") % {"v": self.data.get(name)}, "unique")

    def value(self, name: str, current=None):
        """The cleaned value if given, else the current one."""
        return self.out.get(name, current)


def references(obj: models.Model, *, allow: set[str] = frozenset()) -> dict[str, int]:
    """Rows of other tables (or of this one) that point at `obj`, counted per model,
    leaving out the relations in `allow` (model labels, e.g. "accounts.apitoken")
    that may go with it. Covers relations other apps add later without changes here."""
    counts: dict[str, int] = {}
    for rel in obj._meta.get_fields(include_hidden=True):
        # Reverse relations only, hidden ones (related_name="+") included: the timeline's actor is one.
        if not isinstance(rel, ForeignObjectRel):
            continue
        related = rel.related_model
        if related._meta.label_lower in allow or related._meta.auto_created:
            continue  # allowed, or an automatic many-to-many table that goes with the row
        n = related._base_manager.filter(**{rel.field.name: obj}).count()
        if n:
            name = str(related._meta.verbose_name_plural)
            counts[name] = counts.get(name, 0) + n
    return counts


class StillReferenced(DomainError):
    """409: the row is still referred to; nothing was deleted."""

    def __init__(self, what: str, refs: dict[str, int]):
        listing = ", ".join(f"{n} {name}" for name, n in sorted(refs.items()))
        super().__init__(_("%(what)s is still referred to by %(refs)s; nothing was deleted.")
                         % {"what": what, "refs": listing}, 409, "still_referenced",
                         extra={"references": refs})


def refuse_delete_if_referenced(obj: models.Model, what: str, *, allow: set[str] = frozenset()) -> None:
    refs = references(obj, allow=allow)
    if refs:
        raise StillReferenced(what, refs)


def delete_unreferenced(obj: models.Model, what: str, *, allow: set[str] = frozenset()) -> None:
    """Check, then delete; a reference added meanwhile is caught by the database's
    PROTECT constraints and reported the same way."""
    refuse_delete_if_referenced(obj, what, allow=allow)
    try:
        with transaction.atomic():
            obj.delete()
    except (ProtectedError, RestrictedError, IntegrityError):
        raise StillReferenced(what, references(obj, allow=allow) or {_("other rows"): 1})
