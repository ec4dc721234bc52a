"""Dispatch settings, rosters and leave: the API and the console pages, the permission
matrix, bad input; the suggestions card's override; open work through the lifecycle."""

from datetime import timedelta

import pytest
import time_machine

from closeloop.core.clock import now
from closeloop.dispatch import facts
from closeloop.dispatch.models import DispatchSetting
from closeloop.roster.models import Leave, Shift
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import TimelineEvent
from closeloop.workorders.services import do_create_work_order, do_transition
from closeloop.workorders.tests.factories import make_wo

from .conftest import T0

ROLES = ("admin", "manager", "dispatcher", "eng_x", "cust_a")


def en_client(world, user):
    """A console session in English (the default language is zh-Hans)."""
    c = world.browser_client(user)
    c.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return c


def _fields(r):
    return {e["field"] for e in r.json()["errors"]}


# ---- settings -------------------------------------------------------------------------------------

@pytest.mark.parametrize("role,get,put", [("admin", 200, 200), ("manager", 200, 200), ("dispatcher", 200, 403),
                                          ("eng_x", 403, 403), ("cust_a", 403, 403), ("finance", 403, 403)])
def test_settings_api_permissions(world, role, get, put):
    api = world.api(getattr(world, role))
    assert api.get("/api/v1/dispatch/settings").status_code == get
    r = api.put("/api/v1/dispatch/settings", {"settings": [{"type": "repair", "mode": "auto"}]})
    assert r.status_code == put, r.content
    assert DispatchSetting.objects.count() == (1 if put == 200 else 0)


def test_settings_api_replaces_the_list(world):
    api = world.api(world.manager)
    r = api.put("/api/v1/dispatch/settings", {"settings": [
        {"type": "repair", "mode": "auto", "estimated_hours": 3.5, "top_n": 3},
        {"team": "team-x", "mode": "round_robin"}]})
    assert r.status_code == 200, r.content
    got = {(x["type"], x["team"]): (x["mode"], x["estimated_hours"], x["top_n"]) for x in r.json()["settings"]}
    assert got == {("repair", None): ("auto", 3.5, 3), (None, "team-x"): ("round_robin", 2.0, 5)}
    assert api.get("/api/v1/dispatch/settings").json() == r.json()
    r = api.put("/api/v1/dispatch/settings", {"settings": [{"team": "team-x", "mode": "suggest"}]})
    assert [x["team"] for x in r.json()["settings"]] == ["team-x"] and DispatchSetting.objects.count() == 1


@pytest.mark.parametrize("row,field", [
    ({"mode": "auto"}, "settings[0].type"),  # neither type nor team
    ({"type": "repair", "team": "team-x"}, "settings[0].type"),  # both
    ({"type": "nope"}, "settings[0].type"),
    ({"team": "nope"}, "settings[0].team"),
    ({"type": "repair", "mode": "fastest"}, "settings[0].mode"),
    ({"type": "repair", "estimated_hours": 0}, "settings[0].estimated_hours"),
    ({"type": "repair", "estimated_hours": 25}, "settings[0].estimated_hours"),
    ({"type": "repair", "top_n": 0}, "settings[0].top_n"),
    ({"type": "repair", "top_n": 51}, "settings[0].top_n"),
])
def test_settings_api_bad_input_names_the_field_and_changes_nothing(world, row, field):
    DispatchSetting.objects.create(wo_type=world.production, mode="auto")
    r = world.api(world.manager).put("/api/v1/dispatch/settings", {"settings": [row]})
    assert r.status_code == 422, r.content
    assert field in _fields(r)
    assert list(DispatchSetting.objects.values_list("mode", flat=True)) == ["auto"]


def test_settings_api_duplicates_and_unknown_fields(world):
    api = world.api(world.manager)
    r = api.put("/api/v1/dispatch/settings", {"settings": [{"type": "repair"}, {"type": "repair", "mode": "auto"}]})
    assert r.status_code == 422 and "settings[1].type" in _fields(r)
    assert api.put("/api/v1/dispatch/settings", {"settings": [{"type": "repair", "colour": 1}]}).status_code == 422
    assert DispatchSetting.objects.count() == 0


@pytest.mark.parametrize("role,status", [("admin", 200), ("manager", 200), ("dispatcher", 403), ("eng_x", 403),
                                         ("cust_a", 403)])
def test_settings_page_permissions(world, role, status):
    c = en_client(world, getattr(world, role))
    assert c.get("/dispatch/settings/").status_code == status
    r = c.post("/dispatch/settings/", {"target": "type:repair", "mode": "auto", "estimated_hours": "2",
                                       "top_n": "5"})
    assert r.status_code == (302 if status == 200 else 403)
    assert DispatchSetting.objects.count() == (1 if status == 200 else 0)


