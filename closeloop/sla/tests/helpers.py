from closeloop.core.clock import now
from closeloop.sla.calendars import OFFICE_WEEK
from closeloop.sla.models import BusinessCalendar, SLAPolicy

LADDER = [
    {"level": 1, "pct": 75, "actions": ["remind_assignee"]},
    {"level": 2, "after": 0, "actions": ["notify_supervisor", "raise_priority"]},
    {"level": 3, "after": 1800, "actions": ["reassign_backup", "call_manager"]},
]


def calendars():
    china = BusinessCalendar.objects.create(
        key="cn-office", name="中国工作日", kind="china", tz="Asia/Shanghai",
        week={str(k): [list(s) for s in v] for k, v in OFFICE_WEEK.items()})
    always = BusinessCalendar.objects.create(key="24x7", name="7x24", kind="always", tz="Asia/Shanghai")
    return china, always


def policy(key, cal, *, order=100, condition="", targets=None, ladder=None, response_actions=None):
    return SLAPolicy.objects.create(
        key=key, name=key, order=order, condition=condition, calendar=cal,
        targets=targets or {"response": 900, "arrival": 3600, "resolution": 4 * 3600, "closure": 8 * 3600},
        ladder=LADDER if ladder is None else ladder,
        response_actions=response_actions or ["depart", "arrive"], updated_at=now())
