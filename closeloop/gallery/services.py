"""Templates: a configuration bundle (work order types with their fields, process steps and
closure gates, business calendars, SLA policies) installed in one step, and any
installation's configuration exported as such a bundle for another one.

A bundle is a human-readable JSON file (docs/administration.md, "Templates"):

    {"format": "closeloop-template", "version": 2, "key": "repair",
     "name": {"zh-hans": "维修工单", "en": "Repair work orders"}, "description": {...},
     "calendars": [...], "types": [{..., "stages": [...], "fields": [...], "closure": {...}}],
     "sla_policies": [...]}

A type's "stages" is its main line (workorders.mainline); files of version 1 have none, and their
types get every stage, as types had before main lines existed.

Installing never changes what is there: each item whose key exists is left as it is
("exists"); a new type whose code prefix another type uses, or an SLA policy naming a
calendar neither there nor in the bundle, is a conflict and nothing is installed. Every
item is written by its own app's service (the same checks as the API) in one transaction:
any problem, named by the item it is in, and nothing is written.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from closeloop.audit.services import record_change
from closeloop.core.errors import FieldProblem, ValidationFailed
from closeloop.fieldwork import services as fieldwork_services
from closeloop.fieldwork.models import ClosurePolicy
from closeloop.sla import services as sla_services
from closeloop.sla.models import BusinessCalendar, SLAPolicy
from closeloop.workorders import mainline, types_services
from closeloop.workorders.models import WorkOrderType

FORMAT = "closeloop-template"
#: 2: a type carries its main line ("stages", workorders.mainline); a version 1 file has none and its
#: types get the default line (every stage).
VERSION = 2
MAX_BYTES = 1024 * 1024
BUNDLES = Path(__file__).resolve().parent / "bundles"
#: The order the gallery shows its bundles in.
GALLERY = ("general", "repair", "production", "service", "after_sales")
TOP_KEYS = {"format", "version", "key", "name", "description", "calendars", "types", "sla_policies", "rules",
            "approval_flows", "handoffs", "queues"}
#: The parts written by other apps' services, and what names an item of each (its natural key).
EXTRA_PARTS = {"rules": ("name",), "approval_flows": ("action",), "handoffs": ("action",), "queues": ("name",)}
TYPE_KEYS = {"key", "name", "kind", "prefix", "description", "process_steps", "stages", "fields", "closure"}
FIELD_KEYS = {"key", "label", "kind", "required", "choices", "min_value", "max_value", "max_length", "pattern",
              "help_text", "unit"}
CLOSURE_KEYS = {"require_signature", "require_invoice", "auto_close", "form_fields", "checkin_radius_m"}


@dataclass
class Item:
    kind: str  # calendar | type | sla_policy | rule | approval_flow | handoff | queue
    key: str
    name: str
    action: str  # create | exists | conflict
    detail: str = ""
    adds: list[str] = field(default_factory=list)  # fields, steps and gates a new type brings


@dataclass
class Bundle:
    data: dict

    @property
    def key(self) -> str:
        return str(self.data.get("key") or "")

    def text(self, name: str) -> str:
        v = self.data.get(name) or ""
        if isinstance(v, dict):
            lang = (get_language() or "zh-hans").lower()
            return str(v.get(lang) or v.get("en" if lang.startswith("en") else "zh-hans") or next(iter(v.values()), ""))
        return str(v)

    @property
    def name(self) -> str:
        return self.text("name") or self.key

    @property
    def description(self) -> str:
        return self.text("description")

    @property
    def types(self) -> list[dict]:
        return self.data.get("types") or []

    def source(self) -> str:
        return json.dumps(self.data, ensure_ascii=False, indent=2)


# ---- reading -------------------------------------------------------------------------------

def gallery() -> list[Bundle]:
    return [load(k) for k in GALLERY]


def load(key: str) -> Bundle:
    if key not in GALLERY:
        raise KeyError(key)
    return parse((BUNDLES / f"{key}.json").read_bytes())


def parse(raw: bytes | str) -> Bundle:
    """A bundle from a file's bytes, or ValidationFailed naming what is wrong with its shape.
    The items themselves are checked by their services when installed."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > MAX_BYTES:
        raise ValidationFailed(FieldProblem("file", _("A template file is at most 1 MB.")))
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValidationFailed(FieldProblem("file", _("This is not a template file (not JSON: %(e)s).") % {"e": e}))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValidationFailed(FieldProblem("format", _("This is not a closeloop template (its format is not "
                                                        "“closeloop-template”).")))
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValidationFailed(FieldProblem("version", _("The template has no valid version.")))
    if version > VERSION:
        raise ValidationFailed(FieldProblem("version", _("The template was made by a newer closeloop (version "
                                                         "%(v)d; this one reads up to %(max)d): upgrade first.")
                                            % {"v": version, "max": VERSION}))
    problems = [FieldProblem(k, _("Unknown part of a template."), "unknown") for k in sorted(set(data) - TOP_KEYS)]
    for part in ("calendars", "types", "sla_policies"):
        items = data.get(part, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("key"), str)
                                                  and i.get("key") for i in items):
            problems.append(FieldProblem(part, _("A list of objects, each with a key.")))
    for part, (name_key,) in EXTRA_PARTS.items():
        items = data.get(part, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get(name_key), str)
                                                  and i.get(name_key) for i in items):
            problems.append(FieldProblem(part, _("A list of objects, each with a %(k)s.") % {"k": name_key}))
    for i, t in enumerate(data.get("types") or []):
        if not isinstance(t, dict):
            continue
        where = f"types[{t.get('key') or i}]"
        problems += [FieldProblem(f"{where}.{k}", _("Unknown part of a type."), "unknown") for k in sorted(set(t) - TYPE_KEYS)]
        fields = t.get("fields", [])
        if not isinstance(fields, list) or not all(isinstance(f, dict) for f in fields):
            problems.append(FieldProblem(f"{where}.fields", _("A list of field definitions.")))
        else:
            for f in fields:
                problems += [FieldProblem(f"{where}.fields[{f.get('key')}].{k}", _("Unknown part of a field."),
                                          "unknown") for k in sorted(set(f) - FIELD_KEYS)]
        closure = t.get("closure", {})
        if not isinstance(closure, dict):
            problems.append(FieldProblem(f"{where}.closure", _("An object of closure gates.")))
        else:
            problems += [FieldProblem(f"{where}.closure.{k}", _("Unknown closure gate."), "unknown")
                         for k in sorted(set(closure) - CLOSURE_KEYS)]
    if problems:
        raise ValidationFailed(problems)
    return Bundle(data)


