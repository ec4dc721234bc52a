"""Permission-checked reads of work orders. Every list, search, count, export,
attachment download and live update goes through `visible_work_orders`; a work
order a user may not see is a 404 everywhere, never a 403 that confirms it exists.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role
from closeloop.core.compiled import Compiled, fetch, prepared_cursor
from closeloop.core.errors import FieldProblem, NotFound, ValidationFailed
from closeloop.core.paging import Page, decode_cursor, encode_cursor, page_by_id
from closeloop.core.planner import fixed_join_order
from closeloop.core.text import query_tokens

from .models import Attachment, TimelineEvent, WorkOrder

LIST_RELATED = ("wo_type", "customer", "site", "assignee", "team", "asset", "contact")


# Filters other apps apply to a WorkOrderFilter's fields they own: fn(qs, f) -> qs (sla: `breached`,
# `due_within`). Registered from the app's ready(); workorders imports none of them.
_filter_parts: list = []
#: Query-string names those apps read (analytics: `drill`); filter_from keeps them in `f.extra`.
_filter_params: set[str] = set()


def register_filter(fn, params: tuple[str, ...] = ()) -> None:
    """`fn(qs, f)` narrows a list by the filter's fields; `params` are query-string names of the
    list page it owns, which `filter_from` passes on in `f.extra` (e.g. ("drill",))."""
    if fn not in _filter_parts:
        _filter_parts.append(fn)
    _filter_params.update(params)



def visible_work_orders(user) -> QuerySet[WorkOrder]:
    qs = WorkOrder.objects.all()
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.is_superuser or user.sees_all_work_orders:
        return qs
    if user.role == Role.CUSTOMER:
        if user.customer_id is None:
            return qs.none()
        return qs.filter(customer_id=user.customer_id)
    if user.role == Role.ENGINEER:
        cond = Q(assignee_id=user.pk) | Q(created_by_id=user.pk)
        if user.team_id:
            cond |= Q(team_id=user.team_id)
        return qs.filter(cond)
    return qs.none()


def _visibility_key(user) -> tuple | None:
    """What visible_work_orders(user)'s filter depends on (None: it sees nothing). Keep the two in
    step: a test compares access through the compiled query with the plain queryset per persona."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser or user.sees_all_work_orders:
        return ("all",)
    if user.role == Role.CUSTOMER:
        return ("customer", user.customer_id) if user.customer_id is not None else None
    if user.role == Role.ENGINEER:
        return ("engineer", user.pk, user.team_id)
    return None


_CODE = "\x00code\x00"  # stands for the code in the compiled query
_by_code: dict[tuple, Compiled] = {}


def _work_order_by_code_query(user) -> QuerySet[WorkOrder]:
    # Codes are unique: no ORDER BY.
    return visible_work_orders(user).select_related(*LIST_RELATED, "created_by").filter(code=_CODE).order_by()[:1]


def access_work_order_by_code(user, code: str) -> WorkOrder:
    code = (code or "").strip().upper()
    key = _visibility_key(user)
    wo = None
    if key is not None:
        key = (connection.vendor, *key)
        compiled = _by_code.get(key)
        if compiled is None:
            if len(_by_code) >= 1000:
                _by_code.clear()
            compiled = _by_code[key] = Compiled(_work_order_by_code_query(user), _CODE, fixed_order=True)
        wo = compiled.first(code)
    if wo is None:
        raise NotFound(_("No work order %(code)s.") % {"code": code})
    return wo


_DETAIL_SQL: str | None = None


