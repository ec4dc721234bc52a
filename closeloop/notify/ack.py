"""Acknowledge or escalate: urgent work outside working hours reaches a person, or the next one.

A chain starts when work whose priority a policy lists (urgent by default; a policy saved
for high and urgent starts for both) gets a person (assigned, or created for a team whose
on-call engineer is then the target). Each policy step is a delayed outbox row
("notify.ack_step", at = start + after) that does nothing once the chain is acknowledged;
otherwise it sends its message and writes the step on the timeline. Acknowledging: the
signed link in the message (GET confirms, POST acks), the button in the app, or accepting
the work order.
"""

import hashlib
import secrets
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from closeloop.accounts.models import User
from closeloop.audit.services import record_change, snapshot
from closeloop.core import refcache, worktime
from closeloop.core.clock import now
from closeloop.core.errors import FieldProblem, Forbidden, ValidationFailed
from closeloop.outbox.services import enqueue
from closeloop.roster.selectors import on_call_users
from closeloop.workorders import timeline
from closeloop.workorders.models import WorkOrder

from . import messages
from .models import AckChain, AckPolicy
from .services import EVENT_NOTIFICATION, fan_out_payload

STEP_KINDS = ("im", "sms", "voice", "backup", "supervisor")
STEP_MEDIA = {"im": ["inbox", "dingtalk", "wecom", "feishu"], "sms": ["sms"], "voice": ["voice"],
              "backup": ["inbox", "sms", "voice"], "supervisor": ["inbox", "sms", "voice"]}
TOKEN_TTL = timedelta(hours=24)
DEFAULT_STEPS = [{"after": 0, "do": "im"}, {"after": 5, "do": "sms"}, {"after": 10, "do": "voice"},
                 {"after": 15, "do": "backup"}, {"after": 25, "do": "supervisor"}]


def clean_steps(steps) -> list[dict]:
    if not isinstance(steps, list) or not steps:
        raise ValidationFailed(FieldProblem("steps", _("A list of steps is required.")))
    out, last = [], -1
    for i, s in enumerate(steps):
        if not isinstance(s, dict) or set(s) - {"after", "do"} or s.get("do") not in STEP_KINDS:
            raise ValidationFailed(FieldProblem(f"steps[{i}]", _("Each step: {\"after\": minutes, \"do\": one of "
                                                                 "im, sms, voice, backup, supervisor}.")))
        after = s.get("after", 0)
        if not isinstance(after, (int, float)) or isinstance(after, bool) or not 0 <= after <= 24 * 60 or after < last:
            raise ValidationFailed(FieldProblem(f"steps[{i}].after",
                                                _("Minutes from 0 to 1440, not before the previous step.")))
        last = after
        out.append({"after": after, "do": s["do"]})
    return out


def in_working_hours(policy: AckPolicy, at: datetime) -> bool:
    if policy.calendar:
        is_working = worktime.calendar(policy.calendar)
        if is_working is not None:
            return is_working(at)
    local = at.astimezone(ZoneInfo(settings.TIME_ZONE))
    days = policy.weekdays or [0, 1, 2, 3, 4]
    ws, we = policy.work_start, policy.work_end
    if isinstance(ws, str):
        ws = time.fromisoformat(ws)
    if isinstance(we, str):
        we = time.fromisoformat(we)
    return local.weekday() in days and ws <= local.time() < we


#: The enabled policies in order: asked on every create and assignment (core.refcache).
_policies = refcache.RefCache("notify.ack_policies", "notify.AckPolicy")


def enabled_policies() -> list[AckPolicy]:
    """Shared by every request of the process: read them, never change or save one."""
    return _policies.get("enabled", lambda: list(AckPolicy.objects.filter(enabled=True).order_by("order", "id")))


def policy_for(wo: WorkOrder, at: datetime) -> AckPolicy | None:
    for p in enabled_policies():
        if wo.priority not in (p.priorities or []):
            continue
        if p.team_id and p.team_id != wo.team_id:
            continue
        if p.always or not in_working_hours(p, at):
            return p
        return None
    return None


def _any_policy_for(priority: str) -> bool:
    return any(priority in (p.priorities or []) for p in enabled_policies())


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ack_url(token: str) -> str:
    return f"{messages.base_url()}/notifications/ack/{token}"