def test_settings_page_create_edit_delete_and_errors(world):
    c = en_client(world, world.manager)
    r = c.post("/dispatch/settings/", {"target": "team:team-x", "mode": "round_robin", "estimated_hours": "3",
                                       "top_n": "4"})
    assert r.status_code == 302
    row = DispatchSetting.objects.get()
    assert (row.team, row.mode, float(row.estimated_hours), row.top_n) == (world.team_x, "round_robin", 3.0, 4)
    page = c.get("/dispatch/settings/").content.decode()
    assert 'data-testid="setting"' in page and "Team X" in page and 'nav' in page
    # The same team again: refused, named.
    r = c.post("/dispatch/settings/", {"target": "team:team-x", "mode": "auto", "estimated_hours": "2",
                                       "top_n": "5"})
    assert r.status_code == 422 and "team: " in r.content.decode()
    # Bad numbers: each named, nothing saved.
    r = c.post("/dispatch/settings/", {"id": row.pk, "target": "team:team-x", "mode": "auto",
                                       "estimated_hours": "abc", "top_n": "0"})
    body = r.content.decode()
    assert r.status_code == 422 and "estimated_hours: " in body and "top_n: " in body
    row.refresh_from_db()
    assert row.mode == "round_robin"
    r = c.post("/dispatch/settings/", {"target": "", "mode": "auto", "estimated_hours": "2", "top_n": "5"})
    assert r.status_code == 422 and "type: " in r.content.decode()
    # Edit, then delete.
    c.post("/dispatch/settings/", {"id": row.pk, "target": "team:team-x", "mode": "auto", "estimated_hours": "1.5",
                                   "top_n": "2", "action": "save"})
    row.refresh_from_db()
    assert (row.mode, float(row.estimated_hours), row.top_n) == ("auto", 1.5, 2)
    c.post("/dispatch/settings/", {"id": row.pk, "action": "delete"})
    assert DispatchSetting.objects.count() == 0


def test_nav_entries(world):
    page = en_client(world, world.manager).get("/dispatch/settings/").content.decode()
    assert 'href="/dispatch/settings/"' in page and 'href="/dispatch/roster/"' in page
    page = en_client(world, world.dispatcher).get("/dispatch/roster/").content.decode()
    assert 'href="/dispatch/roster/"' in page and 'href="/dispatch/settings/"' not in page
    assert 'href="/dispatch/roster/"' not in en_client(world, world.eng_x).get("/").content.decode()


# ---- shifts and leave --------------------------------------------------------------------------------

SHIFT = {"user": "eng_x", "kind": "shift", "starts_at": "2026-11-23T08:00:00+08:00",
         "ends_at": "2026-11-23T18:00:00+08:00"}


@pytest.mark.parametrize("role,status", [("admin", 201), ("manager", 201), ("dispatcher", 201), ("eng_x", 403),
                                         ("cust_a", 403)])
def test_shift_and_leave_api_permissions(world, role, status):
    api = world.api(getattr(world, role))
    r = api.post("/api/v1/dispatch/shifts", SHIFT)
    assert r.status_code == status, r.content
    r = api.post("/api/v1/dispatch/leaves",
                 {"user": "eng_x", "starts_at": SHIFT["starts_at"], "ends_at": SHIFT["ends_at"], "reason": "年假"})
    assert r.status_code == status, r.content
    listing = 200 if status == 201 else 403
    assert api.get("/api/v1/dispatch/shifts?from=2026-11-23T00:00:00Z").status_code == listing
    assert api.get("/api/v1/dispatch/leaves?from=2026-11-23T00:00:00Z").status_code == listing
    other = Shift.objects.create(user=world.eng_y, starts_at=now(), ends_at=now() + timedelta(hours=1))
    assert api.delete(f"/api/v1/dispatch/shifts/{other.pk}").status_code == (204 if status == 201 else 403)


def test_shift_api_lists_adds_and_deletes(world):
    api = world.api(world.dispatcher)
    r = api.post("/api/v1/dispatch/shifts", SHIFT)
    assert r.status_code == 201 and r.json()["user"] == "eng_x"
    # On call may overlap a shift; another shift may not.
    assert api.post("/api/v1/dispatch/shifts", {**SHIFT, "kind": "on_call"}).status_code == 201
    r = api.post("/api/v1/dispatch/shifts", {**SHIFT, "starts_at": "2026-11-23T17:00:00+08:00",
                                             "ends_at": "2026-11-23T20:00:00+08:00"})
    assert r.status_code == 422 and "starts_at" in _fields(r) and r.json()["errors"][0]["code"] == "overlap"
    listed = api.get("/api/v1/dispatch/shifts?from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z&user=eng_x").json()
    assert [x["kind"] for x in listed] == ["shift", "on_call"]
    assert api.get("/api/v1/dispatch/shifts?from=2026-11-25T00:00:00Z&to=2026-11-24T00:00:00Z").status_code == 422
    sid = listed[0]["id"]
    assert api.delete(f"/api/v1/dispatch/shifts/{sid}").status_code == 204
    assert api.delete(f"/api/v1/dispatch/shifts/{sid}").status_code == 404


