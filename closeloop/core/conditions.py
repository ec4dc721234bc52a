"""THE condition engine: CEL (`common-expression-language`) everywhere a business user
writes a condition (rules, SLA policy selection, approval branches, subscriptions).

Never `eval`: a condition is parsed and run by the CEL interpreter (Rust), over plain
data only (str, int, float, bool, None, lists and maps) built here. Nothing of Python
(objects, attributes, modules) is reachable from a condition: `wo.__class__` is just a
missing map key, `__import__("os")` an undefined function.

Limits, checked before anything runs:
  * the source: at most MAX_SOURCE characters, nesting depth MAX_DEPTH (brackets),
    at most MAX_MACROS comprehension macros (map/filter/all/exists/exists_one), none
    inside another (they multiply), only whitelisted functions;
  * list literals: at most MAX_LIST_LITERAL values in all (a macro over a long literal
    list building long strings is the remaining way to make the interpreter work hard);
  * the inputs: strings clipped to MAX_STRING characters, lists and maps to MAX_ITEMS
    entries, nesting to MAX_INPUT_DEPTH levels.
CEL has no loops other than the macros and no recursion, so with these bounds one
evaluation is bounded (microseconds in practice); an evaluation that nevertheless uses
more than EVAL_BUDGET_S of its thread's CPU time is reported as an error (the interpreter
cannot be interrupted mid-run, which is why the bounds are static). CPU time, not wall
time: a busy machine must not turn a true condition into an error.

Errors are ConditionError, carrying the position (line, column, offset) when the parser
gives one, and turn into a FieldProblem for the API.
"""

from __future__ import annotations

import re
import time
import unicodedata
from datetime import date, datetime
from decimal import Decimal

import cel
from django.utils.translation import gettext as _

from closeloop.core.errors import FieldProblem, ValidationFailed

MAX_SOURCE = 4000
MAX_DEPTH = 24
MAX_MACROS = 3
MAX_LIST_LITERAL = 200
MAX_STRING = 2000
KEYWORD_TEXT_MAX = 50000  # keywords are matched in Python over this much of the text
MAX_ITEMS = 200
MAX_INPUT_DEPTH = 6
EVAL_BUDGET_S = 0.05
_CACHE_MAX = 2000

#: Named functions a condition may call (operators like _&&_ / _[_] / @in are always fine).
ALLOWED_FUNCTIONS = frozenset({
    "size", "contains", "startsWith", "endsWith", "matches", "has", "int", "uint", "double", "string", "bool",
    "type", "timestamp", "duration", "getFullYear", "getMonth", "getDayOfMonth", "getDayOfWeek", "getHours",
    "getMinutes", "dyn", "exists", "all", "exists_one", "map", "filter",
})
_MACRO = re.compile(r"\.\s*(map|filter|all|exists|exists_one)\s*\(")
_POSITION = re.compile(r"<input>:(\d+):(\d+):\s*(.*?)(?:\n|$)")


class ConditionError(Exception):
    """A condition that cannot be compiled or evaluated. `column`/`line` are 1-based."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None,
                 offset: int | None = None, kind: str = "syntax"):
        super().__init__(message)
        self.kind = kind  # syntax | limit | runtime | missing
        self.message = message
        self.line = line
        self.column = column
        self.offset = offset

    def as_dict(self) -> dict:
        return {"message": self.message, "line": self.line, "column": self.column, "offset": self.offset}

    def problem(self, field: str = "condition") -> FieldProblem:
        msg = self.message
        if self.line is not None:
            msg = _("%(msg)s (line %(line)d, column %(col)d)") % {"msg": msg, "line": self.line, "col": self.column}
        return FieldProblem(field, msg, "condition")


def _offset(source: str, line: int, column: int) -> int:
    lines = source.split("\n")
    return sum(len(x) + 1 for x in lines[: line - 1]) + column - 1


def _code_chars(source: str):
    """(offset, character) of the source outside string literals. Used by _scan and _shape."""
    quote = None
    i = 0
    while i < len(source):
        ch = source[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if source.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
            i += 1
            continue
        if ch in "\"'":
            quote = source[i:i + 3] if source[i:i + 3] in ('"""', "'''") else ch
            i += len(quote)
            continue
        yield i, ch
        i += 1