def start(wo: WorkOrder, target: User | None, at: datetime) -> AckChain | None:
    """Start a chain for `wo` (in the caller's transaction) if a policy applies."""
    if target is None:
        return None
    policy = policy_for(wo, at)
    if policy is None:
        return None
    if AckChain.objects.filter(work_order=wo, target=target, acked_at__isnull=True).exists():
        return None
    token = secrets.token_urlsafe(32)
    chain = AckChain.objects.create(work_order=wo, policy=policy, target=target, steps=list(policy.steps),
                                    token_hash=_token_hash(token), started_at=at, expires_at=at + TOKEN_TTL)
    for i, step in enumerate(chain.steps):
        enqueue("notify.ack_step", f"ack:{chain.pk}:step{i}", {"chain": chain.pk, "step": i, "token": token},
                at=at + timedelta(minutes=step["after"]))
    timeline.append_event(wo, EVENT_NOTIFICATION, at=at, action="ack", data={
        "text": timeline.text(lambda: _("Acknowledge-or-escalate started for %(who)s (policy %(p)s).") % {
            "who": str(target), "p": policy.name}), "chain": chain.pk, "step": "start"})
    return chain


def run_step(msg) -> None:
    """The "notify.ack_step" outbox handler."""
    p = msg.payload
    with transaction.atomic():
        chain = AckChain.objects.select_for_update(of=("self",)).select_related("work_order", "target").filter(
            pk=p["chain"]).first()
        if chain is None or chain.acked_at is not None or p["step"] <= chain.last_step:
            return
        wo, t = chain.work_order, now()
        if wo.status not in ("new", "assigned"):
            # Someone is on it (accepted or further): that counts as acknowledged.
            _ack(chain, None, "work_order", t)
            return
        step = chain.steps[p["step"]]
        do = step["do"]
        target = chain.target
        event = "ack.request"
        if do in ("im", "sms", "voice"):
            people = [target] if target else []
        elif do == "backup":
            event = "ack.backup"
            people = _backup(wo, target, t)
        else:
            event = "ack.supervisor"
            people = [wo.team.supervisor] if wo.team_id and wo.team.supervisor_id else \
                list(User.objects.filter(role="manager", is_active=True).order_by("id")[:1])
        media = STEP_MEDIA[do]
        if do == "im":  # the robots that exist (the inbox always does)
            from .services import pick_channel

            media = ["inbox"] + [m for m in media[1:] if pick_channel(m, wo) is not None]
        AckChain.objects.filter(pk=chain.pk).update(last_step=p["step"])
        names = ", ".join(str(u) for u in people) or "-"
        fan_out_payload(f"{msg.key}", {
            "event": event, "work_order": wo.code, "recipients": [{"user": u.username} for u in people],
            "channels": media, "urgent": True, "no_robots": True,
            "context": {"ack_url": ack_url(p["token"]), "chain": chain.pk, "target": str(target or "")}}, t)
        def text():
            labels = {"im": _("instant message"), "sms": _("SMS"), "voice": _("voice call"),
                      "backup": _("backup person"), "supervisor": _("supervisor")}
            return _("Not acknowledged yet: step %(n)d, %(what)s to %(who)s.") % {
                "n": p["step"] + 1, "what": labels[do], "who": names}

        timeline.append_event(wo, EVENT_NOTIFICATION, at=t, action="ack",
                              data={"text": timeline.text(text), "chain": chain.pk, "step": do})


def _backup(wo: WorkOrder, target: User | None, at: datetime) -> list[User]:
    if wo.team_id:
        others = [u for u in on_call_users(wo.team, at) if u != target]
        if others:
            return others[:1]
        backup = wo.team.backup_team
        if backup is not None:
            people = on_call_users(backup, at)
            if people:
                return people[:1]
            if backup.supervisor_id:
                return [backup.supervisor]
        mates = list(wo.team.members.filter(is_active=True, role="engineer").exclude(
            pk=target.pk if target else None).order_by("id")[:1])
        if mates:
            return mates
    return []


def _ack(chain: AckChain, actor: User | None, via: str, at: datetime) -> bool:
    n = AckChain.objects.filter(pk=chain.pk, acked_at__isnull=True).update(acked_at=at, acked_by=actor, acked_via=via)
    if n:
        def text():
            vias = {"link": _("the link in the message"), "app": _("the app"),
                    "work_order": _("taking the work order")}
            return _("Acknowledged by %(who)s via %(via)s.") % {
                "who": str(actor) if actor else str(chain.target or "-"), "via": vias.get(via, via)}

        timeline.append_event(chain.work_order, EVENT_NOTIFICATION, actor=actor, at=at, action="ack",
                              data={"text": timeline.text(text), "chain": chain.pk, "step": "ack"})
    return bool(n)


def chain_for_token(token: str) -> AckChain | None:
    if not token or len(token) > 100:
        return None
    chain = AckChain.objects.select_related("work_order", "target").filter(token_hash=_token_hash(token)).first()
    if chain is None or chain.expires_at <= now():
        return None
    return chain