@pytest.mark.parametrize("data,field", [
    ({**SHIFT, "ends_at": SHIFT["starts_at"]}, "ends_at"),
    ({**SHIFT, "ends_at": "2026-11-23T07:00:00+08:00"}, "ends_at"),
    ({**SHIFT, "ends_at": "2026-11-25T08:00:00+08:00"}, "ends_at"),  # longer than 24 h
    ({**SHIFT, "user": "nobody"}, "user"),
    ({**SHIFT, "user": "dispatcher"}, "user"),  # not an engineer
    ({**SHIFT, "kind": "nap"}, "kind"),
])
def test_shift_api_bad_input(world, data, field):
    r = world.api(world.manager).post("/api/v1/dispatch/shifts", data)
    assert r.status_code == 422 and field in _fields(r), r.content
    assert Shift.objects.count() == 0


def test_leave_api_overlap_and_order(world):
    api = world.api(world.manager)
    leave = {"user": "eng_y", "starts_at": "2026-11-23T00:00:00+08:00", "ends_at": "2026-11-26T00:00:00+08:00",
             "reason": "年假"}
    assert api.post("/api/v1/dispatch/leaves", leave).status_code == 201
    r = api.post("/api/v1/dispatch/leaves", {**leave, "starts_at": "2026-11-25T00:00:00+08:00",
                                             "ends_at": "2026-11-27T00:00:00+08:00"})
    assert r.status_code == 422 and "starts_at" in _fields(r)
    r = api.post("/api/v1/dispatch/leaves", {**leave, "ends_at": "2026-11-22T00:00:00+08:00"})
    assert r.status_code == 422 and "ends_at" in _fields(r)
    assert api.post("/api/v1/dispatch/leaves", {**leave, "bogus": 1}).status_code == 422
    assert Leave.objects.count() == 1
    [x] = api.get("/api/v1/dispatch/leaves?from=2026-11-22T00:00:00Z").json()
    assert x["reason"] == "年假" and x["user"] == "eng_y"
    assert api.delete(f"/api/v1/dispatch/leaves/{x['id']}").status_code == 204


@pytest.mark.parametrize("role,status", [("admin", 200), ("manager", 200), ("dispatcher", 200), ("eng_x", 403),
                                         ("cust_a", 403)])
def test_roster_page_permissions(world, role, status):
    c = en_client(world, getattr(world, role))
    assert c.get("/dispatch/roster/").status_code == status
    r = c.post("/dispatch/roster/", {"form": "leave", "user": "eng_x", "starts_at": "2026-11-23T08:00",
                                     "ends_at": "2026-11-24T08:00"})
    assert r.status_code == (302 if status == 200 else 403)


@time_machine.travel(T0, tick=False)
def test_roster_page_shows_duty_skills_load_and_adds_with_errors(crew):
    c = en_client(crew, crew.dispatcher)
    make_wo(crew, status=S.ASSIGNED, assignee=crew.eng_x)
    Leave.objects.create(user=crew.eng_y, starts_at=now() + timedelta(days=2), ends_at=now() + timedelta(days=3),
                         reason="年假")
    page = c.get("/dispatch/roster/").content.decode()
    row = page.split('data-username="eng_x"')[1].split("</tr>")[0]
    assert "呼吸机 3" in row and "1 open, 2 of 8 h" in row and "shift 08:00–16:00" in row
    assert "leave" in page.split('data-username="eng_y"')[1].split("</tr>")[0]
    # End before start: named, nothing written, the form keeps what was typed.
    r = c.post("/dispatch/roster/", {"form": "shift", "user": "eng_x2", "kind": "shift",
                                     "starts_at": "2026-11-24T18:00", "ends_at": "2026-11-24T08:00"})
    assert r.status_code == 422 and "ends_at: Must be after the start." in r.content.decode()
    assert 'value="2026-11-24T18:00"' in r.content.decode() and Shift.objects.filter(user=crew.eng_x2).count() == 1
    # Overlapping the engineer's own shift today.
    r = c.post("/dispatch/roster/", {"form": "shift", "user": "eng_x", "kind": "shift",
                                     "starts_at": "2026-11-23T09:00", "ends_at": "2026-11-23T12:00"})
    assert r.status_code == 422 and "Overlaps" in r.content.decode()
    r = c.post("/dispatch/roster/", {"form": "shift", "user": "eng_x2", "kind": "on_call",
                                     "starts_at": "2026-11-24T18:00", "ends_at": "2026-11-25T08:00"})
    assert r.status_code == 302 and Shift.objects.filter(user=crew.eng_x2, kind="on_call").count() == 1
    r = c.post("/dispatch/roster/", {"form": "leave", "user": "", "starts_at": "", "ends_at": "x"})
    body = r.content.decode()
    assert r.status_code == 422 and all(f"{f}: " in body for f in ("user", "starts_at", "ends_at"))
    leave = Leave.objects.get(user=crew.eng_y)
    assert c.post("/dispatch/roster/", {"form": "delete-leave", "id": leave.pk}).status_code == 302
    assert not Leave.objects.filter(pk=leave.pk).exists()


