"""Importing ledgers: upload → mapping → validation → preview → commit → (rollback).

Views and the API call the do_* functions; the worker calls handle_one_ledger_step
(registered in apps.py with core.jobs), which does one chunk of a batch's current phase
and returns whether more is waiting. Staged rows live in the database; no phase holds a
whole sheet in memory.
"""

import logging
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q
from django.utils.translation import gettext as _

from closeloop.audit.services import record_change
from closeloop.core import wakeup
from closeloop.core.clock import now
from closeloop.core.errors import Conflict, FieldProblem, Forbidden, ValidationFailed
from closeloop.workorders import history

from . import fields as F
from . import reader
from .models import Action, ExternalRef, ImportBatch, Kind, MappingPreset, StagedRow, Status
from .selectors import may_import

log = logging.getLogger(__name__)

CHUNK = 2000
LEASE = timedelta(minutes=5)

MODELS = {"customer": "customers.Customer", "site": "customers.Site", "contact": "customers.Contact",
          "asset": "customers.Asset", "person": "accounts.User", "work_order": "workorders.WorkOrder"}
#: field name -> model attribute written (references by their id).
ATTR = {"customer": "customer_id", "site": "site_id", "team": "team_id"}

ROLE_WORDS = {"admin": "admin", "administrator": "admin", "管理员": "admin", "manager": "manager", "经理": "manager",
              "主管": "manager", "dispatcher": "dispatcher", "调度": "dispatcher", "调度员": "dispatcher",
              "engineer": "engineer", "工程师": "engineer", "技术员": "engineer", "finance": "finance",
              "财务": "finance"}
TIER_WORDS = {"standard": "standard", "标准": "standard", "普通": "standard", "silver": "silver", "银牌": "silver",
              "gold": "gold", "金牌": "gold", "platinum": "platinum", "白金": "platinum"}


#: Historical work orders: field -> (model, attribute written, message when not found).
WO_REFS = {
    "type": ("workorders.WorkOrderType", "wo_type_id", lambda: _("No work order type “%(v)s” (use its key or name).")),
    "asset": ("customers.Asset", "asset_id", lambda: _("No asset with serial number “%(v)s” (import the assets first).")),
    "engineer": ("accounts.User", "assignee_id", lambda: _("No engineer “%(v)s” (import the people first).")),
}
WO_CHOICES = {
    "priority": ({"low": "low", "低": "low", "normal": "normal", "普通": "normal", "一般": "normal", "中": "normal",
                  "high": "high", "高": "high", "urgent": "urgent", "紧急": "urgent", "特急": "urgent"},
                 lambda: _("Unknown priority “%(v)s” (low, normal, high, urgent).")),
    "status": ({"closed": "closed", "done": "closed", "已关闭": "closed", "关闭": "closed", "已完成": "closed",
                "完成": "closed", "已结单": "closed", "cancelled": "cancelled", "canceled": "cancelled",
                "已取消": "cancelled", "取消": "cancelled", "作废": "cancelled"},
               lambda: _("Only finished work can be imported as history: “%(v)s” is neither closed nor cancelled.")),
    "rating": ({str(n): n for n in range(1, 6)} | {f"{n}星": n for n in range(1, 6)},
               lambda: _("“%(v)s” is not a rating from 1 to 5.")),
}


def model_for(kind: str):
    return apps.get_model(MODELS[kind])


def _require(actor) -> None:
    if not may_import(actor):
        raise Forbidden(_("Only administrators and managers may import ledgers."))


# ---- upload ------------------------------------------------------------------------

def _headers_from(cells: list[str]) -> tuple[list[str], list[str]]:
    """Header texts for a header row, naming the blanks a merged cell leaves; and notes."""
    while cells and not cells[-1]:
        cells = cells[:-1]
    out, notes = [], []
    for i, h in enumerate(cells):
        col = _col_letter(i)
        if not h:
            left = out[-1] if out else ""
            name = f"{left} ({col})" if left else _("Column %(c)s") % {"c": col}
            notes.append(_("Column %(c)s has no header (a merged cell?): it is called “%(n)s”.") % {"c": col, "n": name})
            h = name
        if h in out:
            notes.append(_("Column %(c)s repeats the header “%(h)s”.") % {"c": col, "h": h})
            h = f"{h} ({col})"
        out.append(h)
    return out, notes