def _detail_sql() -> str:
    from closeloop.accounts.models import User

    from .models import ExternalRef, WorkOrderLink, WorkOrderWatcher

    refs, links = ExternalRef._meta.db_table, WorkOrderLink._meta.db_table
    watchers, wos, users = WorkOrderWatcher._meta.db_table, WorkOrder._meta.db_table, User._meta.db_table
    return (
        f"SELECT 0, r.system, r.external_id, NULL, NULL, r.system, r.external_id, 0 FROM {refs} r "
        f"WHERE r.work_order_id = %s "
        f"UNION ALL SELECT 1, l.kind, o.code, o.title, o.status, '', '', l.id FROM {links} l "
        f"JOIN {wos} o ON o.id = l.target_id WHERE l.source_id = %s "
        f"UNION ALL SELECT 2, l.kind, o.code, o.title, o.status, '', '', l.id FROM {links} l "
        f"JOIN {wos} o ON o.id = l.source_id WHERE l.target_id = %s "
        f"UNION ALL SELECT 3, u.username, NULL, NULL, NULL, '', '', w.id FROM {watchers} w "
        f"JOIN {users} u ON u.id = w.user_id WHERE w.work_order_id = %s "
        f"ORDER BY 1, 6, 7, 8")


def detail_rows(wo: WorkOrder) -> tuple[list, list, list]:
    """A work order's external refs (by system, id), links out then in (by link id) and its
    watchers' usernames (by id): one query of constant SQL instead of four ORM ones (the API's
    detail representation; bench/: ~1.5 ms a get). Takes a work order the caller may see."""
    global _DETAIL_SQL
    if _DETAIL_SQL is None:
        _DETAIL_SQL = _detail_sql()
    refs, links, watchers = [], [], []
    with prepared_cursor() as cur:
        cur.execute(_DETAIL_SQL, [wo.pk] * 4)
        for group, a, b, c, d, *_order in cur.fetchall():
            if group == 0:
                refs.append({"system": a, "id": b})
            elif group == 3:
                watchers.append(a)
            else:
                links.append({"kind": a, "direction": "out" if group == 1 else "in", "code": b, "title": c,
                              "status": d})
    return refs, links, watchers


def find_by_external_ref(user, system: str, external_id: str) -> QuerySet[WorkOrder]:
    return visible_work_orders(user).filter(external_refs__system=system, external_refs__external_id=external_id)


def apply_search(qs: QuerySet[WorkOrder], q: str) -> QuerySet[WorkOrder]:
    tokens = query_tokens(q)
    if not tokens:
        return qs
    if connection.vendor == "postgresql":
        tsq = " & ".join(f"'{t}'" + (":*" if prefix else "") for t, prefix in tokens)
        return qs.filter(id__in=RawSQL(
            "SELECT id FROM workorders_workorder WHERE "
            "array_to_tsvector(string_to_array(search_document, ' ')) @@ %s::tsquery", (tsq,)))
    match = " AND ".join(f'"{t}"' + ("*" if prefix else "") for t, prefix in tokens)
    return qs.filter(id__in=RawSQL("SELECT rowid FROM workorders_search WHERE workorders_search MATCH %s",
                                   (match,)))


FILTERS = ("status", "priority", "type", "team", "assignee", "customer", "site", "asset")


@dataclass
class WorkOrderFilter:
    status: list[str] | None = None
    priority: list[str] | None = None
    type: str | None = None
    team: str | None = None
    assignee: str | None = None
    customer: str | None = None
    site: str | None = None
    asset: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    q: str | None = None
    external_system: str | None = None
    external_id: str | None = None
    #: ["key:value", ...]: custom field values (all must match)
    custom: list[str] | None = None
    #: SLA: only work orders with (true) / without (false) a breached target, or with a
    #: running target due within N seconds (sla.selectors).
    breached: bool | None = None
    due_within: int | None = None
    #: Tags the work order must all carry (staff only).
    tag: list[str] | None = None
    #: Other apps' list parameters (register_filter's params), by name.
    extra: dict | None = None


#: The names the list page (and a saved queue) filters by.
PAGE_FILTERS = ("status", "priority", "type", "team", "assignee", "customer", "site", "q")


