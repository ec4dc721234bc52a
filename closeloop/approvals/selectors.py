"""Permission-checked reads: who sees which approval requests, the inbox, reports."""

from collections import defaultdict
from statistics import median

from django.db.models import Avg, Count, Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role
from closeloop.core.compiled import fetch
from closeloop.core.errors import NotFound
from closeloop.workorders.selectors import visible_work_orders

from . import services
from .handoffs import action_label, handoff_fields, may_rate
from .models import (
    ApprovalFlow,
    ApprovalRequest,
    ApprovalStep,
    Handoff,
    HandoffRequirement,
    Justification,
    RequestStatus,
    StepApprover,
    StepStatus,
)


def visible_requests(user) -> QuerySet[ApprovalRequest]:
    """Requests on work orders the user sees, plus those the user is asked to decide."""
    qs = ApprovalRequest.objects.select_related("work_order", "flow", "version", "requester")
    if user is None or not user.is_authenticated or not user.is_active or user.role == Role.CUSTOMER:
        return qs.none()
    if user.is_superuser or user.sees_all_work_orders:
        return qs
    asked = StepApprover.objects.filter(step__request=OuterRef("pk"), user=user)
    return qs.filter(Q(work_order__in=visible_work_orders(user)) | Exists(asked) | Q(requester=user))


def access_request(user, pk: int) -> ApprovalRequest:
    req = visible_requests(user).filter(pk=pk).first()
    if req is None:
        raise NotFound(_("No approval request %(n)s.") % {"n": pk})
    return req


def inbox(user) -> QuerySet[StepApprover]:
    return (StepApprover.objects.filter(user=user, open=True, step__status=StepStatus.PENDING)
            .select_related("step__request__work_order", "step__request__requester", "step__request__flow")
            .order_by("added_at", "id"))


def inbox_count(user) -> int:
    """The Approvals badge on every staff page: the inbox's open decisions and open justifications, in
    one constant statement (no querysets compiled per request); approvals/tests/test_inbox_count.py
    checks it against the querysets."""
    if not user.is_authenticated or user.role == Role.CUSTOMER:
        return 0
    return fetch("default", _INBOX_COUNT_SQL, [user.pk, True, StepStatus.PENDING.value, user.pk,
                                               Justification.Status.OPEN.value])[0][0]


_INBOX_COUNT_SQL = (
    f"SELECT (SELECT COUNT(*) FROM {StepApprover._meta.db_table} a"
    f" INNER JOIN {ApprovalStep._meta.db_table} s ON a.step_id = s.id"
    f" WHERE a.user_id = %s AND a.open = %s AND s.status = %s)"
    f" + (SELECT COUNT(*) FROM {Justification._meta.db_table} WHERE user_id = %s AND status = %s)")


def open_justifications(user) -> QuerySet[Justification]:
    return (Justification.objects.filter(user=user).exclude(status=Justification.Status.FILED)
            .select_related("step__request__work_order"))


def request_detail(req: ApprovalRequest) -> dict:
    steps = {s.key: s for s in req.steps.prefetch_related("approvers__user")}
    req.action_label = action_label(req.action)
    return {"req": req, "steps": steps, "path": services.describe_plan(req.plan)}


def card_context(request, wo):
    """The approvals card on the work order page (None hides it)."""
    user = request.user
    if user.role == Role.CUSTOMER:
        return None
    reqs = list(ApprovalRequest.objects.filter(work_order=wo).select_related("flow", "version", "requester")[:10])
    flows = list(ApprovalFlow.objects.filter(active=True, current_version__isnull=False)
                 .filter(Q(wo_type=wo.wo_type) | Q(wo_type__isnull=True)))
    handoffs = list(Handoff.objects.filter(work_order=wo).select_related("to_team", "from_team")[:10])
    if not reqs and not flows and not handoffs:
        return None
    for r in reqs:  # the action's label, never its key (`close`)
        r.action_label = action_label(r.action)
    for f in flows:
        f.action_label = action_label(f.action)
    for h in handoffs:  # names and field labels, never ids and keys
        h.work_order = wo
        h.fields = handoff_fields(h)
        h.action_label = action_label(h.action)
    mine = set(StepApprover.objects.filter(user=user, open=True, step__request__in=reqs)
               .values_list("step__request_id", flat=True))
    return {"requests": reqs, "flows": flows, "mine": mine, "handoffs": handoffs,
            "may_request": services.may_request(user),
            "rateable": [h.pk for h in handoffs if h.rated_at is None and may_rate(user, h)]}


# ---- reports -----------------------------------------------------------------------------------------

