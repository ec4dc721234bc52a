"""What the rules console needs beyond services.py: the builder's field menu and CEL from a
builder tree and back (only for CEL the builder itself wrote: checked by a round trip)."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, Team
from closeloop.core import conditions
from closeloop.customers.models import Tier
from closeloop.workorders.lifecycle import STATE_LABELS
from closeloop.workorders.models import CustomField, FieldKind, Priority, WorkOrderType

from . import services
from .models import KeywordLibrary

# ---- the builder's menu --------------------------------------------------------------------------

#: Operators per kind of field (the builder offers these; conditions.BUILDER_OPS has them all).
OPERATORS = {
    "text": ["==", "!=", "contains", "starts_with", "ends_with", "in", "not_in", "changed"],
    "choice": ["==", "!=", "in", "not_in", "changed"],
    "number": ["==", "!=", "<", "<=", ">", ">=", "changed"],
    "bool": ["is_true", "is_false"],
}


def operator_labels() -> dict:
    return {"==": _("is"), "!=": _("is not"), "contains": _("contains"), "starts_with": _("starts with"),
            "ends_with": _("ends with"), "in": _("is one of"), "not_in": _("is none of"), "<": "<", "<=": "≤",
            ">": ">", ">=": "≥", "is_true": _("is true"), "is_false": _("is false"),
            "changed": _("changed in this event")}


def _choices(pairs) -> list:
    return [[str(v), str(label)] for v, label in pairs]


def builder_fields() -> list[dict]:
    """[{value, label, type, choices?, group}] for the builder's field menu."""
    types = list(WorkOrderType.objects.filter(active=True).order_by("name"))
    wo_g, who_g, ev_g, kw_g, cf_g = _("Work order"), _("Customer, site and asset"), _("Event"), \
        _("Keyword libraries"), _("Custom fields")
    fields = [
        ("wo.title", _("Title"), "text", None, wo_g),
        ("wo.description", _("Description"), "text", None, wo_g),
        ("wo.text", _("Title, description and fault code"), "text", None, wo_g),
        ("wo.priority", _("Priority"), "choice", _choices(Priority.choices), wo_g),
        ("wo.type", _("Type"), "choice", [[t.key, t.name] for t in types], wo_g),
        ("wo.status", _("Status"), "choice", _choices(STATE_LABELS.items()), wo_g),
        ("wo.fault_code", _("Fault code"), "text", None, wo_g),
        ("wo.region", _("Region"), "text", None, wo_g),
        ("wo.team", _("Team"), "choice", [[t.code, t.name] for t in Team.objects.order_by("name")], wo_g),
        ("wo.assignee", _("Assignee (username)"), "text", None, wo_g),
        ("wo.customer.code", _("Customer code"), "text", None, who_g),
        ("wo.customer.tier", _("Customer tier"), "choice", _choices(Tier.choices), who_g),
        ("wo.customer.province", _("Customer province"), "text", None, who_g),
        ("wo.site.code", _("Site code"), "text", None, who_g),
        ("wo.site.grade", _("Site grade (e.g. 三级甲等)"), "text", None, who_g),
        ("wo.site.province", _("Site province"), "text", None, who_g),
        ("wo.site.city", _("Site city"), "text", None, who_g),
        ("wo.asset.category", _("Asset category"), "text", None, who_g),
        ("wo.asset.model", _("Asset model"), "text", None, who_g),
        ("wo.asset.manufacturer", _("Asset manufacturer"), "text", None, who_g),
        ("event.action", _("Action (create, update, assign…)"), "text", None, ev_g),
        ("event.from", _("Status before"), "choice", _choices(STATE_LABELS.items()), ev_g),
        ("event.to", _("Status after"), "choice", _choices(STATE_LABELS.items()), ev_g),
        ("actor.role", _("Role of who caused it"), "choice", _choices(Role.choices), ev_g),
        ("actor.username", _("Username of who caused it"), "text", None, ev_g),
    ]
    out = [{"value": v, "label": str(lbl), "type": t, "choices": c, "group": str(g)} for v, lbl, t, c, g in fields
           if v in conditions.BUILDER_FIELDS]
    for lib in KeywordLibrary.objects.order_by("name"):
        out.append({"value": f"wo.keywords.{lib.name}", "label": _("Keywords: %(l)s") % {"l": lib.label or lib.name},
                    "type": "bool", "choices": None, "group": str(kw_g)})
    kinds = {FieldKind.NUMBER: "number", FieldKind.CHOICE: "choice", FieldKind.BOOLEAN: "bool"}
    seen = set()
    for cf in CustomField.objects.select_related("wo_type").order_by("wo_type__name", "order", "id"):
        key = f"wo.custom.{cf.key}"
        if key in seen or not re.match(r"^[a-z][a-z0-9_]{0,39}$", cf.key):
            continue
        seen.add(key)
        out.append({"value": key, "label": f"{cf.label} ({cf.wo_type.name})", "type": kinds.get(cf.kind, "text"),
                    "choices": [[str(c), str(c)] for c in cf.choices] if cf.kind == FieldKind.CHOICE else None,
                    "group": str(cf_g), "wo_type": cf.wo_type.key})
    for f in out:
        # "changed" means the field is in event.changed: only the work order's own fields are.
        f["ops"] = [op for op in OPERATORS[f["type"]] if op != "changed" or f["value"] in CHANGEABLE
                    or f["value"].startswith("wo.custom.")]
    return out