def _scan(source: str) -> tuple[int, int | None]:
    """Bracket depth (outside string literals) and the offset where it first passes MAX_DEPTH."""
    depth = best = 0
    where = None
    for i, ch in _code_chars(source):
        if ch in "([{":
            depth += 1
            best = max(best, depth)
            if depth == MAX_DEPTH + 1 and where is None:
                where = i
        elif ch in ")]}":
            depth -= 1
    return best, where


def _nested_macro(source: str) -> int | None:
    """Offset of a macro call inside another macro's arguments (outside string literals),
    or None. Nested macros multiply: three over lists of a few hundred items run for
    seconds, and the interpreter cannot be stopped, so they are refused."""
    return _shape(source)[0]


def _shape(source: str) -> tuple[int | None, int]:
    """(offset of the first macro nested in another or None, items in list literals)."""
    starts = {m.end() - 1 for m in _MACRO.finditer(source)}  # offsets of their "("
    stack: list[bool] = []
    brackets: list[str] = []
    items = 0
    nested = None
    for i, ch in _code_chars(source):
        if ch in "([{":
            is_macro = i in starts
            if is_macro and any(stack) and nested is None:
                nested = i
            stack.append(is_macro)
            brackets.append(ch)
            if ch == "[":
                items += 1
        elif ch in ")]}" and stack:
            stack.pop()
            brackets.pop()
        elif ch == "," and brackets and brackets[-1] == "[":
            items += 1
    return nested, items


_compiled: dict[str, cel.Program] = {}


def compile_condition(source: str) -> cel.Program:
    """Compile (cached) or raise ConditionError. An empty source is refused here;
    callers decide whether "empty" means "always"."""
    prog = _compiled.get(source)
    if prog is not None:
        return prog
    if not isinstance(source, str) or not source.strip():
        raise ConditionError(_("The condition is empty."))
    if len(source) > MAX_SOURCE:
        raise ConditionError(_("The condition is too long (at most %(n)d characters).") % {"n": MAX_SOURCE},
                             offset=MAX_SOURCE, kind="limit")
    depth, where = _scan(source)
    if depth > MAX_DEPTH:
        line = source.count("\n", 0, where) + 1
        col = where - (source.rfind("\n", 0, where) + 1) + 1
        raise ConditionError(_("The condition is nested too deeply (at most %(n)d levels).") % {"n": MAX_DEPTH},
                             line=line, column=col, offset=where, kind="limit")
    nested, items = _shape(source)
    if items > MAX_LIST_LITERAL:
        raise ConditionError(_("At most %(n)d values in the lists of one condition.") % {"n": MAX_LIST_LITERAL},
                             kind="limit")
    if nested is not None:
        raise ConditionError(_("A list macro (map, filter, all, exists) cannot contain another one."),
                             offset=nested, line=source.count("\n", 0, nested) + 1,
                             column=nested - (source.rfind("\n", 0, nested) + 1) + 1, kind="limit")
    macros = list(_MACRO.finditer(source))
    if len(macros) > MAX_MACROS:
        m = macros[MAX_MACROS]
        raise ConditionError(_("At most %(n)d list macros (map, filter, all, exists) in one condition.")
                             % {"n": MAX_MACROS}, offset=m.start(), kind="limit")
    try:
        prog = cel.compile(source)
    except (ValueError, RuntimeError, TypeError) as exc:
        text = str(exc)
        m = _POSITION.search(text)
        if m:
            line, col = int(m.group(1)), int(m.group(2))
            raise ConditionError(_("Syntax error: %(e)s") % {"e": m.group(3)[:200]}, line=line, column=col,
                                 offset=_offset(source, line, col)) from None
        raise ConditionError(_("Syntax error: %(e)s") % {"e": text[:200]}) from None
    for fn in prog.functions():
        if fn[:1].isalpha() and fn not in ALLOWED_FUNCTIONS:
            pos = source.find(fn)
            raise ConditionError(_("Unknown function %(f)s.") % {"f": fn}, offset=pos if pos >= 0 else None,
                                 line=source.count("\n", 0, pos) + 1 if pos >= 0 else None,
                                 column=pos - (source.rfind("\n", 0, pos) + 1) + 1 if pos >= 0 else None)
    if len(_compiled) >= _CACHE_MAX:
        _compiled.clear()
    _compiled[source] = prog
    return prog