def _col_letter(i: int) -> str:
    s, n = "", i + 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def do_upload(actor, *, kind: str, filename: str, data: bytes, sheet: str | None = None) -> ImportBatch:
    """Check and open the file, find the sheet and header row that best fit `kind`, guess the
    mapping (the kind's saved one first). Raises reader.FileRefused with a clear message."""
    _require(actor)
    if kind not in Kind.values:
        raise ValidationFailed([FieldProblem("kind", _("Choose what the file holds."))])
    fmt = reader.check(data, filename)
    infos = reader.sheets(data, fmt)
    if sheet:
        infos = [i for i in infos if i.name == sheet] or infos
    best = None  # (score, sheet index, row index)
    for si, info in enumerate(infos):
        for ri, cells in enumerate(info.top):
            score = F.header_score(kind, cells)
            if best is None or score > best[0]:
                best = (score, si, ri)
    if best is None or best[0] == 0:
        raise reader.FileRefused(_("No header row was recognised in the first %(n)d rows of any sheet: the "
                                   "file needs a row of column names (such as 客户名称, 序列号).")
                                 % {"n": reader.HEADER_SCAN})
    _score, si, ri = best
    headers, notes = _headers_from(infos[si].top[ri])
    preset = MappingPreset.objects.filter(kind=kind).first()
    mapping = F.guess_mapping(kind, headers, preset.mapping if preset else None)
    return ImportBatch.objects.create(
        kind=kind, filename=filename[:255], content=data, sheet=infos[si].name, header_row=ri + 1,
        headers=headers, mapping=mapping, notes=notes, created_by=actor, created_at=now(),
        counts={"sheets": [i.name for i in infos]})


def do_set_mapping(actor, batch: ImportBatch, mapping: dict[str, int | None]) -> ImportBatch:
    """Save the mapping (and remember it for the kind's next import), start validating."""
    _require(actor)
    if batch.status not in (Status.MAPPING, Status.PREVIEW):
        raise Conflict(_("This import is past the mapping step."))
    clean, problems, seen = {}, [], {}
    for f in F.fields_for(batch.kind):
        i = mapping.get(f.name)
        if i is None or i == "":
            if f.required:
                problems.append(FieldProblem(f.name, _("Choose the column for %(f)s.") % {"f": f.label}))
            continue
        try:
            i = int(i)
        except (TypeError, ValueError):
            i = -1
        if not 0 <= i < len(batch.headers):
            problems.append(FieldProblem(f.name, _("No such column.")))
            continue
        if i in seen:
            problems.append(FieldProblem(f.name, _("Column “%(h)s” is already used for %(f)s.")
                                         % {"h": batch.headers[i], "f": seen[i]}))
            continue
        seen[i] = f.label
        clean[f.name] = i
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        StagedRow.objects.filter(batch=batch).delete()
        batch.mapping = clean
        batch.status, batch.phase, batch.cursor = Status.VALIDATING, "staging", 0
        batch.done_rows, batch.total_rows, batch.error = 0, 0, ""
        batch.save()
        MappingPreset.objects.update_or_create(
            kind=batch.kind, defaults={"mapping": {k: batch.headers[i] for k, i in clean.items()}, "updated_at": now()})
        wakeup.wake()
    return batch


def do_confirm(actor, batch: ImportBatch) -> ImportBatch:
    _require(actor)
    with transaction.atomic():
        won = ImportBatch.objects.filter(id=batch.id, status=Status.PREVIEW).update(
            status=Status.COMMITTING, cursor=0, done_rows=0, error="")
        wakeup.wake()
    if not won:
        raise Conflict(_("This import is not waiting for confirmation."))
    batch.refresh_from_db()
    return batch


def do_rollback(actor, batch: ImportBatch) -> ImportBatch:
    _require(actor)
    won = ImportBatch.objects.filter(id=batch.id, status=Status.COMMITTED).update(
        status=Status.ROLLING_BACK, error="")
    if not won:
        raise Conflict(_("Only an imported batch can be rolled back."))
    wakeup.wake()
    batch.refresh_from_db()
    return batch


def do_discard(actor, batch: ImportBatch) -> ImportBatch:
    _require(actor)
    with transaction.atomic():
        won = ImportBatch.objects.filter(id=batch.id, status__in=[Status.MAPPING, Status.PREVIEW, Status.FAILED]) \
            .update(status=Status.DISCARDED, content=b"")
        if not won:
            raise Conflict(_("This import can no longer be discarded."))
        StagedRow.objects.filter(batch=batch).delete()
    batch.refresh_from_db()
    return batch


# ---- the worker --------------------------------------------------------------------

def next_ledger_at():
    row = ImportBatch.objects.filter(status__in=[Status.VALIDATING, Status.COMMITTING, Status.ROLLING_BACK]) \
        .values_list("claimed_until", flat=True).order_by("id").first()
    if row is None and not ImportBatch.objects.filter(
            status__in=[Status.VALIDATING, Status.COMMITTING, Status.ROLLING_BACK]).exists():
        return None
    return row or now()


