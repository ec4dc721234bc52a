"""The SLA API: policies (admins write, staff read), the ledger in the work order
detail and at /sla, list filters `breached` and `due_within`, permissions."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from closeloop.sla.models import SLAPolicy, SLATarget
from closeloop.sla.worker import handle_one_sla_check
from closeloop.workorders import services as wo_services

from .helpers import calendars, policy

V1 = "/api/v1"
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def cals(db):
    return calendars()


def create(world, org="a", **data):
    body = {"type": "repair", "title": "呼吸机报警", "customer": f"org-{org}", "site": f"site-{org}"}
    body.update(data)
    return wo_services.do_create_work_order(actor=world.dispatcher, data=body)


POLICY = {"key": "urgent", "name": "紧急停线", "order": 10, "condition": 'wo.priority == "urgent"',
          "calendar": "24x7", "targets": {"response": 900, "resolution": 14400},
          "ladder": [{"level": 1, "pct": 75, "actions": ["remind_assignee"]},
                     {"level": 2, "after": 0, "actions": ["notify_supervisor"]}]}


def test_an_admin_creates_and_edits_a_policy(world, cals):
    api = world.api(world.admin)
    r = api.post(f"{V1}/sla/policies", POLICY)
    assert r.status_code == 201, r.content
    assert r.json()["version"] == 1 and r.json()["response_actions"] == ["depart", "arrive"]
    r = api.patch(f"{V1}/sla/policies/urgent", {"targets": {"response": 600}})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["targets"] == {"response": 600}
    assert [p["key"] for p in world.api(world.dispatcher).get(f"{V1}/sla/policies").json()] == ["urgent"]
    assert {c["key"] for c in world.api(world.dispatcher).get(f"{V1}/sla/calendars").json()} == {"24x7", "cn-office"}


@pytest.mark.parametrize("body, field", [
    ({**POLICY, "response_actions": ["accept"]}, "response_actions"),
    ({**POLICY, "condition": "wo.priority =="}, "condition"),
    ({**POLICY, "calendar": "nope"}, "calendar"),
    ({**POLICY, "targets": {"lunch": 60}}, "targets.lunch"),
    ({**POLICY, "ladder": [{"level": 1, "actions": ["remind_assignee"]}]}, "ladder[0]"),
    ({**POLICY, "surprise": 1}, "surprise"),
])
def test_bad_policies_are_refused_naming_the_field(world, cals, body, field):
    r = world.api(world.admin).post(f"{V1}/sla/policies", body)
    assert r.status_code == 422
    assert r["Content-Type"] == "application/problem+json"
    assert field in [e["field"] for e in r.json()["errors"]]
    assert not SLAPolicy.objects.exists()


@pytest.mark.parametrize("who", ["dispatcher", "manager", "eng_x", "cust_a"])
def test_only_admins_write_policies(world, cals, who):
    r = world.api(getattr(world, who)).post(f"{V1}/sla/policies", POLICY)
    assert r.status_code == 403


@pytest.mark.parametrize("who", ["eng_x", "cust_a"])
def test_engineers_and_customers_do_not_read_policies(world, cals, who):
    assert world.api(getattr(world, who)).get(f"{V1}/sla/policies").status_code == 403


def test_the_ledger_is_in_the_detail_and_filters_find_breaches(world, cals):
    policy("p", cals[1], targets={"response": 900})
    with time_machine.travel(T0, tick=False):
        late = create(world, priority="urgent")
    with time_machine.travel(T0 + timedelta(seconds=800), tick=False):
        soon = create(world)
    with time_machine.travel(T0 + timedelta(seconds=1000), tick=False):
        handle_one_sla_check("w")
        handle_one_sla_check("w")
        api = world.api(world.dispatcher)
        detail = api.get(f"{V1}/work-orders/{late.code}").json()
        [target] = detail["sla"]
        assert target["milestone"] == "response" and target["state"] == "breached"
        assert target["policy"] == {"key": "p", "name": "p", "version": 1}
        assert target["remaining_seconds"] == -100
        breached = api.get(f"{V1}/work-orders", {"breached": "true"}).json()["items"]
        assert [w["code"] for w in breached] == [late.code]
        due = api.get(f"{V1}/work-orders", {"due_within": 3600}).json()["items"]
        assert [w["code"] for w in due] == [soon.code]
        assert api.get(f"{V1}/work-orders", {"due_within": 600}).json()["items"] == []
        not_breached = api.get(f"{V1}/work-orders", {"breached": "false"}).json()["items"]
        assert [w["code"] for w in not_breached] == [soon.code]
        sla = api.get(f"{V1}/work-orders/{late.code}/sla").json()
        assert [e["level"] for e in sla["escalations"]] == [1, 2]  # level 3 is at breach + 30 min


def test_customers_see_their_ledger_but_not_escalations_and_not_others(world, cals):
    policy("p", cals[1], targets={"response": 60})
    with time_machine.travel(T0, tick=False):
        mine = create(world, "a")
        theirs = create(world, "b")
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        while handle_one_sla_check("w"):
            pass
        api = world.api(world.cust_a)
        r = api.get(f"{V1}/work-orders/{mine.code}/sla").json()
        assert r["targets"][0]["state"] == "breached" and r["escalations"] == []
        assert api.get(f"{V1}/work-orders/{theirs.code}/sla").status_code == 404
        codes = [w["code"] for w in api.get(f"{V1}/work-orders", {"breached": "true"}).json()["items"]]
        assert codes == [mine.code]


def test_an_admin_edits_a_calendar_and_open_deadlines_move(world, cals):
    china, _ = cals
    policy("p", china, targets={"response": 2 * 3600})
    sh = ZoneInfo("Asia/Shanghai")
    with time_machine.travel(datetime(2026, 3, 6, 17, tzinfo=sh), tick=False):  # Friday 17:00
        wo = create(world)
        r = SLATarget.objects.get(work_order=wo)
        assert r.due_at == datetime(2026, 3, 9, 10, tzinfo=sh)
        resp = world.api(world.admin).patch(f"{V1}/sla/calendars/cn-office", {"holidays": ["2026-03-09"]})
        assert resp.status_code == 200, resp.content
    r = SLATarget.objects.get(work_order=wo)
    assert r.due_at == datetime(2026, 3, 10, 10, tzinfo=sh) and r.policy_version == 2


@pytest.mark.parametrize("body, field", [
    ({"key": "x", "name": "x", "tz": "Mars/Olympus"}, "tz"),
    ({"key": "x", "name": "x", "week": {"7": [["09:00", "18:00"]]}}, "week.7"),
    ({"key": "x", "name": "x", "week": {"0": [["9am", "6pm"]]}}, "week.0"),
    ({"key": "x", "name": "x", "holidays": ["tomorrow"]}, "holidays"),
    ({"key": "x", "name": "x", "kind": "lunar"}, "kind"),
])
def test_bad_calendars_are_refused(world, cals, body, field):
    r = world.api(world.admin).post(f"{V1}/sla/calendars", body)
    assert r.status_code == 422 and field in [e["field"] for e in r.json()["errors"]]


def test_only_admins_write_calendars(world, cals):
    body = {"key": "x", "name": "x"}
    assert world.api(world.manager).post(f"{V1}/sla/calendars", body).status_code == 403
    assert world.api(world.admin).post(f"{V1}/sla/calendars", body).status_code == 201