def check_condition(source: str, sample: dict | None = None, field: str = "condition") -> None:
    """For saving: refuse a condition that does not compile or does not give true/false
    on a sample context (ValidationFailed naming `field`, message with the position)."""
    if not (source or "").strip():
        return
    try:
        result = evaluate(source, sample if sample is not None else sample_context(), strict=False)
    except ConditionError as exc:
        if exc.kind == "missing":  # e.g. a custom field of some types only: fine on save
            return
        raise ValidationFailed(exc.problem(field)) from None
    if not isinstance(result, bool):
        raise ValidationFailed(FieldProblem(field, _("The condition must be true or false."), "condition"))


# ---- inputs ---------------------------------------------------------------------------------

def clip(value, depth: int = 0):
    """Plain, bounded data for CEL: the only values a condition can ever see."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:MAX_STRING]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if depth >= MAX_INPUT_DEPTH:
        return None
    if isinstance(value, dict):
        return {str(k)[:200]: clip(v, depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}
    if isinstance(value, list | tuple | set | frozenset):
        return [clip(v, depth + 1) for v in list(value)[:MAX_ITEMS]]
    return str(value)[:MAX_STRING]


def make_context(variables: dict) -> cel.Context:
    """A reusable evaluation context: build once per event, run every condition on it
    (20x faster than passing a dict each time)."""
    return cel.Context({k: clip(v) for k, v in variables.items()})


def evaluate(source: str, ctx: dict | cel.Context, *, strict: bool = True):
    """Run `source` over `ctx` (a dict of variables, clipped here, or a make_context()).
    strict: the result must be a bool. Raises ConditionError."""
    prog = compile_condition(source)
    if isinstance(ctx, dict):
        ctx = make_context(ctx)
    started = time.thread_time()
    try:
        result = prog.execute(ctx)
    except KeyError as exc:
        raise ConditionError(_("No such field: %(e)s") % {"e": str(exc)[:200]}, kind="missing") from None
    except (ValueError, TypeError, RuntimeError, OverflowError, ZeroDivisionError) as exc:
        raise ConditionError(_("Cannot evaluate: %(e)s") % {"e": str(exc)[:300]}, kind="runtime") from None
    if time.thread_time() - started > EVAL_BUDGET_S:
        raise ConditionError(_("The condition took too long to evaluate."), kind="limit")
    if strict and not isinstance(result, bool):
        raise ConditionError(_("The condition must be true or false."), kind="runtime")
    return result


def matches(source: str, ctx: dict | cel.Context) -> bool:
    """True when the condition holds; an empty condition always holds; an error is false."""
    if not (source or "").strip():
        return True
    try:
        return evaluate(source, ctx) is True
    except ConditionError:
        return False


def split_clauses(source: str) -> list[tuple[str, str]]:
    """Top-level `&&` / `||` parts, as (joiner, text): for "which parts matched"."""
    parts: list[tuple[str, str]] = []
    depth = 0
    quote = None
    start = 0
    joiner = ""
    i = 0
    while i < len(source):
        ch = source[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and source[i:i + 2] in ("&&", "||"):
            parts.append((joiner, source[start:i].strip()))
            joiner = source[i:i + 2]
            start = i + 2
            i += 2
            continue
        i += 1
    parts.append((joiner, source[start:].strip()))
    return [p for p in parts if p[1]]


def explain(source: str, ctx: dict | cel.Context) -> list[dict]:
    """Each top-level part of the condition with its own result (or error)."""
    if isinstance(ctx, dict):
        ctx = make_context(ctx)
    out = []
    for joiner, part in split_clauses(source):
        try:
            out.append({"joiner": joiner, "part": part, "result": evaluate(part, ctx, strict=False)})
        except ConditionError as exc:
            out.append({"joiner": joiner, "part": part, "result": None, "error": exc.message})
    return out


# ---- text and keywords ------------------------------------------------------------------------

_SPACE = re.compile(r"[\s\u200b\u3000]+")


def normalize_text(text: str) -> str:
    """For keyword matching: full-width → half-width (NFKC), case-folded, no spaces.
    Chinese has no spaces between words, so matching is by substring."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text or "").casefold())


