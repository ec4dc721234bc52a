"""`{% load sla_timeline %}`: what people see for the keys an escalation event stores
(milestone, ladder actions, priorities, team codes), in the reader's language."""

from django import template
from django.utils.translation import gettext_lazy as _

from closeloop.accounts.models import Team
from closeloop.sla.models import Milestone
from closeloop.workorders.models import Priority

register = template.Library()

#: The ladder's actions (sla.services.ACTIONS) and the rules' escalate action's (rules.runner).
ACTION_LABELS = {
    "remind_assignee": _("Reminded the assignee"),
    "notify_supervisor": _("Notified the supervisor"),
    "reassign_backup": _("Told the backup team"),
    "raise_priority": _("Raised the priority"),
    "call_manager": _("Called the manager"),
    "move_team": _("Moved to another team"),
    "notify": _("Notified"),
}


@register.filter
def milestone_label(key) -> str:
    key = str(key or "")
    return str(Milestone(key).label) if key in Milestone.values else key


@register.filter
def escalation_action(key) -> str:
    key = str(key or "")
    return str(ACTION_LABELS[key]) if key in ACTION_LABELS else key.replace("_", " ")


@register.filter
def priority_label(key) -> str:
    key = str(key or "")
    return str(Priority(key).label) if key in Priority.values else key


@register.filter
def team_name(code) -> str:
    """A team code (as escalations record it) -> the team's name; a team since deleted keeps its code."""
    code = str(code or "")
    if not code:
        return "—"
    return Team.objects.filter(code=code).values_list("name", flat=True).first() or code
