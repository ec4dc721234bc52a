"""The API (CRUD, forecast, history, parts forecast) and the console pages."""

from datetime import UTC, datetime

import pytest
import time_machine

from closeloop.maintenance import engine
from closeloop.maintenance.models import Plan

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 1, 1, 1, tzinfo=UTC)

BODY = {
    "name": "电梯月保",
    "type": "pm",
    "scope": "model",
    "model": "LX-9",
    "trigger": "calendar",
    "every": 1,
    "unit": "month",
    "start_date": "2026-01-10",
    "lead_days": 2,
    "parts": [{"part_id": 3, "quantity": 1}],
    "checklist": ["检查门机"],
}


def test_crud_forecast_history_and_parts(pm):
    api = pm.world.api(pm.world.dispatcher)
    with time_machine.travel(T0, tick=False):
        r = api.post("/api/v1/maintenance/plans", BODY)
        assert r.status_code == 201, r.content
        pid = r.json()["id"]
        assert r.json()["plan"]["parts"] == [{"part_id": 3, "quantity": 1}]
        r = api.get(f"/api/v1/maintenance/plans/{pid}/forecast?n=4")
        assert [(x["asset"], x["due"]) for x in r.json()] == [
            ("EL-0", "2026-01-10"),
            ("EL-1", "2026-01-10"),
            ("EL-2", "2026-01-10"),
            ("EL-0", "2026-02-10"),
        ]
        r = api.get("/api/v1/maintenance/forecast/parts?until=2026-02-28")
        rows = r.json()
        assert len(rows) == 6 and rows[0] == {
            "part_id": 3,
            "quantity": 1.0,
            "due": "2026-01-10",
            "plan_id": pid,
            "asset_id": pm.lifts[0].pk,
        }
        r = api.patch(f"/api/v1/maintenance/plans/{pid}", {"every": 2}, headers={"If-Match": '"v1"'})
        assert r.status_code == 200 and r.json()["version"] == 2
        r = api.patch(f"/api/v1/maintenance/plans/{pid}", {"every": 3}, headers={"If-Match": '"v1"'})
        assert r.status_code == 412
    with time_machine.travel(datetime(2026, 1, 8, 1, tzinfo=UTC), tick=False):
        Plan.objects.update(next_check_at=datetime(2026, 1, 8, 1, tzinfo=UTC))
        engine.run_due_plans("t")
        r = api.get(f"/api/v1/maintenance/plans/{pid}/occurrences")
        assert sorted(x["asset"] for x in r.json()) == ["EL-0", "EL-1", "EL-2"]
        assert all(x["work_order"].startswith("PM") for x in r.json())
    r = api.delete(f"/api/v1/maintenance/plans/{pid}")
    assert r.status_code == 204 and Plan.objects.get(pk=pid).enabled is False  # history keeps it


def test_bad_input_is_a_422_naming_the_field(pm):
    api = pm.world.api(pm.world.manager)
    for patch, field in [
        ({"every": 0}, "every"),
        ({"unit": "year"}, "unit"),
        ({"scope": "x"}, "scope"),
        ({"parts": [{"part_id": 1, "quantity": -1}]}, "parts[0]"),
        ({"bogus": 1}, "bogus"),
        ({"rrule": "FREQ=HOURLY"}, "rrule"),
    ]:
        r = api.post("/api/v1/maintenance/plans", {**BODY, **patch})
        assert r.status_code == 422, (patch, r.content)
        assert field in [e["field"] for e in r.json()["errors"]], (patch, r.json())
    assert Plan.objects.count() == 0
    r = api.get("/api/v1/maintenance/forecast/parts?until=2026-01-01&since=2026-02-01")
    assert r.status_code == 422
    r = api.get("/api/v1/maintenance/forecast/parts")
    assert r.status_code == 422


def test_read_scope_only_reads(pm):
    api = pm.world.api(pm.world.manager, scopes=["read"])
    assert api.get("/api/v1/maintenance/plans").status_code == 200
    assert api.post("/api/v1/maintenance/plans", BODY).status_code == 403


def test_console_pages(pm):
    c = pm.world.browser_client(pm.world.dispatcher)
    r = c.post(
        "/maintenance/new",
        {
            **{k: v for k, v in BODY.items() if k not in ("parts", "checklist")},
            "parts": "3 1",
            "checklist": "检查门机\n润滑",
            "enabled": "on",
            "anchor": "fixed",
            "age_basis": "install",
            "on_open": "skip",
            "priority": "normal",
            "window_days": "30",
        },
    )
    assert r.status_code == 302, r.content.decode()[:3000]
    plan = Plan.objects.get()
    assert plan.checklist == ["检查门机", "润滑"] and plan.parts == [{"part_id": 3, "quantity": 1}]
    for url in (
        "/maintenance/",
        f"/maintenance/{plan.pk}/",
        f"/maintenance/{plan.pk}/edit",
        f"/maintenance/{plan.pk}/delete",
    ):
        r = c.get(url)
        assert r.status_code == 200, url
    assert "EL-1" in c.get(f"/maintenance/{plan.pk}/").content.decode()
    r = c.post(
        f"/maintenance/{plan.pk}/edit",
        {
            "name": "",
            "type": "pm",
            "scope": "model",
            "model": "LX-9",
            "trigger": "calendar",
            "anchor": "fixed",
            "age_basis": "install",
            "on_open": "skip",
            "priority": "normal",
            "every": "1",
            "unit": "month",
        },
    )
    assert r.status_code == 200 and "error-name" in r.content.decode()
    assert pm.world.browser_client(pm.world.eng_x).get("/maintenance/").status_code == 403
    assert pm.world.browser_client(pm.world.cust_a).get("/maintenance/").status_code == 404


def test_asset_page_and_passport_show_the_next_planned_maintenance(pm):
    from closeloop.portal.services import sign_qr

    with time_machine.travel(T0, tick=False):
        pm.plan(name="门机保养", start_date="2026-01-20", scope="model", asset="", model="LX-9")
        admin = pm.world.browser_client(pm.world.admin)
        body = admin.get(f"/settings/assets/{pm.lifts[1].pk}/").content.decode()
        assert 'data-testid="asset-maintenance"' in body and "2026-01-20 · 门机保养" in body
        from django.test import Client

        body = Client().get(f"/portal/q/{sign_qr(pm.lifts[1])}/").content.decode()
        assert "2026-01-20 · 门机保养" in body