def keyword_hits(text: str, libraries: dict[str, list[str]]) -> tuple[dict[str, bool], dict[str, list[str]]]:
    """(library → any word found, library → the words found) in normalized `text`."""
    norm = normalize_text(text)
    hits: dict[str, bool] = {}
    found: dict[str, list[str]] = {}
    for name, words in libraries.items():
        got = [w for w in words if (nw := normalize_text(w)) and nw in norm]
        hits[name] = bool(got)
        if got:
            found[name] = got
    return hits, found


# ---- the work order context ---------------------------------------------------------------------

def work_order_context(wo, *, keyword_libraries: dict[str, list[str]] | None = None, event: dict | None = None,
                       actor=None) -> dict:
    """The variables a condition sees (documented in docs/rules-and-dispatch.md):

    wo:    code, type, kind, title, description, text (title + description + fault code),
           priority, status, fault_code, region, team, assignee, custom{...},
           customer{code, name, tier, province}, site{code, name, grade, province, city},
           asset{name, category, model, manufacturer, serial},
           keywords{library: bool}, keyword_hits{library: [words]}
    event: trigger, action, from, to, changed (list of field names)
    actor: username, role, team
    """
    site = wo.site if wo.site_id else None
    customer = wo.customer if wo.customer_id else None
    team = wo.team if wo.team_id else None
    asset = wo.asset if wo.asset_id else None
    text = " ".join(x for x in (wo.title, wo.description, wo.fault_code) if x)
    hits, found = keyword_hits(text[:KEYWORD_TEXT_MAX], keyword_libraries or {})
    return {
        "wo": {
            "code": wo.code, "type": wo.wo_type.key, "kind": wo.wo_type.kind, "title": wo.title,
            "description": wo.description, "text": text, "priority": wo.priority, "status": wo.status,
            "fault_code": wo.fault_code or "",
            "region": (team.region if team and team.region else "") or (site.province if site else "") or "",
            "team": team.code if team else "",
            "assignee": wo.assignee.username if wo.assignee_id else "",
            "custom": {k: v for k, v in (wo.custom or {}).items() if v is not None},
            "customer": {"code": customer.code if customer else "", "name": customer.name if customer else "",
                         "tier": customer.tier if customer else "", "province": customer.province if customer else ""},
            "site": {"code": site.code if site else "", "name": site.name if site else "",
                     "grade": site.grade if site else "", "province": site.province if site else "",
                     "city": site.city if site else ""},
            "asset": {"name": asset.name if asset else "", "category": asset.category if asset else "",
                      "model": asset.model if asset else "", "manufacturer": asset.manufacturer if asset else "",
                      "serial": asset.serial_number if asset else ""},
            "keywords": hits,
            "keyword_hits": found,
        },
        "event": {"trigger": "", "action": "", "from": "", "to": "", "changed": [], **(event or {})},
        "actor": {"username": getattr(actor, "username", ""), "role": getattr(actor, "role", ""),
                  "team": actor.team.code if actor is not None and getattr(actor, "team_id", None) else ""},
    }


def sample_context(keyword_libraries: list[str] | None = None) -> dict:
    """A context of the right shape with empty values, to check a condition on save."""
    return {
        "wo": {"code": "", "type": "repair", "kind": "repair", "title": "", "description": "", "text": "",
               "priority": "normal", "status": "new", "fault_code": "", "region": "", "team": "", "assignee": "",
               "custom": {}, "customer": {"code": "", "name": "", "tier": "standard", "province": ""},
               "site": {"code": "", "name": "", "grade": "", "province": "", "city": ""},
               "asset": {"name": "", "category": "", "model": "", "manufacturer": "", "serial": ""},
               "keywords": {k: False for k in (keyword_libraries or [])}, "keyword_hits": {}},
        "event": {"trigger": "created", "action": "", "from": "", "to": "", "changed": []},
        "actor": {"username": "", "role": "", "team": ""},
    }