# ---- planning and installing ----------------------------------------------------------------

def plan(bundle: Bundle) -> list[Item]:
    """What installing `bundle` would do, item by item (nothing written)."""
    items = []
    cal_keys = set(BusinessCalendar.objects.filter(key__in=[c["key"] for c in bundle.data.get("calendars") or []])
                   .values_list("key", flat=True))
    for c in bundle.data.get("calendars") or []:
        items.append(Item("calendar", c["key"], str(c.get("name") or c["key"]),
                          "exists" if c["key"] in cal_keys else "create"))
    known_cals = set(BusinessCalendar.objects.values_list("key", flat=True)) | {c["key"] for c in
                                                                               bundle.data.get("calendars") or []}
    types = {t.key: t for t in WorkOrderType.objects.all()}
    by_prefix = {t.prefix: t for t in types.values()}
    for t in bundle.types:
        name = str(t.get("name") or t["key"])
        if t["key"] in types:
            items.append(Item("type", t["key"], name, "exists"))
            continue
        other = by_prefix.get(str(t.get("prefix") or ""))
        if other is not None:
            items.append(Item("type", t["key"], name, "conflict",
                              _("The code prefix %(p)s is used by the type “%(t)s”.") % {"p": other.prefix,
                                                                                         "t": other.name}))
            continue
        adds = [str(f.get("label") or f.get("key")) for f in t.get("fields") or []]
        adds += [_("step: %(s)s") % {"s": s} for s in t.get("process_steps") or []]
        stages = t.get("stages")
        if isinstance(stages, list) and stages != list(mainline.KEYS):
            adds.append(_("main line: %(s)s") % {"s": " → ".join(
                str(mainline.BY_KEY[x].label) if x in mainline.BY_KEY else str(x) for x in stages)})
        closure = t.get("closure") or {}
        if closure.get("require_signature"):
            adds.append(_("gate: customer signature"))
        if closure.get("require_invoice"):
            adds.append(_("gate: invoice"))
        adds += [_("closure form: %(f)s") % {"f": f.get("label") or f.get("key")} for f in closure.get("form_fields") or []]
        items.append(Item("type", t["key"], name, "create", adds=adds))
    policies = set(SLAPolicy.objects.values_list("key", flat=True))
    for p in bundle.data.get("sla_policies") or []:
        name = str(p.get("name") or p["key"])
        if p["key"] in policies:
            items.append(Item("sla_policy", p["key"], name, "exists"))
        elif p.get("calendar") not in known_cals:
            items.append(Item("sla_policy", p["key"], name, "conflict",
                              _("It needs the business calendar “%(c)s”, which is neither here nor in the "
                                "template.") % {"c": p.get("calendar")}))
        else:
            items.append(Item("sla_policy", p["key"], name, "create"))
    items += _plan_extras(bundle, known_types={t.key for t in types.values()} | {t["key"] for t in bundle.types})
    return items


