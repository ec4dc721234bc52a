"""From a figure to the work orders behind it: the list page's `drill` parameter.

A figure links to `/workorders/?drill=<spec>` where spec is a query string of its own:
`m=wo` (work orders created in the period, `flag=` one of measures.FLAGS) or `m=cell` (work
orders with a stay in `state` started in the period, by `team` or `person`) or `m=ep` (work
orders with an approval request, approver step, handoff or acknowledge chain: `kind`, with
`flow`, `version`, `level`, `from_team`, `outcome`), plus the scope (`from`, `to`, `team`,
`type`, `priority`, `customer`, `region`). The list narrows to the ids the same
definitions give (measures.facts_q / intervals_q), inside the user's visibility as always.
"""

from urllib.parse import parse_qsl, urlencode

from django.urls import reverse
from django.utils.translation import gettext as _

from closeloop.core.errors import FieldProblem, ValidationFailed

from . import measures


def url(values: dict, **spec) -> str:
    """The work order list showing exactly the work orders of a figure."""
    inner = {**values, **{k: v for k, v in spec.items() if v is not None}}
    return reverse("workorders:list") + "?" + urlencode({"drill": urlencode(inner)})


def parse(raw: str) -> dict:
    return dict(parse_qsl(raw or ""))


def ids_query(spec: dict, user=None):
    """The work order ids a drill spec names; ValidationFailed naming what is wrong."""
    from .selectors import scope_from

    parsed = scope_from(_NoTeamFix(), spec)
    if parsed.problems:
        raise ValidationFailed([FieldProblem(f"drill.{p.field}", p.message, p.code) for p in parsed.problems])
    scope = parsed.scope
    m = spec.get("m") or "wo"
    if m == "wo":
        flag = spec.get("flag") or "created"
        if flag not in measures.FLAGS:
            raise ValidationFailed(FieldProblem("drill.flag", _("No such figure."), "invalid"))
        extra = {}
        for name, col in (("channel", "channel"), ("site", "site_id"), ("asset", "asset_id"),
                          ("fault_code", "fault_code"), ("assignee", "assignee_id")):
            if name in spec:
                extra[col] = spec[name] if col in ("channel", "fault_code") else _int(spec[name], name)
        return measures.facts_q(scope, flag, **extra).values("work_order_id")
    if m == "cell":
        state = spec.get("state") or ""
        if state not in measures.WAIT_STATES:
            raise ValidationFailed(FieldProblem("drill.state", _("No such state."), "invalid"))
        by = "person" if "person" in spec else "team"
        key = _int(spec.get("person" if by == "person" else "cell_team"), by)
        col = "assignee_id" if by == "person" else "team_id"
        return measures.intervals_q(scope, state=state, **{col: key}).values("work_order_id")
    if m == "ep":
        kind = spec.get("kind") or ""
        if kind not in ("approval", "step", "handoff", "ack"):
            raise ValidationFailed(FieldProblem("drill.kind", _("No such figure."), "invalid"))
        extra = {}
        if "flow" in spec:
            extra["label"] = spec["flow"]
        for name, col in (("version", "version"), ("level", "level"), ("from_team", "from_team_id")):
            if name in spec:
                extra[col] = _int(spec[name], name)
        if spec.get("outcome") == "open":
            extra["ended_at__isnull"] = True
        elif spec.get("outcome"):
            extra["outcome"] = spec["outcome"]
        return measures.episodes_q(scope, kind, **extra).values("work_order_id")
    raise ValidationFailed(FieldProblem("drill.m", _("No such figure."), "invalid"))


def _int(raw, name):
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ValidationFailed(FieldProblem(f"drill.{name}", _("A whole number."), "invalid")) from None


class _NoTeamFix:
    """scope_from's user for a drill spec: the team is the spec's (visibility is the list's job)."""

    is_superuser = True
    role = "admin"
    is_authenticated = True
    is_active = True


def narrow_work_orders(qs, f):
    """workorders.selectors filter part: `?drill=` narrows the list to a figure's work orders."""
    raw = (f.extra or {}).get("drill")
    if not raw:
        return qs
    return qs.filter(pk__in=ids_query(parse(raw)))


def describe(raw: str) -> str | None:
    """A line for the list page saying which figure it shows."""
    from closeloop.workorders.lifecycle import STATE_LABELS

    spec = parse(raw)
    if not spec:
        return None
    period = f"{spec.get('from', '')} – {spec.get('to', '')}"
    if spec.get("m") == "ep":
        kinds = {"approval": _("approval requests"), "step": _("approver steps"), "handoff": _("handoffs"),
                 "ack": _("acknowledge-or-escalate chains")}
        return _("Analytics: %(figure)s, created %(period)s") % {
            "figure": kinds.get(spec.get("kind"), spec.get("kind")), "period": period}
    if spec.get("m") == "cell":
        return _("Analytics: stays in “%(state)s” started %(period)s") % {
            "state": STATE_LABELS.get(spec.get("state"), spec.get("state")), "period": period}
    return _("Analytics: %(figure)s, created %(period)s") % {
        "figure": FLAG_LABELS().get(spec.get("flag") or "created", spec.get("flag")), "period": period}


def FLAG_LABELS() -> dict:  # noqa: N802 - a table, read at request time (translations)
    return {
        "created": _("work orders"), "open": _("still open"), "resolved": _("technically complete"),
        "done": _("complete (not reopened since)"),
        "reopened": _("reopened"), "responded": _("responded"), "response_met": _("response in time"),
        "resolution_decided": _("resolution target decided"),
        "response_breached": _("response late"), "breached": _("SLA breached"),
        "handover3": _("3 or more hand-overs"), "handed_over": _("handed over"),
        "ftf": _("first-time fix"), "not_ftf": _("not fixed the first time"), "repeat": _("repeat faults"),
        "rated": _("rated"), "unsatisfied": _("rated 3 or less"), "waiting_invoice": _("waiting for an invoice"),
        "invoiced": _("invoiced"), "update15": _("first update within 15 minutes"),
        "update30": _("first update within 30 minutes"),
    }


def list_context(request) -> dict:
    """workorders.listing context: the line naming the figure a drilled-down list shows."""
    raw = request.GET.get("drill")
    if not raw:
        return {}
    params = request.GET.copy()
    params.pop("drill", None)
    params.pop("cursor", None)
    return {"analytics_drill": describe(raw), "analytics_clear": params.urlencode()}