# ---- the builder: field / operator / value, and/or groups → CEL -----------------------------------

#: Fields a business user picks from (the builder's menu); each is a path in the context.
BUILDER_FIELDS = {
    "wo.title", "wo.description", "wo.text", "wo.type", "wo.kind", "wo.priority", "wo.status", "wo.fault_code",
    "wo.region", "wo.team", "wo.assignee", "wo.customer.code", "wo.customer.tier", "wo.customer.province",
    "wo.site.code", "wo.site.grade", "wo.site.province", "wo.site.city", "wo.asset.category", "wo.asset.model",
    "wo.asset.manufacturer", "event.trigger", "event.action", "event.from", "event.to", "actor.role",
    "actor.username",
}
_CUSTOM = re.compile(r"^wo\.custom\.[a-z][a-z0-9_]{0,39}$")
_KEYWORDS = re.compile(r"^wo\.keywords\.[a-z][a-z0-9_]{0,39}$")
BUILDER_OPS = {"==", "!=", "<", "<=", ">", ">=", "in", "not_in", "contains", "starts_with", "ends_with",
               "is_true", "is_false", "changed"}
MAX_BUILDER_NODES = 100


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value != value or value in (float("inf"), float("-inf")):
            raise ConditionError(_("Not a number."))
        return repr(value)
    if isinstance(value, str):
        if len(value) > 1000:
            raise ConditionError(_("A value is too long."))
        # A CEL string literal: escape the backslash and the quote, no raw control characters.
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
        return f'"{escaped}"'
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            raise ConditionError(_("Too many values."))
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    raise ConditionError(_("Values are text, numbers, true/false or lists of them."))


def build_condition(tree: dict, _count: list | None = None) -> str:
    """CEL from a builder tree: {"all": [...]} / {"any": [...]} groups (nestable) of
    {"field": "wo.site.grade", "op": "==", "value": "三级甲等"}. Fields come from a fixed
    menu (plus wo.custom.<key> and wo.keywords.<library>), values become quoted CEL
    literals: nothing the user types is ever spliced in as code."""
    count = _count if _count is not None else [0]
    count[0] += 1
    if count[0] > MAX_BUILDER_NODES:
        raise ConditionError(_("The condition has too many parts."), kind="limit")
    if not isinstance(tree, dict):
        raise ConditionError(_("Each part is a group or a comparison."))
    for key, joiner in (("all", " && "), ("any", " || ")):
        if key in tree:
            parts = tree[key]
            if not isinstance(parts, list) or not parts:
                raise ConditionError(_("A group needs at least one part."))
            inner = [build_condition(p, count) for p in parts]
            return inner[0] if len(inner) == 1 else "(" + joiner.join(inner) + ")"
    if "not" in tree:
        return "!(" + build_condition(tree["not"], count) + ")"
    field, op, value = tree.get("field"), tree.get("op"), tree.get("value")
    if not isinstance(field, str) or not (field in BUILDER_FIELDS or _CUSTOM.match(field) or _KEYWORDS.match(field)):
        raise ConditionError(_("Unknown field %(f)s.") % {"f": str(field)[:60]})
    if op not in BUILDER_OPS:
        raise ConditionError(_("Unknown operator %(o)s.") % {"o": str(op)[:20]})
    if op == "is_true":
        return field
    if op == "is_false":
        return f"!{field}"
    if op == "changed":
        return f"{_literal(field.removeprefix('wo.'))} in event.changed"
    if op in ("in", "not_in"):
        if not isinstance(value, list):
            raise ConditionError(_("A list of values is needed."))
        expr = f"{field} in {_literal(value)}"
        return expr if op == "in" else f"!({expr})"
    if op in ("contains", "starts_with", "ends_with"):
        fn = {"contains": "contains", "starts_with": "startsWith", "ends_with": "endsWith"}[op]
        return f"{field}.{fn}({_literal(str(value))})"
    return f"{field} {op} {_literal(value)}"
