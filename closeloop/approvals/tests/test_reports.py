"""Durations per flow version (before/after a change) and the bypass rate per user and team."""

from datetime import timedelta

import time_machine

from closeloop.workorders.lifecycle import S
from closeloop.workorders.tests.factories import make_wo

from .. import selectors, services
from .conftest import purchase_tree


def test_durations_per_version_before_after(world, org, purchase_flow):
    with time_machine.travel("2026-11-23 01:00:00Z", tick=False) as clock:
        for hours in (10, 6):
            wo = make_wo(world, status=S.IN_PROGRESS)
            req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 100})
            clock.shift(timedelta(hours=hours))
            services.do_decide(actor=world.manager, req=req, decision="approve")
        tree = purchase_tree()
        tree["nodes"][0]["branches"][0]["nodes"][0]["timer"] = {"hours": 2, "action": "approve"}
        services.do_publish(actor=world.manager, flow=purchase_flow, tree=tree)
        wo = make_wo(world, status=S.IN_PROGRESS)
        req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 100})
        clock.shift(timedelta(hours=2))
        services.do_decide(actor=world.manager, req=req, decision="approve")
        wo = make_wo(world, status=S.IN_PROGRESS)
        services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 100})
    rows = selectors.duration_report(purchase_flow)
    assert [(r["version"], r["requests"], r["approved"], r["pending"], r["median_hours"], r["median_change_hours"])
            for r in rows] == [(1, 2, 2, 0, 8.0, None), (2, 2, 1, 1, 2.0, -6.0)]


def test_bypass_rate_per_user_and_team(world, org, purchase_flow):
    world.manager.team = world.team_x
    world.manager.save()
    reqs = []
    for _i in range(3):
        wo = make_wo(world, status=S.IN_PROGRESS)
        reqs.append(services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part",
                                              data={"amount": 100}))
    services.do_decide(actor=world.manager, req=reqs[0], decision="approve")
    services.do_decide(actor=world.manager, req=reqs[1], decision="approve")
    services.do_bypass(actor=world.manager, req=reqs[2], reason="night emergency")
    rep = selectors.bypass_report()
    assert rep["users"] == [{"user": "manager", "team": "team-x", "bypasses": 1, "decisions": 2, "overdue": 0,
                             "rate": 0.333}]
    assert rep["teams"] == [{"team": "team-x", "bypasses": 1, "decisions": 2, "overdue": 0, "rate": 0.333}]