def filter_from(values) -> WorkOrderFilter:
    """The list page's filter from its query string (a QueryDict) or from a saved filter (a
    dict of the same names, lists for status and priority). Unknown states and priorities
    are dropped, the search is cut at 200 characters."""
    from .lifecycle import STATE_LABELS
    from .models import Priority

    if hasattr(values, "getlist"):
        getlist, get = values.getlist, values.get
    else:
        src = values or {}

        def getlist(k):
            v = src.get(k)
            return v if isinstance(v, list) else ([v] if v else [])

        def get(k):
            v = src.get(k)
            return v if isinstance(v, str) else None
    return WorkOrderFilter(
        status=[s for s in getlist("status") if s in STATE_LABELS] or None,
        priority=[p for p in getlist("priority") if p in Priority.values] or None,
        type=get("type") or None, team=get("team") or None, assignee=get("assignee") or None,
        customer=get("customer") or None, site=get("site") or None, q=(get("q") or "")[:200] or None,
        extra={k: (get(k) or "")[:500] for k in sorted(_filter_params) if get(k)} or None,
    )


def _id_of(field: str, **unique) -> Subquery:
    """The id of the row the work order's `field` points to that has this unique key, as a scalar
    subquery (NULL, so nothing matches, when there is none)."""
    model = WorkOrder._meta.get_field(field).related_model
    return Subquery(model._default_manager.filter(**unique).order_by().values("pk")[:1])


def filter_work_orders(user, f: WorkOrderFilter) -> QuerySet[WorkOrder]:
    qs = visible_work_orders(user)
    if f.status:
        qs = qs.filter(status__in=f.status)
    if f.priority:
        qs = qs.filter(priority__in=f.priority)
    # A reference given by its unique key is matched by id, the key looked up in a subquery the
    # database runs once: the work order indexes that start with the id then serve the filter
    # and the newest-first order (a join on the key read the newest work orders one by one until
    # enough matched).
    if f.type:
        qs = qs.filter(wo_type_id=_id_of("wo_type", key=f.type))
    if f.team:
        qs = qs.filter(team_id=_id_of("team", code=f.team))
    if f.assignee:
        qs = qs.filter(assignee__isnull=True) if f.assignee == "none" else qs.filter(
            assignee_id=_id_of("assignee", username=f.assignee))
    if f.customer:
        qs = qs.filter(customer_id=_id_of("customer", code=f.customer))
    if f.site:
        qs = qs.filter(site_id=_id_of("site", code=f.site))
    if f.asset:
        qs = qs.filter(asset_id=_id_of("asset", serial_number=f.asset))
    if f.created_after:
        qs = qs.filter(created_at__gte=f.created_after)
    if f.created_before:
        qs = qs.filter(created_at__lt=f.created_before)
    if f.external_system or f.external_id:
        if not (f.external_system and f.external_id):
            raise ValidationFailed(FieldProblem("external_system", _("Give both external_system and external_id.")))
        qs = qs.filter(external_refs__system=f.external_system, external_refs__external_id=f.external_id)
    for item in f.custom or []:
        qs = qs.filter(_custom_condition(item, f.type))
    for narrow in _filter_parts:
        qs = narrow(qs, f)
    for raw in f.tag or []:
        qs = filter_tag(user, qs, raw)
    if f.q:
        qs = apply_search(qs, f.q)
    return qs


def filter_tag(user, qs: QuerySet[WorkOrder], raw: str) -> QuerySet[WorkOrder]:
    from closeloop.core.errors import Forbidden

    from .services import normalize_tag

    if user.role == Role.CUSTOMER:
        raise Forbidden(_("Tags are internal."))
    tag = normalize_tag(raw)
    if tag is None:
        raise ValidationFailed(FieldProblem("tag", _("Not a tag.")))
    if connection.vendor == "postgresql":
        return qs.filter(tags__contains=[tag])
    return qs.filter(id__in=RawSQL("SELECT w.id FROM workorders_workorder w, json_each(w.tags) j WHERE j.value = %s",
                                   (tag,)))


