"""core.refcache: the per-process reference data a create or a transition reads (SLA policies, rules,
approval flows, handoff requirements, acknowledge policies, dispatch settings, types, teams).

A change made in this process is seen at once (model signals, or refcache.changed after an
update()); one made by another process (here: an update() that sends no signal, which is what
this process sees of another's write) is seen once the entry is older than refcache.SECONDS.
"""

import pytest

from closeloop.core import refcache
from closeloop.core.clock import now
from closeloop.rules.models import Rule
from closeloop.sla.models import BusinessCalendar, SLAPolicy, SLATarget
from closeloop.workorders import services
from closeloop.workorders.models import WorkOrderType


@pytest.fixture
def clock(monkeypatch):
    """refcache's clock, moved by hand."""
    t = [1000.0]
    monkeypatch.setattr(refcache, "_clock", lambda: t[0])
    return t


def _create(world, **data):
    return services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "呼吸机报警", "site": "site-a", **data})


def _policy(key, order=100, condition=""):
    cal, _ = BusinessCalendar.objects.get_or_create(key="24x7", defaults={"name": "7x24", "kind": "always"})
    return SLAPolicy.objects.create(key=key, name=key, order=order, condition=condition, calendar=cal,
                                    targets={"response": 900}, ladder=[], response_actions=["depart", "arrive"],
                                    updated_at=now())


def _policy_of(wo):
    return SLATarget.objects.filter(work_order=wo).values_list("policy__key", flat=True).first()


def test_a_policy_saved_in_this_process_is_used_by_the_next_create(world, clock):
    assert _policy_of(_create(world)) is None  # no policy: cached as "none"
    _policy("std")
    assert _policy_of(_create(world)) == "std"
    _policy("urgent", order=10, condition='wo.priority == "urgent"')
    assert _policy_of(_create(world, priority="urgent")) == "urgent"
    urgent = SLAPolicy.objects.get(key="urgent")
    urgent.active = False
    urgent.save()
    assert _policy_of(_create(world, priority="urgent")) == "std"


def test_a_change_by_another_process_is_seen_within_the_cache_seconds(world, clock):
    std = _policy("std")
    assert _policy_of(_create(world)) == "std"
    # Another process deactivates it: no signal reaches this one.
    SLAPolicy.objects.filter(pk=std.pk).update(active=False)
    assert _policy_of(_create(world)) == "std"  # still the cached list...
    clock[0] += refcache.SECONDS
    assert _policy_of(_create(world)) is None  # ...but not for longer than SECONDS


def test_rules_types_and_teams_follow_changes(world, clock):
    wo = _create(world, team="team-x")
    assert wo.team == world.team_x and wo.tags == []
    Rule.objects.create(name="tag", trigger="created", condition='wo.title.contains("报警")',
                        actions=[{"type": "add_tags", "tags": ["alarm"]}], owner=world.admin,
                        created_at=now(), updated_at=now())
    wo = _create(world)
    wo.refresh_from_db()
    assert wo.tags == ["alarm"]
    # A type deactivated elsewhere: refused once the entry is older than SECONDS.
    WorkOrderType.objects.filter(key="repair").update(active=False)
    clock[0] += refcache.SECONDS
    with pytest.raises(services.ValidationFailed):
        _create(world)
    # Saved here: at once.
    repair = WorkOrderType.objects.get(key="repair")
    repair.active = True
    repair.save()
    assert _create(world).wo_type.active


def test_changed_and_forget_all_empty_the_caches(world, clock):
    from closeloop.sla.policies import active_policies

    std = _policy("std")
    assert [p.key for p in active_policies()] == ["std"]
    SLAPolicy.objects.filter(pk=std.pk).update(active=False)
    assert [p.key for p in active_policies()] == ["std"]
    refcache.changed("sla.policies")
    assert active_policies() == []
    SLAPolicy.objects.filter(pk=std.pk).update(active=True)
    refcache.forget_all()
    assert [p.key for p in active_policies()] == ["std"]