def extra_key(part: str, d: dict) -> str:
    """An item's key in the plan: rules and queues by name, flows and handoffs by type and action."""
    if part in ("approval_flows", "handoffs"):
        return f"{d.get('type') or '*'}:{d.get('action')}"
    return str(d.get("name"))


def _plan_extras(bundle: Bundle, *, known_types: set[str]) -> list[Item]:
    from closeloop.accounts.models import Team
    from closeloop.approvals.models import ApprovalFlow, HandoffRequirement
    from closeloop.console.models import Queue
    from closeloop.rules.models import Rule

    teams = set(Team.objects.values_list("code", flat=True))
    d = bundle.data
    items = []

    def missing_refs(x: dict, type_field: str, team_fields: tuple) -> str:
        if x.get(type_field) and x[type_field] not in known_types:
            return _("It needs the work order type “%(t)s”, which is neither here nor in the template.") % {
                "t": x[type_field]}
        for tf in team_fields:
            if x.get(tf) and x[tf] not in teams:
                return _("It needs the team “%(t)s”, which is not here.") % {"t": x[tf]}
        return ""

    rule_names = set(Rule.objects.filter(name__in=[r["name"] for r in d.get("rules") or []])
                     .values_list("name", flat=True))
    for r in d.get("rules") or []:
        problem = missing_refs(r, "scope_type", ("scope_team",))
        action = "conflict" if problem else "exists" if r["name"] in rule_names else "create"
        items.append(Item("rule", r["name"], r["name"], action, problem))
    flows = {f"{t or '*'}:{a}" for t, a in ApprovalFlow.objects.values_list("wo_type__key", "action")}
    from closeloop.approvals import tree as flow_tree

    for f in d.get("approval_flows") or []:
        key = extra_key("approval_flows", f)
        problem = missing_refs(f, "type", ())
        action = "conflict" if problem else "exists" if key in flows else "create"
        detail = problem
        if action == "create" and f.get("publish", True):
            # Published at once when it can be; otherwise (e.g. nobody holds the approvers' role yet)
            # it arrives as a draft to finish and publish in the flow designer.
            why = [p["message"] for p in flow_tree.validate(f.get("tree") or {})]
            if why:
                detail = _("Added as a draft, not published yet: %(why)s") % {"why": "; ".join(map(str, why))}
        items.append(Item("approval_flow", key, str(f.get("name") or key), action, detail))
    handoffs = {f"{t or '*'}:{a}" for t, a in HandoffRequirement.objects.filter(active=True)
                .values_list("wo_type__key", "action")}
    for h in d.get("handoffs") or []:
        key = extra_key("handoffs", h)
        problem = missing_refs(h, "type", ("to_team",))
        action = "conflict" if problem else "exists" if key in handoffs else "create"
        items.append(Item("handoff", key, key, action, problem,
                          adds=[", ".join(map(str, h.get("fields") or []))] if h.get("fields") else []))
    queues = set(Queue.objects.filter(owner__isnull=True).values_list("name", flat=True))
    for q in d.get("queues") or []:
        problem = missing_refs(q, "", ("team",))
        action = "conflict" if problem else "exists" if q["name"] in queues else "create"
        items.append(Item("queue", q["name"], q["name"], action, problem))
    return items