def _custom_condition(item: str, type_key: str | None) -> Q:
    """`key:value` against WorkOrder.custom, typed by the field's definition."""
    from .models import CustomField, FieldKind

    key, sep, raw = item.partition(":")
    if not sep or not re.fullmatch(r"[-a-zA-Z0-9_]{1,40}", key):
        raise ValidationFailed(FieldProblem("custom", _("Use key:value, e.g. shift:早.")))
    defs = CustomField.objects.filter(key=key)
    if type_key:
        defs = defs.filter(wo_type__key=type_key)
    kinds = set(defs.values_list("kind", flat=True))
    if not kinds:
        raise ValidationFailed(FieldProblem("custom", _("No custom field %(k)s.") % {"k": key}))
    cond = Q()
    for kind in kinds:
        if kind == FieldKind.NUMBER:
            try:
                num = float(raw)
            except ValueError:
                raise ValidationFailed(FieldProblem("custom", _("%(k)s is a number.") % {"k": key}))
            cond |= Q(**{f"custom__{key}": int(num) if num.is_integer() else num})
        elif kind == FieldKind.BOOLEAN:
            cond |= Q(**{f"custom__{key}": raw.lower() in ("true", "1", "yes")})
        else:
            cond |= Q(**{f"custom__{key}": raw})
    return cond


def page_work_orders(user, f: WorkOrderFilter, *, cursor: str | None = None, limit: int = 25) -> Page:
    """The list page: newest first, keyset pages (core.paging)."""
    with fixed_join_order():
        return page_by_id(filter_work_orders(user, f).select_related(*LIST_RELATED), cursor=cursor, limit=limit,
                          newest_first=True)


# The columns of a list item (serializers.work_order_row): one narrow query, plain rows, no
# model instances (bench/: a page of 25 built ~200 of them).
ROW_FIELDS = (
    "id", "code", "wo_type__key", "wo_type__name", "title", "description", "priority", "status",
    "customer_id", "customer__code", "customer__name", "site_id", "site__code", "site__name",
    "asset_id", "asset__serial_number", "asset__name", "asset__model", "contact_id", "contact__name",
    "contact__phone", "fault_code", "team_id", "team__code", "team__name", "assignee_id", "assignee__username",
    "assignee__display_name", "assignee__first_name", "assignee__last_name", "custom", "tags", "resolution",
    "invoice_number", "rating", "version", "created_at", "updated_at",
    "assigned_at", "accepted_at", "departed_at", "arrived_at", "started_at", "resolved_at", "confirmed_at",
    "invoiced_at", "closed_at", "cancelled_at",
)


def page_work_order_rows(user, f: WorkOrderFilter, *, cursor: str | None = None, limit: int = 25) -> Page:
    """page_work_orders as rows of ROW_FIELDS (tuples, in that order), for the API's list.

    The SQL of a filter's shape (which of FILTERS are set, how many states and priorities, the
    assignee `none`, a cursor or not, the limit) and of the user's visibility is compiled once per
    process and run with the request's values (`_ListSQL`); other filters (search, dates, custom
    fields, tags, SLA, external refs) go through the ORM each time. Same rows either way
    (workorders/tests/test_list_compiled.py)."""
    last = decode_cursor(cursor) if cursor else None
    compiled = _list_sql(user, f, last is not None, limit)
    if compiled is not None:
        rows = compiled.rows(f, last)
    else:
        # The joins in Django's order, as page_work_orders: PostgreSQL otherwise spends ~30 ms at
        # 1M work orders planning join orders for a 1 ms query (core.planner).
        with fixed_join_order():
            qs = filter_work_orders(user, f).values_list(*ROW_FIELDS).order_by("-id")
            if last is not None:
                qs = qs.filter(id__lt=last)
            rows = list(qs[: limit + 1])
    if len(rows) <= limit:
        return Page(rows, None)
    return Page(rows[:limit], encode_cursor(rows[limit - 1][0]))


_LIST_ID = -7_340_271_900_013  # stands for the cursor's id in a compiled list query
#: WorkOrderFilter fields that never change a list query's SQL when unset (None, or an empty list / string).
_UNKEYED = tuple(name for name in WorkOrderFilter.__dataclass_fields__ if name not in FILTERS)