def handle_one_ledger_step(worker_id: str = "worker") -> bool:
    """One chunk of the oldest batch being worked on. Returns whether more is waiting."""
    t = now()
    working = [Status.VALIDATING, Status.COMMITTING, Status.ROLLING_BACK]
    b = (ImportBatch.objects.filter(status__in=working).filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=t))
         .order_by("id").values("id", "claimed_until").first())
    if b is None:
        return False
    if not ImportBatch.objects.filter(id=b["id"], claimed_until=b["claimed_until"]).update(claimed_until=t + LEASE):
        return True
    batch = ImportBatch.objects.get(id=b["id"])
    try:
        if batch.status == Status.VALIDATING:
            _validate_step(batch)
        elif batch.status == Status.COMMITTING:
            _commit_step(batch)
        else:
            _rollback(batch)
    except reader.FileRefused as e:
        ImportBatch.objects.filter(id=batch.id).update(status=Status.FAILED, error=str(e))
    except Exception as e:
        log.exception("ledger import %s failed", batch.id)
        ImportBatch.objects.filter(id=batch.id).update(
            status=Status.FAILED if batch.status == Status.VALIDATING else batch.status, error=str(e)[:2000])
        if batch.status != Status.VALIDATING:
            # A commit or rollback that failed part-way stays resumable; stop retrying it in a loop.
            ImportBatch.objects.filter(id=batch.id).update(
                status=Status.FAILED if batch.status == Status.COMMITTING else Status.COMMITTED)
    finally:
        ImportBatch.objects.filter(id=batch.id).update(claimed_until=None)
    return True


def run_until_idle(limit: int = 100_000) -> None:
    """Work off every batch now (tests, the benchmark, `closeloop import`)."""
    for _i in range(limit):
        if not handle_one_ledger_step("inline"):
            return


# ---- validation --------------------------------------------------------------------

def _validate_step(batch: ImportBatch) -> None:
    if batch.phase == "staging":
        _stage(batch)
    else:
        _check_chunk(batch)


def _stage(batch: ImportBatch) -> None:
    """Stream the sheet's rows, check them CHUNK at a time and store each row once, checked
    (progress per chunk). A restarted step (a worker died mid-file) starts the file again."""
    StagedRow.objects.filter(batch=batch).delete()
    fmt = reader.file_format(batch.filename)
    data = bytes(batch.content)
    buf, total = [], 0
    width = len(batch.headers)
    for n, cells in reader.rows(data, fmt, batch.sheet, batch.header_row + 1):
        buf.append(StagedRow(batch_id=batch.id, row_number=n, values=(cells + [""] * width)[:width]
                             if len(cells) != width else cells))
        if len(buf) >= CHUNK:
            total += _stage_chunk(batch, buf, total)
            buf = []
    if buf:
        total += _stage_chunk(batch, buf, total)
    if total == 0:
        raise reader.FileRefused(_("The sheet has no rows under its header row."))
    ImportBatch.objects.filter(id=batch.id).update(total_rows=total, done_rows=total, phase="checking",
                                                   cursor=StagedRow.objects.filter(batch=batch).aggregate(m=Max("id"))["m"] or 0)


def _stage_chunk(batch: ImportBatch, rows: list[StagedRow], before: int) -> int:
    _check_rows(batch, rows)
    _insert_rows(rows)
    ImportBatch.objects.filter(id=batch.id).update(total_rows=before + len(rows), done_rows=before + len(rows))
    return len(rows)


def _insert_rows(rows: list[StagedRow]) -> None:
    """Staged rows; those that have an id keep it (a rewrite)."""
    if rows:
        _insert(StagedRow, rows, with_pk=rows[0].id is not None)


def _save_outcome(rows: list[StagedRow]) -> None:
    """What the commit did to each row (action, errors, object, before, applied): one prepared
    UPDATE by primary key, run for all of them."""
    meta = StagedRow._meta
    fields = [meta.get_field(n) for n in ("action", "errors", "object_id", "before", "applied")]
    qn = connection.ops.quote_name
    sql = (f"UPDATE {qn(meta.db_table)} SET {', '.join(f'{qn(f.column)} = %s' for f in fields)} "
           f"WHERE {qn(meta.pk.column)} = %s")
    params = [[*(f.get_db_prep_save(getattr(r, f.attname), connection) for f in fields), r.id] for r in rows]
    with connection.cursor() as c:
        c.executemany(sql, params)