def duration_report(flow: ApprovalFlow) -> list[dict]:
    """Per version: how many requests, outcomes, median and mean hours to a decision, and the
    change of the median against the previous version (before/after a flow change)."""
    rows = []
    prev_median = None
    for v in flow.versions.order_by("number"):
        reqs = list(ApprovalRequest.objects.filter(version=v).values("status", "created_at", "decided_at"))
        done = [(r["decided_at"] - r["created_at"]).total_seconds() / 3600 for r in reqs
                if r["decided_at"] and r["status"] in (RequestStatus.APPROVED, RequestStatus.REJECTED)]
        med = round(median(done), 2) if done else None
        rows.append({
            "version": v.number, "published_at": v.published_at, "requests": len(reqs),
            "approved": sum(1 for r in reqs if r["status"] == RequestStatus.APPROVED),
            "rejected": sum(1 for r in reqs if r["status"] == RequestStatus.REJECTED),
            "pending": sum(1 for r in reqs if r["status"] == RequestStatus.PENDING),
            "median_hours": med, "mean_hours": round(sum(done) / len(done), 2) if done else None,
            "median_change_hours": round(med - prev_median, 2) if med is not None and prev_median is not None
            else None,
        })
        if med is not None:
            prev_median = med
    return rows


def bypass_report() -> dict:
    """Bypass rate per user and per team: bypassed steps / steps the person acted on
    (decided or bypassed)."""
    by_user: dict = defaultdict(lambda: {"bypasses": 0, "decisions": 0, "overdue": 0})
    for row in ApprovalStep.objects.filter(status=StepStatus.BYPASSED).values(
            "bypassed_by__username", "bypassed_by__team__code").annotate(n=Count("id")):
        u = by_user[(row["bypassed_by__username"], row["bypassed_by__team__code"] or "")]
        u["bypasses"] += row["n"]
    for row in StepApprover.objects.exclude(decision="").values("user__username", "user__team__code") \
            .annotate(n=Count("id")):
        by_user[(row["user__username"], row["user__team__code"] or "")]["decisions"] += row["n"]
    for row in Justification.objects.filter(status=Justification.Status.ESCALATED).values(
            "user__username", "user__team__code").annotate(n=Count("id")):
        by_user[(row["user__username"], row["user__team__code"] or "")]["overdue"] += row["n"]
    users = []
    teams: dict = defaultdict(lambda: {"bypasses": 0, "decisions": 0, "overdue": 0})
    for (username, team), v in sorted(by_user.items()):
        acted = v["bypasses"] + v["decisions"]
        users.append({"user": username, "team": team, **v, "rate": round(v["bypasses"] / acted, 3) if acted else 0})
        for k in ("bypasses", "decisions", "overdue"):
            teams[team][k] += v[k]
    team_rows = []
    for team, v in sorted(teams.items()):
        acted = v["bypasses"] + v["decisions"]
        team_rows.append({"team": team, **v, "rate": round(v["bypasses"] / acted, 3) if acted else 0})
    return {"users": users, "teams": team_rows}


def handoff_quality() -> list[dict]:
    """Per sending department: rated handoffs, average score, most frequent reasons."""
    out = []
    rows = (Handoff.objects.filter(rated_at__isnull=False).values("from_team__code", "from_team__name")
            .annotate(n=Count("id"), avg=Avg("score")).order_by("from_team__name"))
    for r in rows:
        reasons: dict = defaultdict(int)
        for rs in Handoff.objects.filter(rated_at__isnull=False, from_team__code=r["from_team__code"]) \
                .values_list("reasons", flat=True):
            for x in rs or []:
                reasons[x] += 1
        out.append({"team": r["from_team__code"] or "", "name": r["from_team__name"] or "", "rated": r["n"],
                    "average": round(r["avg"], 2) if r["avg"] is not None else None,
                    "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1]))})
    return out


def main_line_points(wo_type) -> list[dict]:
    """workorders.mainline.register_points: the approval flows that guard an action of this type
    (its own flow, else the flow for every type) and its handoff requirements, each linked to
    where it is designed. Used by the type designer's main line and its API."""
    from django.urls import reverse

    out = []
    flows = {}
    for f in ApprovalFlow.objects.filter(Q(wo_type=wo_type) | Q(wo_type__isnull=True)).order_by("action", "id"):
        if f.action not in flows or f.wo_type_id is not None:
            flows[f.action] = f
    for action, f in sorted(flows.items()):
        out.append({"kind": "approval", "action": action, "label": f.name, "active": f.active,
                    "for_every_type": f.wo_type_id is None,
                    "url": reverse("approvals:designer", args=[f.pk])})
    for r in (HandoffRequirement.objects.filter(Q(wo_type=wo_type) | Q(wo_type__isnull=True))
              .select_related("to_team").order_by("action", "id")):
        label = _("Handoff to %(team)s") % {"team": r.to_team.name} if r.to_team_id else _("Handoff")
        out.append({"kind": "handoff", "action": r.action, "label": str(label), "active": r.active,
                    "for_every_type": r.wo_type_id is None, "url": reverse("approvals:handoffs")})
    return out
