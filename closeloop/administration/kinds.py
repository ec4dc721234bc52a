"""The reference data the administration pages manage, one entry per kind.

Each kind says who may use its pages, how a row is found (within what the user may see), how the
list is searched, and which services write it: the API's own (customers.services,
accounts.services), so a page and the API accept and refuse the same things."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from closeloop.accounts import selectors as account_selectors
from closeloop.accounts import services as account_services
from closeloop.accounts.models import EngineerSkill, User
from closeloop.core.errors import FieldProblem, NotFound, ValidationFailed
from closeloop.customers import selectors as cs
from closeloop.customers import services as customer_services
from closeloop.workorders import types_selectors, types_services

from . import forms
from .selectors import may_administer_data, may_see_setup

# Inputs that name another row (or a number/date): an empty box means "none", not "".
NULLABLE = {"customer", "site", "team", "parent", "supervisor", "backup_team", "latitude", "longitude",
            "install_date", "home_latitude", "home_longitude"}


@dataclass
class Column:
    label: object
    value: Callable
    wide_only: bool = False  # hidden below the md breakpoint


@dataclass
class Kind:
    key: str
    title: object              # the list's heading
    one: object                # "a customer", for "Add …" / messages
    form: type
    may: Callable              # who sees the pages (404 for everyone else)
    rows: Callable             # (user, q) -> QuerySet
    access: Callable           # (user, ref) -> obj; NotFound
    ref: Callable              # obj -> the ref in its URL
    create: Callable           # (actor, data) -> obj
    update: Callable           # (actor, obj, data) -> obj
    initial: Callable          # obj -> the form's initial values
    columns: list[Column] = field(default_factory=list)
    deactivate: Callable | None = None   # (actor, obj, active)
    delete: Callable | None = None       # (actor, obj): refused while referenced
    help: object = ""
    after_save: Callable | None = None   # obj -> where a saved form goes (default: the list)
    prefill: tuple = ()                  # inputs a new object's form takes from the query string


def _data(form_cls, post, *, skip=()) -> dict:
    out = {}
    for name in form_cls.base_fields:
        if name in skip:
            continue
        v = (post.get(name) or "").strip() if name != "password" else post.get(name) or ""
        out[name] = None if (v == "" and name in NULLABLE) else v
    return out


def _search(qs: QuerySet, q: str, *fields: str) -> QuerySet:
    if not q:
        return qs
    cond = Q()
    for f in fields:
        cond |= Q(**{f"{f}__icontains": q})
    return qs.filter(cond)


def _get(qs: QuerySet, **lookup):
    obj = qs.filter(**lookup).first()
    if obj is None:
        raise NotFound()
    return obj


def _pk(ref: str) -> int:
    if not str(ref).isdigit():
        raise NotFound()
    return int(ref)


# ---- users: the page's text for skills ("呼吸机:4, 监护仪") <-> the service's list ---------------------

def _parse_skills(text: str) -> list[dict]:
    out = []
    for part in (text or "").replace("，", ",").replace("：", ":").split(","):
        part = part.strip()
        if not part:
            continue
        name, _sep, level = part.rpartition(":") if ":" in part else (part, "", "1")
        name, level = name.strip(), level.strip()
        if not level.isdigit():
            raise ValidationFailed(FieldProblem("skills", _("Write each skill as tag:level, level 1 to 5 (%(p)s).")
                                                % {"p": part}))
        out.append({"tag": name, "level": int(level)})
    return out


def _skills_text(user: User) -> str:
    return ", ".join(f"{s.tag.name}:{s.level}"
                     for s in EngineerSkill.objects.filter(user=user).select_related("tag").order_by("tag__name"))


def _user_data(post, *, editing: bool) -> dict:
    data = _data(forms.UserForm, post, skip=("username", "is_active") if editing else ("is_active",))
    data["is_active"] = post.get("is_active") in ("on", "true", "1")
    if not data.get("password"):
        data.pop("password", None)
    data["skills"] = _parse_skills(data.get("skills") or "")
    return data


def _skill_problems_on_field(e: ValidationFailed) -> ValidationFailed:
    """The service names a bad skill `skills[2].tag`; the page has one box."""
    for p in e.problems:
        if p.field.startswith("skills["):
            p.field = "skills"
    return e


def _create_user(actor, post):
    try:
        return account_services.do_add_user(actor=actor, data=_user_data(post, editing=False))
    except ValidationFailed as e:
        raise _skill_problems_on_field(e) from None


def _update_user(actor, user, post):
    try:
        return account_services.do_edit_user(actor=actor, user=user, data=_user_data(post, editing=True))
    except ValidationFailed as e:
        raise _skill_problems_on_field(e) from None


def _user_initial(u: User) -> dict:
    return {"username": u.username, "display_name": u.display_name, "role": u.role,
            "team": u.team.code if u.team else "", "customer": u.customer.code if u.customer else "",
            "phone": u.phone, "email": u.email, "skills": _skills_text(u), "language": u.language,
            "time_zone": u.time_zone, "is_active": u.is_active}


KINDS: dict[str, Kind] = {}


def _register(kind: Kind) -> None:
    KINDS[kind.key] = kind


_register(Kind(
    key="customers", title=_("Customers"), one=_("customer"), form=forms.CustomerForm, may=may_administer_data,
    rows=lambda user, q: cs.filter_customers(user, q=q or None),
    access=lambda user, ref: cs.access_customer(user, ref), ref=lambda c: c.code,
    create=lambda actor, post: customer_services.do_create_customer(actor=actor, data=_data(forms.CustomerForm, post)),
    update=lambda actor, obj, post: customer_services.do_update_customer(
        actor=actor, customer=obj, data=_data(forms.CustomerForm, post)),
    initial=lambda c: {k: getattr(c, k) for k in forms.CustomerForm.base_fields},
    columns=[Column(pgettext_lazy("reference data", "Code"), lambda c: c.code), Column(_("Tier"), lambda c: c.get_tier_display()),
             Column(_("Province"), lambda c: c.province, True), Column(_("Phone"), lambda c: c.phone, True)],
    deactivate=lambda actor, obj, active: customer_services.do_set_active(actor=actor, obj=obj, active=active),
    help=_("Deactivating a customer deactivates its sites, contacts and assets: they stay on old work orders "
           "and are offered for no new one."),
))
_register(Kind(
    key="sites", title=_("Sites"), one=_("site"), form=forms.SiteForm, may=may_administer_data,
    rows=lambda user, q: _search(cs.visible_sites(user).select_related("customer"), q, "name", "code", "city",
                                 "customer__name"),
    access=lambda user, ref: cs.access_site(user, ref), ref=lambda s: s.code,
    create=lambda actor, post: customer_services.do_create_site(actor=actor, data=_data(forms.SiteForm, post)),
    update=lambda actor, obj, post: customer_services.do_update_site(actor=actor, site=obj,
                                                                     data=_data(forms.SiteForm, post)),
    initial=lambda s: {**{k: getattr(s, k) for k in forms.SiteForm.base_fields if k != "customer"},
                       "customer": s.customer.code},
    columns=[Column(pgettext_lazy("reference data", "Code"), lambda s: s.code), Column(_("Customer"), lambda s: s.customer.name),
             Column(_("City"), lambda s: s.city, True),
             Column(_("Location"), lambda s: f"{s.latitude}, {s.longitude}" if s.latitude is not None else "", True)],
    deactivate=lambda actor, obj, active: customer_services.do_set_active(actor=actor, obj=obj, active=active),
    help=_("Location: enter latitude and longitude in decimal degrees (there is no map picker; copy the "
           "numbers from any map app). Dispatch uses them to estimate travel."),
))
_register(Kind(
    key="contacts", title=_("Contacts"), one=_("contact"), form=forms.ContactForm, may=may_administer_data,
    rows=lambda user, q: _search(cs.visible_contacts(user).select_related("customer"), q, "name", "phone",
                                 "customer__name"),
    access=lambda user, ref: cs.access_contact(user, _pk(ref)), ref=lambda c: c.pk,
    create=lambda actor, post: customer_services.do_create_contact(actor=actor, data=_data(forms.ContactForm, post)),
    update=lambda actor, obj, post: customer_services.do_update_contact(actor=actor, contact=obj,
                                                                        data=_data(forms.ContactForm, post)),
    initial=lambda c: {"customer": c.customer.code, "site": c.site.code if c.site else "", "name": c.name,
                       "phone": c.phone, "email": c.email, "title": c.title},
    columns=[Column(_("Phone"), lambda c: c.phone), Column(_("Customer"), lambda c: c.customer.name),
             Column(_("Job title"), lambda c: c.title, True)],
    deactivate=lambda actor, obj, active: customer_services.do_set_active(actor=actor, obj=obj, active=active),
))
_register(Kind(
    key="assets", title=_("Assets"), one=_("asset"), form=forms.AssetForm, may=may_administer_data,
    rows=lambda user, q: _search(cs.visible_assets(user).select_related("customer", "site"), q, "serial_number",
                                 "name", "model", "batch", "customer__name"),
    access=lambda user, ref: _get(cs.visible_assets(user), pk=_pk(ref)), ref=lambda a: a.pk,
    create=lambda actor, post: customer_services.do_create_asset(actor=actor, data=_data(forms.AssetForm, post)),
    update=lambda actor, obj, post: customer_services.do_update_asset(actor=actor, asset=obj,
                                                                      data=_data(forms.AssetForm, post)),
    initial=lambda a: {**{k: getattr(a, k) for k in forms.AssetForm.base_fields if k not in ("customer", "site")},
                       "customer": a.customer.code, "site": a.site.code if a.site else "",
                       "install_date": a.install_date.isoformat() if a.install_date else ""},
    columns=[Column(_("Serial number"), lambda a: a.serial_number), Column(_("Model"), lambda a: a.model),
             Column(_("Customer"), lambda a: a.customer.name, True), Column(_("Batch"), lambda a: a.batch, True)],
    deactivate=lambda actor, obj, active: customer_services.do_set_active(actor=actor, obj=obj, active=active),
))
def _contract_data(post) -> dict:
    data = _data(forms.ContractForm, post)
    if not data.get("tier"):
        data.pop("tier", None)  # the customer's tier (new) / unchanged (edit)
    return data


def _contract_initial(k) -> dict:
    return {"customer": k.customer.code, "number": k.number, "tier": k.tier,
            "starts_on": k.starts_on.isoformat(), "ends_on": k.ends_on.isoformat()}


TERMS = {"ended": _("ended"), "not_started": _("not started"), "in_force": _("in force")}


def _contract_state(k) -> str:
    return str(TERMS[cs.contract_term(k)])


_register(Kind(
    key="contracts", title=_("Service contracts"), one=_("service contract"), form=forms.ContractForm,
    may=may_administer_data,
    rows=lambda user, q: cs.filter_contracts(user, q=q),  # the API's GET /contracts?q=
    access=lambda user, ref: _get(cs.visible_contracts(user), pk=_pk(ref)), ref=lambda k: k.pk,
    create=lambda actor, post: customer_services.do_create_contract(actor=actor, data=_contract_data(post)),
    update=lambda actor, obj, post: customer_services.do_update_contract(actor=actor, contract=obj,
                                                                         data=_contract_data(post)),
    initial=_contract_initial,
    columns=[Column(_("Customer"), lambda k: k.customer.name), Column(_("Tier"), lambda k: k.get_tier_display()),
             Column(_("Starts on"), lambda k: k.starts_on.isoformat(), True),
             Column(_("Ends on"), lambda k: k.ends_on.isoformat(), True),
             Column(_("Term"), _contract_state)],
    deactivate=lambda actor, obj, active: customer_services.do_set_active(actor=actor, obj=obj, active=active),
    after_save=lambda k: ("administration:edit", "customers", k.customer.code),
    prefill=("customer",),
    help=_("A contract is kept for the record: deactivate it instead of deleting. Deactivating a customer "
           "deactivates its contracts too."),
))
_register(Kind(
    key="users", title=_("Users"), one=_("user"), form=forms.UserForm, may=may_see_setup,
    rows=lambda user, q: _search(account_selectors.visible_users(user).select_related("team"), q, "username",
                                 "display_name", "phone", "email"),
    access=lambda user, ref: account_selectors.access_user(user, ref), ref=lambda u: u.username,
    create=_create_user, update=_update_user, initial=_user_initial,
    columns=[Column(_("Username"), lambda u: u.username), Column(_("Role"), lambda u: u.get_role_display()),
             Column(_("Team"), lambda u: u.team.name if u.team else "", True),
             Column(_("Phone"), lambda u: u.phone, True)],
    help=_("Deactivate a user (untick Active) instead of deleting: their work history stays."),
))
_register(Kind(
    key="teams", title=_("Teams"), one=_("team"), form=forms.TeamForm, may=may_see_setup,
    rows=lambda user, q: _search(account_selectors.visible_teams(user).select_related("supervisor"), q, "name",
                                 "code", "region"),
    access=lambda user, ref: account_selectors.access_team(user, ref), ref=lambda t: t.code,
    create=lambda actor, post: account_services.do_add_team(actor=actor, data=_data(forms.TeamForm, post)),
    update=lambda actor, obj, post: account_services.do_edit_team(actor=actor, team=obj,
                                                                  data=_data(forms.TeamForm, post)),
    initial=lambda t: {"code": t.code, "name": t.name, "parent": t.parent.code if t.parent else "",
                       "supervisor": t.supervisor.username if t.supervisor else "",
                       "backup_team": t.backup_team.code if t.backup_team else "", "region": t.region},
    columns=[Column(pgettext_lazy("reference data", "Code"), lambda t: t.code), Column(_("Supervisor"), lambda t: str(t.supervisor or "")),
             Column(_("Region"), lambda t: t.region, True)],
    delete=lambda actor, obj: account_services.do_remove_team(actor=actor, team=obj),
    help=_("A team with members, sub-teams or work orders cannot be deleted."),
))
_register(Kind(
    key="skills", title=_("Skill tags"), one=_("skill tag"), form=forms.SkillTagForm, may=may_see_setup,
    rows=lambda user, q: _search(account_selectors.visible_skill_tags(user), q, "name", "category"),
    access=lambda user, ref: _get(account_selectors.visible_skill_tags(user), pk=_pk(ref)), ref=lambda t: t.pk,
    create=lambda actor, post: account_services.do_create_skill_tag(actor=actor,
                                                                    data=_data(forms.SkillTagForm, post)),
    update=lambda actor, obj, post: account_services.do_update_skill_tag(actor=actor, tag=obj,
                                                                         data=_data(forms.SkillTagForm, post)),
    initial=lambda t: {"name": t.name, "category": t.category},
    columns=[Column(_("Category"), lambda t: t.category)],
    delete=lambda actor, obj: account_services.do_delete_skill_tag(actor=actor, tag=obj),
    help=_("A skill tag that engineers hold or work orders ask for cannot be deleted."),
))



# ---- work order types: the type's own form here; its fields in the designer (designer.py) ------------------

def _type_data(post) -> dict:
    data = {k: (post.get(k) or "").strip() for k in ("name", "key", "prefix", "kind", "description")}
    data["process_steps"] = [line.strip() for line in (post.get("process_steps") or "").splitlines() if line.strip()]
    return data


_register(Kind(
    key="types", title=_("Work order types"), one=_("work order type"), form=forms.TypeForm,
    may=types_services.may_manage_types,
    rows=lambda user, q: _search(types_selectors.visible_types(user), q, "name", "key", "prefix"),
    access=lambda user, ref: types_selectors.access_type(user, ref), ref=lambda t: t.key,
    create=lambda actor, post: types_services.do_create_type(actor=actor, data=_type_data(post)),
    update=lambda actor, obj, post: types_services.do_update_type(actor=actor, wo_type=obj, data=_type_data(post)),
    initial=lambda t: {"name": t.name, "key": t.key, "prefix": t.prefix, "kind": t.kind,
                       "description": t.description, "process_steps": "\n".join(t.process_steps or [])},
    columns=[Column(_("Key"), lambda t: t.key), Column(_("Code prefix"), lambda t: t.prefix),
             Column(_("Kind"), lambda t: t.get_kind_display(), True),
             Column(_("Fields"), lambda t: sum(1 for f in t.fields.all() if f.active), True)],
    deactivate=lambda actor, obj, active: types_services.do_update_type(actor=actor, wo_type=obj,
                                                                        data={"active": active}),
    delete=lambda actor, obj: types_services.do_delete_type(actor=actor, wo_type=obj),
    help=_("A type that work orders use cannot be deleted: deactivate it, and it is offered for no new work "
           "order while its work orders keep it."),
))


# ---- SLA policies and business calendars (sla.services; administrators, as the SLA API) ------------------

def _problems_to_inputs(e: ValidationFailed) -> ValidationFailed:
    """The service names `targets.response`, `ladder[1]`, `week.0`; the page has one input for each."""
    import re

    for p in e.problems:
        p.field = re.sub(r"^targets\.(\w+)$", r"target_\1", p.field)
        p.field = re.sub(r"^ladder\[\d+\].*$", "ladder", p.field)
        p.field = re.sub(r"^week\.(\d)$", r"week_\1", p.field)
    return e


def _int_or_text(v: str):
    v = (v or "").strip()
    return int(v) if v.lstrip("-").isdigit() else v


def _policy_data(post, *, editing: bool) -> dict:
    import json

    from closeloop.sla.models import MILESTONES

    problems = []
    data = {"name": (post.get("name") or "").strip(), "order": _int_or_text(post.get("order") or "100"),
            "calendar": (post.get("calendar") or "").strip(), "condition": (post.get("condition") or "").strip(),
            "response_actions": post.getlist("response_actions") if hasattr(post, "getlist") else []}
    if not editing:
        data["key"] = (post.get("key") or "").strip()
    targets = {}
    for m in MILESTONES:
        v = (post.get(f"target_{m}") or "").strip()
        if not v:
            continue
        try:
            minutes = float(v)
        except ValueError:
            minutes = -1
        if minutes <= 0 or minutes > 60 * 24 * 366:
            problems.append(FieldProblem(f"target_{m}", _("Minutes of business time, more than 0.")))
            continue
        targets[m] = round(minutes * 60)
    data["targets"] = targets
    ladder_text = (post.get("ladder") or "").strip()
    try:
        ladder = json.loads(ladder_text) if ladder_text else []
        if not isinstance(ladder, list) or not all(isinstance(x, dict) for x in ladder):
            raise ValueError
    except ValueError:
        problems.append(FieldProblem("ladder", _("A JSON list of levels, e.g. [{\"level\": 1, \"pct\": 80, "
                                                 "\"actions\": [\"remind_assignee\"]}].")))
        ladder = []
    data["ladder"] = ladder
    if problems:
        raise ValidationFailed(problems)
    return data


def _policy_initial(p) -> dict:
    import json

    out = {"name": p.name, "key": p.key, "order": str(p.order), "calendar": p.calendar.key,
           "condition": p.condition, "response_actions": list(p.response_actions or []),
           "ladder": json.dumps(p.ladder, ensure_ascii=False) if p.ladder else ""}
    for m, seconds in (p.targets or {}).items():
        out[f"target_{m}"] = f"{seconds / 60:g}"
    return out


def _sla_write(fn):
    def run(*args):
        try:
            return fn(*args)
        except ValidationFailed as e:
            raise _problems_to_inputs(e) from None
    return run


def _format_spans(spans) -> str:
    return ", ".join(f"{a}-{b}" for a, b in spans or [])


def _calendar_data(post, *, editing: bool) -> dict:
    problems = []
    data = {"name": (post.get("name") or "").strip(), "kind": (post.get("kind") or "hours").strip(),
            "tz": (post.get("tz") or "").strip()}
    if not editing:
        data["key"] = (post.get("key") or "").strip()
    week = {}
    for i in range(7):
        text = (post.get(f"week_{i}") or "").replace("，", ",").replace("～", "-").replace("~", "-").strip()
        if not text:
            continue
        spans = []
        for part in text.split(","):
            a, sep, b = part.strip().partition("-")
            if not sep:
                problems.append(FieldProblem(f"week_{i}", _("Write hours as 09:00-18:00, several separated by "
                                                            "commas.")))
                break
            spans.append([a.strip(), b.strip()])
        week[str(i)] = spans
    data["week"] = week
    if problems:
        raise ValidationFailed(problems)
    return data


def _calendar_initial(c) -> dict:
    out = {"name": c.name, "key": c.key, "kind": c.kind, "tz": c.tz}
    for i in range(7):
        out[f"week_{i}"] = _format_spans((c.week or {}).get(str(i)))
    return out


def _sla_kinds() -> None:
    from closeloop.sla import selectors as sla_selectors
    from closeloop.sla import services as sla_services
    from closeloop.sla.models import BusinessCalendar

    _register(Kind(
        key="sla-policies", title=_("SLA policies"), one=_("SLA policy"), form=forms.PolicyForm, may=may_see_setup,
        rows=lambda user, q: _search(sla_selectors.policies_list(), q, "name", "key", "condition"),
        access=lambda user, ref: _get(sla_selectors.policies_list(), key=ref), ref=lambda p: p.key,
        create=_sla_write(lambda actor, post: sla_services.do_create_policy(
            actor=actor, data=_policy_data(post, editing=False))),
        update=_sla_write(lambda actor, obj, post: sla_services.do_update_policy(
            actor=actor, policy=obj, data=_policy_data(post, editing=True))),
        initial=_policy_initial,
        columns=[Column(_("Key"), lambda p: p.key), Column(_("Order"), lambda p: p.order),
                 Column(_("Business calendar"), lambda p: p.calendar.name, True),
                 Column(_("Condition (CEL)"), lambda p: p.condition or "—", True)],
        deactivate=lambda actor, obj, active: sla_services.do_update_policy(actor=actor, policy=obj,
                                                                            data={"active": active}),
        help=_("Saving a policy recomputes the SLA of every open work order (each gets a timeline entry)."),
    ))
    _register(Kind(
        key="calendars", title=_("Business calendars"), one=_("business calendar"), form=forms.CalendarForm,
        may=may_see_setup,
        rows=lambda user, q: _search(BusinessCalendar.objects.order_by("name"), q, "name", "key"),
        access=lambda user, ref: _get(BusinessCalendar.objects.all(), key=ref), ref=lambda c: c.key,
        create=_sla_write(lambda actor, post: sla_services.do_create_calendar(
            actor=actor, data=_calendar_data(post, editing=False))),
        update=_sla_write(lambda actor, obj, post: sla_services.do_update_calendar(
            actor=actor, calendar=obj, data=_calendar_data(post, editing=True))),
        initial=_calendar_initial,
        columns=[Column(_("Key"), lambda c: c.key), Column(_("Kind"), lambda c: c.get_kind_display()),
                 Column(_("Time zone"), lambda c: c.tz, True)],
        help=_("Changing a calendar recomputes the SLA of every open work order."),
    ))


_sla_kinds()