#: Work order fields an update reports in event.changed (the "changed" operator).
CHANGEABLE = {"wo.title", "wo.description", "wo.priority", "wo.fault_code", "wo.team"}


def trigger_fields() -> list[str]:
    """Suggestions for the field_changed trigger's field."""
    keys = sorted({f"custom.{k}" for k in CustomField.objects.values_list("key", flat=True)})
    return ["priority", "title", "description", "fault_code", "team", "customer", "site", "asset", "contact", *keys]


# ---- builder tree -> CEL, and back --------------------------------------------------------------

def build_cel(tree: dict) -> str:
    """The CEL for a builder tree, without the brackets around the outermost group (so
    the dry run lists its parts one by one). Raises ConditionError."""
    if isinstance(tree, dict) and not tree.get("all") and not tree.get("any") and set(tree) & {"all", "any"}:
        return ""  # an empty builder: no condition, the rule always holds
    source = conditions.build_condition(tree)
    parts = tree.get("all") or tree.get("any") if isinstance(tree, dict) else None
    if isinstance(parts, list) and len(parts) > 1:
        source = source[1:-1]
    return source


_TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)|(?P<op>&&|\|\||==|!=|<=|>=|<|>|!|\(|\)|\[|\]|,)
                          |(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*))""", re.X)
_METHODS = {"contains": "contains", "startsWith": "starts_with", "endsWith": "ends_with"}


class _Unparsable(Exception):
    pass


def _tokens(source: str) -> list[tuple[str, str]]:
    out, i = [], 0
    while i < len(source):
        if source[i:].strip() == "":
            break
        m = _TOKEN.match(source, i)
        if not m or m.end() == i:
            raise _Unparsable
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        i = m.end()
    return out


def _unquote(s: str) -> str:
    body, out, i = s[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append({"n": "\n", "r": "\r"}.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


class _Parser:
    def __init__(self, source: str):
        self.t = _tokens(source)
        self.i = 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        if tok[0] is None or (value is not None and tok[1] != value):
            raise _Unparsable
        self.i += 1
        return tok

    def seq(self):
        items, joiner = [self.term()], None
        while self.peek()[1] in ("&&", "||"):
            j = self.take()[1]
            if joiner and j != joiner:
                raise _Unparsable  # mixed && / || without brackets: CEL precedence, not a builder tree
            joiner = j
            items.append(self.term())
        if len(items) == 1:
            return items[0]
        return {"all" if joiner == "&&" else "any": items}

    def literal(self):
        kind, val = self.take()
        if kind == "str":
            return _unquote(val)
        if kind == "num":
            return float(val) if any(c in val for c in ".e") else int(val)
        if kind == "name" and val in ("true", "false"):
            return val == "true"
        if val == "[":
            items = []
            while self.peek()[1] != "]":
                items.append(self.literal())
                if self.peek()[1] == ",":
                    self.take()
            self.take("]")
            return items
        raise _Unparsable

    def term(self):
        kind, val = self.peek()
        if val == "(":
            self.take()
            inner = self.seq()
            self.take(")")
            return inner
        if val == "!":
            self.take()
            if self.peek()[1] == "(":
                self.take()
                inner = self.seq()
                self.take(")")
                if isinstance(inner, dict) and inner.get("op") == "in":
                    return {**inner, "op": "not_in"}
                raise _Unparsable
            name = self.take()
            if name[0] != "name":
                raise _Unparsable
            return {"field": name[1], "op": "is_false", "value": None}
        if kind == "str":
            lit = _unquote(self.take()[1])
            self.take("in")
            self.take("event.changed")
            return {"field": "wo." + lit, "op": "changed", "value": None}
        if kind != "name":
            raise _Unparsable
        path = self.take()[1]
        head, _dot, last = path.rpartition(".")
        if last in _METHODS and self.peek()[1] == "(":
            self.take()
            value = self.literal()
            self.take(")")
            return {"field": head, "op": _METHODS[last], "value": value}
        nxt = self.peek()[1]
        if nxt in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            return {"field": path, "op": nxt, "value": self.literal()}
        if nxt == "in":
            self.take()
            value = self.literal()
            if not isinstance(value, list):
                raise _Unparsable
            return {"field": path, "op": "in", "value": value}
        return {"field": path, "op": "is_true", "value": None}


def parse_cel(source: str) -> dict | None:
    """The builder tree for a condition the builder could have written, or None (then the
    editor stays in CEL mode). Always a group at the root."""
    source = (source or "").strip()
    if not source:
        return {"all": []}
    try:
        p = _Parser(source)
        tree = p.seq()
        if p.i != len(p.t):
            return None
        if "field" in tree:
            tree = {"all": [tree]}
        if build_cel(tree) != source and conditions.build_condition(tree) != source:
            return None
        depth = _depth(tree)
    except (_Unparsable, conditions.ConditionError, RecursionError, ValueError):
        return None
    return tree if depth <= 3 else None


def _depth(tree) -> int:
    if isinstance(tree, dict) and ("all" in tree or "any" in tree):
        return 1 + max([_depth(c) for c in tree.get("all") or tree.get("any") or []] or [0])
    return 0


# ---- navigation ----------------------------------------------------------------------------------------

def register_nav() -> None:
    """The "Rules" entry of the top navigation, for managers, admins and dispatchers."""
    from django.utils.translation import gettext_lazy

    from closeloop.core import nav

    nav.register("rules", gettext_lazy("Rules"), "rules:list", icon="adjustments", visible=services.may_read, order=45)