def do_install(*, actor, bundle: Bundle) -> list[Item]:
    """Install what `bundle` adds (see plan()); all or nothing. Returns the plan carried out."""
    types_services.require_type_manager(actor)
    items = plan(bundle)
    conflicts = [i for i in items if i.action == "conflict"]
    if conflicts:
        raise ValidationFailed([FieldProblem(f"{i.kind}:{i.key}", i.detail, "conflict") for i in conflicts])
    todo = {(i.kind, i.key) for i in items if i.action == "create"}
    with transaction.atomic():
        for c in bundle.data.get("calendars") or []:
            if ("calendar", c["key"]) in todo:
                _named(f"calendars[{c['key']}]", sla_services.do_create_calendar, actor=actor, data=c)
        for t in bundle.types:
            if ("type", t["key"]) not in todo:
                continue
            data = {k: v for k, v in t.items() if k not in ("fields", "closure")}
            wo_type = _named(f"types[{t['key']}]", types_services.do_create_type_with_fields, actor=actor, data=data,
                             fields=t.get("fields") or [])
            if t.get("closure"):
                _named(f"types[{t['key']}].closure", fieldwork_services.do_set_policy, actor=actor, wo_type=wo_type,
                       data=t["closure"])
        for p in bundle.data.get("sla_policies") or []:
            if ("sla_policy", p["key"]) in todo:
                _named(f"sla_policies[{p['key']}]", sla_services.do_create_policy, actor=actor, data=p)
        _install_extras(actor, bundle, todo)
        record_change(actor=actor, kind="template", obj=None, obj_id=bundle.key or "import", label=bundle.name,
                      before=None, after={"installed": sorted(f"{k}:{v}" for k, v in todo)})
    return items


def _install_extras(actor, bundle: Bundle, todo: set) -> None:
    """Rules, approval flows (published unless "publish": false), handoff requirements and queue
    presets, each through its app's service, after the types they may name."""
    from closeloop.approvals import handoffs as handoff_services
    from closeloop.approvals import services as approval_services
    from closeloop.approvals import tree as flow_tree
    from closeloop.console import services as console_services
    from closeloop.rules import services as rule_services

    d = bundle.data
    for r in d.get("rules") or []:
        if ("rule", r["name"]) in todo:
            _named(f"rules[{r['name']}]", rule_services.do_create_rule, actor=actor, data=r)
    for f in d.get("approval_flows") or []:
        key = extra_key("approval_flows", f)
        if ("approval_flow", key) in todo:
            where = f"approval_flows[{key}]"
            flow = _named(where, approval_services.do_create_flow, actor=actor,
                          data={k: v for k, v in f.items() if k != "publish"})
            if f.get("publish", True) and not flow_tree.validate(flow.draft):
                _named(where, approval_services.do_publish, actor=actor, flow=flow, note=_("From a template"))
    for h in d.get("handoffs") or []:
        key = extra_key("handoffs", h)
        if ("handoff", key) in todo:
            _named(f"handoffs[{key}]", handoff_services.do_save_handoff_requirement, actor=actor, data=h)
    for q in d.get("queues") or []:
        if ("queue", q["name"]) in todo:
            _named(f"queues[{q['name']}]", console_services.do_save_queue_preset, actor=actor, data=q)


def _named(where: str, fn, **kw):
    """Call a service; its field problems come back prefixed with the item they are in."""
    try:
        return fn(**kw)
    except ValidationFailed as e:
        raise ValidationFailed([FieldProblem(f"{where}.{p.field}" if p.field else where, p.message, p.code)
                                for p in e.problems]) from None


# ---- exporting -----------------------------------------------------------------------------