def _insert(Model, objs: list, *, with_pk: bool = False) -> None:
    """INSERT model instances with one prepared statement run for all of them (executemany).
    Django's bulk_create compiles every value of every row into one statement: two thirds
    of an import's time went there. No ids are read back (callers that need them look them
    up by their unique key); no signals are sent, as with bulk_create."""
    if not objs:
        return
    meta = Model._meta
    fields = [f for f in meta.concrete_fields if with_pk or not f.primary_key]
    qn = connection.ops.quote_name
    sql = (f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    params = [[f.get_db_prep_save(f.pre_save(o, True), connection) for f in fields] for o in objs]
    with connection.cursor() as c:
        c.executemany(sql, params)


def _norm(v):
    if isinstance(v, Decimal):
        return str(v.quantize(Decimal("0.000001")))
    if isinstance(v, date):
        return v.isoformat()
    return v


class _Refs:
    """Lookups of referenced customers, sites and teams for one chunk (by code, then name)."""

    def __init__(self, kind: str):
        self.kind = kind
        self.cache: dict[tuple, int | str] = {}

    def load(self, model_name: str, keys: set[str], extra=None, by=("code", "name"), qs=None):
        """Find `keys` by the unique field by[0], else by the (maybe shared) field by[1]."""
        Model = apps.get_model(model_name)
        keys = {k for k in keys if k and ("c", model_name, k) not in self.cache}
        if not keys:
            return
        code, name = by
        qs = (qs if qs is not None else Model.objects).filter(Q(**{f"{code}__in": keys}) | Q(**{f"{name}__in": keys}))
        by_code, by_name = {}, {}
        for o in qs.values("id", code, name, *(extra or [])):
            o["code"], o["name"] = o[code], o[name]
            by_code[o["code"]] = o
            by_name.setdefault(o["name"], []).append(o)
        for k in keys:
            if k in by_code:
                self.cache[("c", model_name, k)] = by_code[k]
            elif len(by_name.get(k, [])) == 1:
                self.cache[("c", model_name, k)] = by_name[k][0]
            elif len(by_name.get(k, [])) > 1:
                self.cache[("c", model_name, k)] = "ambiguous"
            else:
                self.cache[("c", model_name, k)] = None

    def get(self, model_name: str, k: str):
        return self.cache.get(("c", model_name, k))


def _parse_row(kind: str, batch: ImportBatch, values: list[str], refs: _Refs, actor) -> tuple[dict, list[dict]]:
    """The model values a row writes (only its non-blank cells) and its problems."""
    out, errors = {}, []
    headers = batch.headers
    for f in F.fields_for(kind):
        i = batch.mapping.get(f.name)
        text = values[i].strip() if i is not None and i < len(values) else ""
        col = headers[i] if i is not None else str(f.label)
        if not text:
            if f.required:
                errors.append({"column": col, "message": _("%(f)s is required.") % {"f": f.label}})
            continue
        try:
            if len(text) > f.max_length and f.kind != "date":
                raise F.BadValue(_("Too long (%(n)d characters; at most %(m)d).") % {"n": len(text), "m": f.max_length})
            if f.kind == "date":
                out[f.name] = F.parse_date(text).isoformat()
            elif f.kind == "datetime":
                out[f.name] = F.parse_datetime(text).isoformat()
            elif kind == Kind.WORK_ORDER and f.name in WO_REFS:
                model_name, attr, what = WO_REFS[f.name]
                c = refs.get(model_name, text)
                if c is None or c == "ambiguous":
                    raise F.BadValue(what() % {"v": text})
                out[attr] = c["id"]
                if f.name == "asset":
                    out["_asset_customer"] = c["customer_id"]
            elif kind == Kind.WORK_ORDER and f.name in WO_CHOICES:
                value = WO_CHOICES[f.name][0].get(text.lower())
                if value is None:
                    raise F.BadValue(WO_CHOICES[f.name][1]() % {"v": text})
                out[f.name] = value
            elif f.kind == "phone":
                out[f.name] = F.parse_phone(text)
            elif f.kind == "decimal":
                d = F.parse_decimal(text)
                limit = 90 if f.name == "latitude" else 180
                if abs(d) > limit:
                    raise F.BadValue(_("“%(v)s” is out of range.") % {"v": text})
                out[f.name] = _norm(d)
            elif f.kind == "email":
                out[f.name] = F.parse_email(text)
            elif f.name == "role":
                role = ROLE_WORDS.get(text.lower())
                if role is None:
                    raise F.BadValue(_("Unknown role “%(v)s” (admin, manager, dispatcher, engineer, finance).")
                                     % {"v": text})
                if role == "admin" and not (actor.is_superuser or actor.role == "admin"):
                    raise F.BadValue(_("Only an administrator may give the administrator role."))
                out[f.name] = role
            elif f.name == "tier":
                tier = TIER_WORDS.get(text.lower())
                if tier is None:
                    raise F.BadValue(_("Unknown tier “%(v)s” (standard, silver, gold, platinum).") % {"v": text})
                out[f.name] = tier
            elif f.name == "customer":
                c = refs.get("customers.Customer", text)
                if c is None:
                    raise F.BadValue(_("No customer “%(v)s” (import the customers first).") % {"v": text})
                if c == "ambiguous":
                    raise F.BadValue(_("Several customers are called “%(v)s”: use the customer code.") % {"v": text})
                out["customer_id"] = c["id"]
            elif f.name == "team":
                c = refs.get("accounts.Team", text)
                if c is None or c == "ambiguous":
                    raise F.BadValue(_("No team “%(v)s”.") % {"v": text})
                out["team_id"] = c["id"]
            elif f.name == "site":
                out["_site"] = text
            elif f.name in ("code", "username"):
                if f.name == "code" and not re.fullmatch(r"[-a-zA-Z0-9_]+", text):
                    raise F.BadValue(_("“%(v)s”: a code may hold only letters, digits, - and _.") % {"v": text})
                out[f.name] = text
            else:
                out[f.name] = text
        except F.BadValue as e:
            errors.append({"column": col, "message": str(e)})
    if kind == Kind.WORK_ORDER:
        asset_customer = out.pop("_asset_customer", None)
        if asset_customer is not None:
            if out.get("customer_id") and asset_customer != out["customer_id"]:
                errors.append({"column": headers[batch.mapping["asset"]],
                               "message": _("This asset belongs to another customer.")})
            out.setdefault("customer_id", asset_customer)
        if out.get("closed_at") and out.get("reported_at") and (
                datetime.fromisoformat(out["closed_at"]) < datetime.fromisoformat(out["reported_at"])):
            errors.append({"column": headers[batch.mapping["closed_at"]],
                           "message": _("Closed before it was reported.")})
    if "_site" in out:
        text = out.pop("_site")
        s = refs.get("customers.Site", text)
        i = batch.mapping.get("site")
        if s is None or s == "ambiguous":
            errors.append({"column": headers[i], "message": _("No site “%(v)s” (import the sites first).") % {"v": text}})
        elif out.get("customer_id") and s["customer_id"] != out["customer_id"]:
            errors.append({"column": headers[i], "message": _("Site “%(v)s” belongs to another customer.") % {"v": text}})
        else:
            out["site_id"] = s["id"]
    return out, errors


def _key(kind: str, vals: dict) -> str:
    if kind == "contact":
        who = vals.get("phone") or vals.get("name") or ""
        return f"{vals.get('customer_id', '')}:{who}"[:200]
    return str(vals.get(F.KEY_FIELD[kind], ""))[:200]


def _existing(kind: str, rows: list[tuple[StagedRow, dict]]) -> dict[int, object]:
    """id(staged row) -> the object it matches (on external id, then on its key)."""
    Model = model_for(kind)
    if kind == Kind.WORK_ORDER:  # matched on the old number only; history is never updated
        done = history.imported_ids({r.key for r, _vals in rows})
        objs = Model.objects.in_bulk(set(done.values()))
        return {id(r): objs[done[r.key]] for r, _vals in rows if r.key in done and done[r.key] in objs}
    ext = {vals["external_id"] for _r, vals in rows if vals.get("external_id")}
    by_ext = dict(ExternalRef.objects.filter(kind=kind, external_id__in=ext).values_list("external_id", "object_id"))
    out: dict[int, object] = {}
    ids = set(by_ext.values())
    if kind == "contact":
        cust = {vals.get("customer_id") for _r, vals in rows}
        objs = list(Model.objects.filter(Q(customer_id__in=cust) | Q(id__in=ids)))
        by_key = {}
        for o in objs:
            by_key.setdefault(f"{o.customer_id}:{o.phone}", o)
            by_key.setdefault(f"{o.customer_id}:{o.name}", o)
        by_id = {o.id: o for o in objs}
    else:
        field = F.KEY_FIELD[kind]
        keys = {vals.get(field) for _r, vals in rows if vals.get(field)}
        objs = list(Model.objects.filter(Q(**{f"{field}__in": keys}) | Q(id__in=ids)))
        by_key = {getattr(o, field): o for o in objs}
        by_id = {o.id: o for o in objs}
    for r, vals in rows:
        oid = by_ext.get(vals.get("external_id"))
        o = by_id.get(oid) if oid else None
        if o is None:
            o = by_key.get(r.key)
        if o is not None:
            out[id(r)] = o
    return out


def _attrs(vals: dict) -> dict:
    return {k: v for k, v in vals.items() if k != "external_id"}


def _snapshot(obj, keys) -> dict:
    return {k: _norm(getattr(obj, k)) for k in keys}


def _rewrite(rows: list[StagedRow]) -> None:
    """Save a chunk of staged rows: delete and insert them again under their own ids (two
    statements; bulk_update's CASE WHEN per row and field costs seconds per chunk)."""
    with transaction.atomic():
        StagedRow.objects.filter(id__in=[r.id for r in rows]).delete()  # one DELETE: nothing points at a row
        _insert_rows(rows)


def _check_chunk(batch: ImportBatch) -> None:
    """Check staged rows that are not checked yet (a batch staged before checking moved into
    staging), CHUNK at a time."""
    chunk = list(StagedRow.objects.filter(batch=batch, id__gt=batch.cursor).order_by("id")[:CHUNK])
    if not chunk:
        _finish_validation(batch)
        return
    _check_rows(batch, chunk)
    _rewrite(chunk)
    ImportBatch.objects.filter(id=batch.id).update(cursor=chunk[-1].id, done_rows=batch.done_rows + len(chunk))


def _check_rows(batch: ImportBatch, chunk: list[StagedRow]) -> None:
    """Parse and check a chunk of rows in memory: each gets its key, action, errors and the
    values it will write (`after`)."""
    refs = _Refs(batch.kind)
    m = batch.mapping

    def cells(name):
        i = m.get(name)
        return {r.values[i].strip() for r in chunk if i is not None and i < len(r.values)}

    if "customer" in m:
        refs.load("customers.Customer", cells("customer"))
    if "site" in m:
        refs.load("customers.Site", cells("site"), extra=["customer_id"])
    if "team" in m:
        refs.load("accounts.Team", cells("team"))
    if batch.kind == Kind.WORK_ORDER:
        if "type" in m:
            refs.load("workorders.WorkOrderType", cells("type"), by=("key", "name"))
        if "asset" in m:
            refs.load("customers.Asset", cells("asset"), extra=["customer_id"], by=("serial_number", "serial_number"))
        if "engineer" in m:
            refs.load("accounts.User", cells("engineer"), by=("username", "display_name"),
                      qs=apps.get_model("accounts.User").objects.exclude(role="customer"))
    actor = batch.created_by
    parsed = []
    for r in chunk:
        vals, errors = _parse_row(batch.kind, batch, r.values, refs, actor)
        r.errors = errors
        r.key = _key(batch.kind, vals)  # kept on a row with problems too: a duplicate of it is one
        parsed.append((r, vals))
    found = _existing(batch.kind, [(r, v) for r, v in parsed if not r.errors])
    for r, vals in parsed:
        if r.errors:
            r.action, r.after, r.object_id = Action.ERROR, None, None
            continue
        obj = found.get(id(r))
        attrs = _attrs(vals)
        r.after = vals
        if obj is None:
            r.action, r.object_id = Action.CREATE, None
            continue
        r.object_id = obj.id
        if batch.kind == Kind.WORK_ORDER:
            r.action = Action.UNCHANGED  # imported before: history is not rewritten
            continue
        if batch.kind == "person" and (obj.is_superuser or obj.role == "admin") and not (
                actor.is_superuser or actor.role == "admin"):
            r.action = Action.ERROR
            r.errors = [{"column": batch.headers[m["username"]],
                         "message": _("Only an administrator may change an administrator's account.")}]
            continue
        if batch.kind == "person" and obj.role == "customer":
            r.action = Action.ERROR
            r.errors = [{"column": batch.headers[m["username"]],
                         "message": _("“%(v)s” is a customer's account; it cannot be imported as staff.")
                         % {"v": obj.username}}]
            continue
        r.action = Action.UNCHANGED if _snapshot(obj, attrs) == attrs else Action.UPDATE


def _finish_validation(batch: ImportBatch) -> None:
    """Duplicates within the file (set-based), then the counts; the batch waits for confirmation."""
    dups = (StagedRow.objects.filter(batch=batch).exclude(key="").exclude(key__endswith=":").values("key")
            .annotate(n=Count("id"), first=Min("id")).filter(n__gt=1))
    field = F.KEY_FIELD[batch.kind]
    col = batch.headers[batch.mapping[field]] if field in batch.mapping else ""
    for d in dups.iterator():
        first = StagedRow.objects.get(id=d["first"])
        later = list(StagedRow.objects.filter(batch=batch, key=d["key"]).exclude(id=d["first"]))
        for r in later:
            r.action = Action.ERROR
            r.errors = [*r.errors, {"column": col, "message": _("“%(k)s” appears twice in the file (first in row "
                                                                 "%(n)d).") % {"k": d["key"].split(":")[-1],
                                                                               "n": first.row_number}}]
        StagedRow.objects.bulk_update(later, ["action", "errors"])
    counts = dict(StagedRow.objects.filter(batch=batch).values_list("action").annotate(n=Count("id")))
    sheets = batch.counts.get("sheets", [])
    ImportBatch.objects.filter(id=batch.id).update(
        status=Status.PREVIEW, phase="", cursor=0,
        counts={"sheets": sheets, **{a: counts.get(a, 0) for a in Action.values}})


# ---- commit ------------------------------------------------------------------------

def _commit_step(batch: ImportBatch) -> None:
    Model = model_for(batch.kind)
    chunk = list(StagedRow.objects.filter(batch=batch, id__gt=batch.cursor,
                                          action__in=[Action.CREATE, Action.UPDATE]).order_by("id")[:CHUNK])
    if not chunk:
        _finish_commit(batch)
        return
    with transaction.atomic():
        creates = [r for r in chunk if r.action == Action.CREATE]
        updates = [r for r in chunk if r.action == Action.UPDATE]
        # Someone may have added the same key since the preview: such a row becomes an error.
        if creates and batch.kind == Kind.WORK_ORDER:
            taken = set(history.imported_ids({r.key for r in creates}))
        elif creates and batch.kind != "contact":
            field = F.KEY_FIELD[batch.kind]
            taken = set(Model.objects.filter(**{f"{field}__in": [r.key for r in creates]})
                        .values_list(field, flat=True))
        else:
            taken = set()
        if taken:
            for r in creates:
                if r.key in taken:
                    r.action = Action.ERROR
                    r.errors = [{"column": "", "message": _("“%(k)s” was added by someone else after the "
                                                            "preview.") % {"k": r.key}}]
            creates = [r for r in creates if r.action == Action.CREATE]
        if batch.kind == Kind.WORK_ORDER:
            ids = history.do_import_history(actor=batch.created_by, rows=[_history_row(r) for r in creates])
            for r, oid in zip(creates, ids, strict=True):
                r.object_id, r.applied = oid, True
            objs = []
        else:
            objs = [_new(batch.kind, r.after) for r in creates]
        if batch.kind == "contact":  # no unique key to find the new rows by: read their ids back
            Model.objects.bulk_create(objs, batch_size=500)
            for r, o in zip(creates, objs, strict=True):
                r.object_id, r.applied = o.pk, True
        elif objs:
            _insert(Model, objs)
            field = F.KEY_FIELD[batch.kind]
            ids = dict(Model.objects.filter(**{f"{field}__in": [r.key for r in creates]}).values_list(field, "id"))
            for r in creates:
                r.object_id, r.applied = ids[r.key], True
        if updates:
            current = Model.objects.in_bulk([r.object_id for r in updates])
            changed, fields = [], set()
            for r in updates:
                o = current.get(r.object_id)
                if o is None:
                    r.action = Action.ERROR
                    r.errors = [{"column": "", "message": _("The record was deleted after the preview.")}]
                    continue
                attrs = _attrs(r.after)
                r.before = _snapshot(o, attrs)
                for k, v in attrs.items():
                    setattr(o, k, v)
                fields.update(attrs)
                changed.append(o)
                r.applied = True
            if changed:
                Model.objects.bulk_update(changed, sorted(fields), batch_size=500)
        refs = [ExternalRef(kind=batch.kind, external_id=r.after["external_id"], object_id=r.object_id, batch=batch)
                for r in chunk if r.applied and r.after and r.after.get("external_id")]
        ExternalRef.objects.bulk_create(refs, ignore_conflicts=True)
        _save_outcome(chunk)
        ImportBatch.objects.filter(id=batch.id).update(cursor=chunk[-1].id, done_rows=batch.done_rows + len(chunk))


def _history_row(r: StagedRow) -> dict:
    """A checked row as workorders.history wants it (times parsed, closed by default)."""
    vals = dict(r.after)
    vals["reported_at"] = datetime.fromisoformat(vals["reported_at"])
    vals["closed_at"] = datetime.fromisoformat(vals["closed_at"]) if vals.get("closed_at") else None
    vals.setdefault("status", "closed")
    return vals


def _new(kind: str, vals: dict):
    Model = model_for(kind)
    attrs = _attrs(vals)
    if kind == "asset" and not attrs.get("name"):
        attrs["name"] = attrs.get("model") or attrs["serial_number"]
    if kind == "person":
        attrs.setdefault("role", "engineer")
        attrs["password"] = make_password(None)
        attrs["date_joined"] = now()
        attrs["is_active"] = True
    if kind == "customer":
        attrs.setdefault("created_at", now())
    return Model(**attrs)


def _finish_commit(batch: ImportBatch) -> None:
    counts = dict(StagedRow.objects.filter(batch=batch).values_list("action").annotate(n=Count("id")))
    with transaction.atomic():
        ImportBatch.objects.filter(id=batch.id).update(
            status=Status.COMMITTED, committed_at=now(), cursor=0, content=b"",
            counts={"sheets": batch.counts.get("sheets", []), **{a: counts.get(a, 0) for a in Action.values}})
        batch.refresh_from_db()
        record_change(actor=batch.created_by, kind="ledger_import", obj=batch, before=None,
                      after={"kind": batch.kind, "file": batch.filename, "created": counts.get(Action.CREATE, 0),
                             "updated": counts.get(Action.UPDATE, 0)})


# ---- rollback ----------------------------------------------------------------------

class RollbackRefused(Exception):
    pass


def _dependents(Model, ids: list[int]) -> tuple[str, int] | None:
    """The first other record that points at one of `ids`, described; None when there is none."""
    for rel in Model._meta.related_objects:
        related = rel.related_model
        if related is ExternalRef:
            continue
        name = rel.field.name
        hit = related._base_manager.filter(**{f"{name}__in": ids}).values_list(name, flat=True).first()
        if hit is not None:
            return _("%(what)s refers to it") % {"what": related._meta.verbose_name}, hit
    return None


def _rollback(batch: ImportBatch) -> None:
    """Undo the whole batch in one transaction, or nothing with the reason kept in batch.error."""
    Model = model_for(batch.kind)
    try:
        with transaction.atomic():
            qs = StagedRow.objects.filter(batch=batch, applied=True).order_by("id")
            last = 0
            while True:
                chunk = list(qs.filter(id__gt=last)[:CHUNK])
                if not chunk:
                    break
                last = chunk[-1].id
                if batch.kind == Kind.WORK_ORDER:  # created only, never updated
                    ids = [r.object_id for r in chunk]
                    busy = history.in_use_since_import(ids)
                    if busy is not None:
                        row = next(r for r in chunk if r.object_id == busy)
                        raise RollbackRefused(_("Row %(n)d (%(k)s) was changed or used since the import; "
                                                "nothing was rolled back.") % {"n": row.row_number, "k": row.key})
                    history.do_remove_imported(ids)
                    continue
                current = Model.objects.in_bulk([r.object_id for r in chunk])
                restore, fields, created = [], set(), []
                for r in chunk:
                    o = current.get(r.object_id)
                    attrs = _attrs(r.after)
                    if o is None or _snapshot(o, attrs) != attrs:
                        raise RollbackRefused(_("Row %(n)d (%(k)s) was changed or deleted since the import; "
                                                "nothing was rolled back.") % {"n": r.row_number, "k": r.key})
                    if r.action == Action.CREATE:
                        created.append(r)
                    else:
                        for k, v in (r.before or {}).items():
                            setattr(o, k, v)
                        fields.update(r.before or {})
                        restore.append(o)
                if created:
                    ids = [r.object_id for r in created]
                    dep = _dependents(Model, ids)
                    if dep:
                        what, oid = dep
                        row = next(r for r in created if r.object_id == oid)
                        raise RollbackRefused(_("Row %(n)d (%(k)s) is in use since the import: %(what)s. Nothing "
                                                "was rolled back.") % {"n": row.row_number, "k": row.key,
                                                                      "what": what})
                    Model.objects.filter(id__in=ids).delete()
                if restore:
                    Model.objects.bulk_update(restore, sorted(fields), batch_size=500)
            ExternalRef.objects.filter(batch=batch).delete()
            StagedRow.objects.filter(batch=batch, applied=True).update(applied=False)
            ImportBatch.objects.filter(id=batch.id).update(status=Status.ROLLED_BACK, rolled_back_at=now())
            record_change(actor=batch.created_by, kind="ledger_import", obj=batch,
                          before={"kind": batch.kind, "file": batch.filename, "status": "committed"},
                          after={"kind": batch.kind, "file": batch.filename, "status": "rolled_back"})
    except RollbackRefused as e:
        ImportBatch.objects.filter(id=batch.id).update(status=Status.COMMITTED, error=str(e))