class _ListSQL:
    """One filter shape's list query, compiled: the SQL, its fixed parameters, and where each
    filter value (and the cursor's id) goes."""

    def __init__(self, db: str, compiler, sql: str, params, slots: list[tuple[int, str, int | None]]):
        self.sql, self.params, self.db, self.compiler = sql, list(params), db, compiler
        self.converters = compiler.get_converters([s[0] for s in compiler.select[:compiler.col_count]])
        self.slots = slots

    def rows(self, f: WorkOrderFilter, last: int | None) -> list:
        params = list(self.params)
        for i, name, index in self.slots:
            if name == "id":
                params[i] = last
            else:
                v = getattr(f, name)
                params[i] = v if index is None else v[index]
        # The joins keep their written order while PostgreSQL plans it (core.compiled.fetch).
        rows = fetch(self.db, self.sql, params, fixed_order=True)
        if self.converters:
            rows = list(self.compiler.apply_converters(rows, self.converters))
        return rows


_list_cache: dict[tuple, _ListSQL | None] = {}


def _list_sql(user, f: WorkOrderFilter, with_cursor: bool, limit: int) -> _ListSQL | None:
    """The compiled list query for this filter's shape, or None when the ORM must build it."""
    vis = _visibility_key(user)
    if vis is None:
        return None
    for name in _UNKEYED:
        v = getattr(f, name)
        if not (v is None or v == [] or v == ""):
            return None
    shape = []
    for name in FILTERS:
        v = getattr(f, name)
        if v:
            shape.append((name, len(v) if isinstance(v, list) else ("none" if name == "assignee" and v == "none"
                                                                    else 1)))
    key = (connection.vendor, vis, tuple(shape), with_cursor, limit)
    try:
        return _list_cache[key]
    except KeyError:
        pass
    if len(_list_cache) >= 2000:
        _list_cache.clear()
    compiled = _list_cache[key] = _compile_list(user, shape, with_cursor, limit)
    return compiled


def _compile_list(user, shape, with_cursor: bool, limit: int) -> _ListSQL | None:
    stand_ins, values = {}, {}
    for name, n in shape:
        if n == "none":
            values[name] = "none"
        elif isinstance(n, int) and name in ("status", "priority"):
            values[name] = [f"\x00{name}:{i}\x00" for i in range(n)]
            stand_ins.update({v: (name, i) for i, v in enumerate(values[name])})
        else:
            values[name] = f"\x00{name}\x00"
            stand_ins[values[name]] = (name, None)
    qs = filter_work_orders(user, WorkOrderFilter(**values)).values_list(*ROW_FIELDS).order_by("-id")
    if with_cursor:
        qs = qs.filter(id__lt=_LIST_ID)
        stand_ins[_LIST_ID] = ("id", None)
    qs = qs[: limit + 1]
    compiler = qs.query.get_compiler(using=qs.db)
    try:
        sql, params = compiler.as_sql()
    except Exception:  # e.g. EmptyResultSet: leave such shapes to the ORM
        return None
    slots = []
    for i, p in enumerate(params):
        if isinstance(p, (str, int)) and not isinstance(p, bool) and p in stand_ins:
            slots.append((i, *stand_ins[p]))
    # Every stand-in exactly once as a parameter of its own, never inlined: else the ORM, every time.
    if sorted(s[1:] for s in slots) != sorted(stand_ins.values()) or "\x00" in sql:
        return None
    return _ListSQL(qs.db, compiler, sql, params, slots)


def timeline_for(user, wo: WorkOrder) -> QuerySet[TimelineEvent]:
    qs = TimelineEvent.objects.filter(work_order=wo).select_related("actor").order_by("id")
    if user.role == Role.CUSTOMER:
        qs = qs.filter(public=True)
    return qs


def attachments_for(user, wo: WorkOrder) -> QuerySet[Attachment]:
    qs = Attachment.objects.filter(work_order=wo).order_by("id")
    if user.role == Role.CUSTOMER:
        qs = qs.filter(public=True)
    return qs


def access_attachment(user, code: str, attachment_id: int) -> Attachment:
    wo = access_work_order_by_code(user, code)
    att = attachments_for(user, wo).filter(pk=attachment_id).first()
    if att is None:
        raise NotFound(_("No such attachment."))
    return att