# ---- the card's override, ETA in the API, open work through the lifecycle ------------------------------

@time_machine.travel(T0, tick=False)
def test_card_override_asks_for_a_reason_and_records_it(crew):
    wo = do_create_work_order(actor=crew.dispatcher, data={"type": "repair", "title": "呼吸机离线",
                                                           "asset": "SN-A-1"})
    c = en_client(crew, crew.dispatcher)
    page = c.get(f"/work-orders/{wo.code}/").content.decode()
    card = page.split('data-testid="suggestions"')[1]
    assert 'data-testid="assign-best"' in card and 'data-testid="eta"' in card
    other = card.split('data-username="eng_x2"')[1].split('data-testid="suggestion"')[0]
    assert 'name="reason" required' in other
    r = c.post(f"/dispatch/work-orders/{wo.code}/assign", {"assignee": "eng_x2", "reason": ""}, follow=True)
    wo.refresh_from_db()
    assert wo.assignee is None and "needs a reason" in r.content.decode()
    c.post(f"/dispatch/work-orders/{wo.code}/assign", {"assignee": "eng_x2", "reason": "客户指定 eng_x2"})
    wo.refresh_from_db()
    assert wo.assignee == crew.eng_x2
    ev = TimelineEvent.objects.get(work_order=wo, kind="dispatch")
    assert ev.data["override"] is True and ev.data["reason"] == "客户指定 eng_x2" and ev.data["best"] == "eng_x"
    page = c.get(f"/work-orders/{wo.code}/").content.decode()
    assert "客户指定 eng_x2" in page.split('data-testid="dispatch-event"')[1]
    # Engineers and customers cannot use it.
    wo2 = make_wo(crew, asset=crew.asset_a)
    assert en_client(crew, crew.eng_x).post(f"/dispatch/work-orders/{wo2.code}/assign").status_code == 302
    assert en_client(crew, crew.cust_b).post(f"/dispatch/work-orders/{wo2.code}/assign").status_code == 404
    wo2.refresh_from_db()
    assert wo2.assignee is None


@time_machine.travel(T0, tick=False)
def test_dispatch_api_returns_the_eta(crew):
    wo = make_wo(crew, asset=crew.asset_a)
    r = crew.api(crew.dispatcher).post(f"/api/v1/work-orders/{wo.code}/dispatch")
    d = r.json()["dispatch"]
    assert d["assignee"] == "eng_x" and d["estimated_start"] < d["estimated_finish"]
    assert TimelineEvent.objects.get(work_order=wo, kind="dispatch").data["estimated_start"] == d["estimated_start"]


@time_machine.travel(T0, tick=False)
def test_open_work_follows_assign_reassign_complete_and_cancel(crew):
    def load():
        uids, counts, _hours = facts.open_work()
        return {int(u): int(c) for u, c in zip(uids, counts, strict=True) if c}

    a, b = make_wo(crew), make_wo(crew)
    do_transition(actor=crew.dispatcher, wo=a, action="assign", data={"assignee": "eng_x"})
    do_transition(actor=crew.dispatcher, wo=b, action="assign", data={"assignee": "eng_x"})
    assert load() == {crew.eng_x.pk: 2}
    do_transition(actor=crew.dispatcher, wo=b, action="assign", data={"assignee": "eng_y"})
    assert load() == {crew.eng_x.pk: 1, crew.eng_y.pk: 1}
    do_transition(actor=crew.eng_x, wo=a, action="accept")
    do_transition(actor=crew.eng_x, wo=a, action="start")
    do_transition(actor=crew.eng_x, wo=a, action="wait", data={"reason": "parts"})
    assert load() == {crew.eng_y.pk: 1}  # waiting for parts takes no time today
    do_transition(actor=crew.eng_x, wo=a, action="resume")
    do_transition(actor=crew.eng_x, wo=a, action="complete", data={"resolution": "换板"})
    do_transition(actor=crew.dispatcher, wo=b, action="cancel", data={"reason": "重复"})
    assert load() == {}