def do_ack_by_token(token: str, actor: User | None = None) -> AckChain | None:
    with transaction.atomic():
        chain = chain_for_token(token)
        if chain is None:
            return None
        _ack(chain, actor if actor and actor.is_authenticated else None, "link", now())
    return chain


def do_ack(*, actor: User, chain: AckChain) -> None:
    from closeloop.workorders.selectors import access_work_order_by_code

    if chain.target_id != actor.pk and not actor.sees_all_work_orders:
        access_work_order_by_code(actor, chain.work_order.code)  # NotFound when invisible
        if not (chain.work_order.team_id and chain.work_order.team_id == actor.team_id):
            raise Forbidden(_("Only the person asked, their team or a dispatcher can acknowledge."))
    with transaction.atomic():
        _ack(chain, actor, "app", now())


# ---- lifecycle effects (registered in apps.py) ---------------------------------------------------

def on_assign(ctx) -> None:
    wo = ctx.wo
    if wo.assignee_id:
        # A chain for someone no longer assigned ends (the new assignee gets their own).
        AckChain.objects.filter(work_order=wo, acked_at__isnull=True).exclude(target_id=wo.assignee_id).update(
            acked_at=ctx.at, acked_via="reassigned")
    if wo.assignee_id:
        start(wo, wo.assignee, ctx.at)  # the policies decide which priorities (policy_for)


def on_create(ctx) -> None:
    wo = ctx.wo
    if wo.assignee_id or ctx.data.get("assignee"):
        return  # with an assignee, the assign effect starts the chain
    if wo.team_id and _any_policy_for(wo.priority):
        people = on_call_users(wo.team, ctx.at)
        if people:
            start(wo, people[0], ctx.at)


def on_accept(ctx) -> None:
    for chain in AckChain.objects.filter(work_order=ctx.wo, acked_at__isnull=True):
        _ack(chain, ctx.actor, "work_order", ctx.at)


# ---- policies (admin) ----------------------------------------------------------------------------

POLICY_FIELDS = {"name", "enabled", "priorities", "team", "calendar", "work_start", "work_end", "weekdays",
                 "always", "steps", "order"}


def do_save_policy(*, actor: User, data: dict, policy: AckPolicy | None = None) -> AckPolicy:
    from closeloop.accounts.models import Team
    from closeloop.workorders.models import Priority

    if not (actor.is_superuser or actor.role in ("admin", "manager")):
        raise Forbidden(_("Only administrators and managers edit escalation policies."))
    problems = [FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(set(data) - POLICY_FIELDS)]
    before = snapshot(policy) if policy is not None else None
    p = policy or AckPolicy(steps=DEFAULT_STEPS, priorities=["urgent"])
    for k in ("name", "enabled", "always", "order"):
        if k in data:
            setattr(p, k, data[k])
    if not (p.name or "").strip():
        problems.append(FieldProblem("name", _("This field is required."), "required"))
    elif AckPolicy.objects.filter(name=p.name).exclude(pk=p.pk).exists():
        problems.append(FieldProblem("name", _("A policy with this name exists."), "duplicate"))
    if "priorities" in data:
        pr = data["priorities"]
        if not isinstance(pr, list) or not pr or any(x not in Priority.values for x in pr):
            problems.append(FieldProblem("priorities", _("A list of priorities (low, normal, high, urgent).")))
        else:
            p.priorities = pr
    if "team" in data:
        p.team = Team.objects.filter(code=data["team"]).first() if data["team"] else None
        if data["team"] and p.team is None:
            problems.append(FieldProblem("team", _("No such team."), "not_found"))
    if "calendar" in data:
        if data["calendar"] and worktime.calendar(data["calendar"]) is None:
            problems.append(FieldProblem("calendar", _("No such calendar."), "not_found"))
        p.calendar = data["calendar"] or ""
    for k in ("work_start", "work_end"):
        if k in data:
            try:
                setattr(p, k, time.fromisoformat(str(data[k])))
            except ValueError:
                problems.append(FieldProblem(k, _("A time of day, HH:MM."), "invalid"))
    if "weekdays" in data:
        wd = data["weekdays"]
        if not isinstance(wd, list) or any(not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6 for d in wd):
            problems.append(FieldProblem("weekdays", _("Weekday numbers, 0 (Monday) to 6 (Sunday).")))
        else:
            p.weekdays = sorted(set(wd))
    if "steps" in data:
        try:
            p.steps = clean_steps(data["steps"])
        except ValidationFailed as e:
            problems.extend(e.problems)
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        p.save()
        record_change(actor=actor, kind="ack_policy", obj=p, before=before, after=snapshot(p))
    return p