def export(*, name: str = "") -> dict:
    """This installation's configuration as a bundle: active types with their active fields,
    steps and closure gates, the calendars and the active SLA policies."""
    from django.utils import timezone

    types = []
    closures = {p.wo_type_id: p for p in ClosurePolicy.objects.all()}
    for t in WorkOrderType.objects.filter(active=True).prefetch_related("fields").order_by("key"):
        fields = []
        for f in sorted(t.fields.all(), key=lambda f: (f.order, f.id)):
            if not getattr(f, "active", True):
                continue
            d = {"key": f.key, "label": f.label, "kind": f.kind, "required": f.required}
            for k in ("choices", "max_length", "pattern", "help_text", "unit"):
                v = getattr(f, k, None)
                if v not in (None, "", []):
                    d[k] = v
            for k in ("min_value", "max_value"):
                v = getattr(f, k, None)
                if v is not None:
                    d[k] = str(v.normalize()) if hasattr(v, "normalize") else str(v)
            fields.append(d)
        item = {"key": t.key, "name": t.name, "kind": t.kind, "prefix": t.prefix, "description": t.description,
                "stages": list(mainline.stages_of(t)), "process_steps": t.process_steps, "fields": fields}
        c = closures.get(t.id)
        if c is not None:
            item["closure"] = {"require_signature": c.require_signature, "require_invoice": c.require_invoice,
                               "auto_close": c.auto_close, "form_fields": c.form_fields,
                               "checkin_radius_m": c.checkin_radius_m}
        types.append(item)
    calendars = [{"key": c.key, "name": c.name, "kind": c.kind, "tz": c.tz, "week": c.week, "holidays": c.holidays,
                  "workdays": c.workdays} for c in BusinessCalendar.objects.order_by("key")]
    policies = [{"key": p.key, "name": p.name, "order": p.order, "calendar": p.calendar.key,
                 "condition": p.condition, "targets": p.targets, "response_actions": p.response_actions,
                 "ladder": p.ladder}
                for p in SLAPolicy.objects.filter(active=True).select_related("calendar").order_by("order", "key")]
    extras = _export_extras()
    return {"format": FORMAT, "version": VERSION, "key": "export",
            "name": {"zh-hans": name or _("Exported configuration"), "en": name or "Exported configuration"},
            "description": {"zh-hans": f"导出于 {timezone.localtime():%Y-%m-%d %H:%M}",
                            "en": f"Exported {timezone.localtime():%Y-%m-%d %H:%M}"},
            "calendars": calendars, "types": types, "sla_policies": policies, **extras}


def _export_extras() -> dict:
    """Rules, the published approval flows, the active handoff requirements and the queues for
    everyone or a team (personal queues stay personal)."""
    from closeloop.approvals.models import ApprovalFlow, HandoffRequirement
    from closeloop.console.models import Queue
    from closeloop.rules.models import Rule

    rules = []
    for r in Rule.objects.select_related("scope_type", "scope_team").order_by("order", "id"):
        item = {"name": r.name, "description": r.description, "trigger": r.trigger, "condition": r.condition,
                "actions": r.actions, "order": r.order, "enabled": r.enabled, "stop_after": r.stop_after}
        if r.trigger_field:
            item["trigger_field"] = r.trigger_field
        if r.scope_type_id:
            item["scope_type"] = r.scope_type.key
        if r.scope_team_id:
            item["scope_team"] = r.scope_team.code
        if r.schedule_minutes:
            item["schedule_minutes"] = r.schedule_minutes
        rules.append(item)
    flows = [{"name": f.name, "description": f.description, "type": f.wo_type.key if f.wo_type_id else None,
              "action": f.action, "tree": f.current_version.tree}
             for f in ApprovalFlow.objects.filter(active=True, current_version__isnull=False)
             .select_related("wo_type", "current_version").order_by("action", "id")]
    handoffs = [{"action": h.action, "type": h.wo_type.key if h.wo_type_id else None,
                 "to_team": h.to_team.code if h.to_team_id else None, "fields": h.fields}
                for h in HandoffRequirement.objects.filter(active=True).select_related("wo_type", "to_team")]
    queues = [{"name": q.name, "filters": q.filters, **({"team": q.team.code} if q.team_id else {})}
              for q in Queue.objects.filter(owner__isnull=True).select_related("team").order_by("order", "id")]
    return {"rules": rules, "approval_flows": flows, "handoffs": handoffs, "queues": queues}
