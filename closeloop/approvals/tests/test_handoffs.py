"""Handoff fields per transition, enforced on the action; ratings roll up per department."""

import pytest

from closeloop.core.errors import Forbidden, ValidationFailed
from closeloop.outbox.models import OutboxMessage
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import TimelineEvent
from closeloop.workorders.services import do_transition
from closeloop.workorders.tests.factories import make_wo

from .. import handoffs, selectors


@pytest.fixture
def finance_team(world):
    from closeloop.accounts.models import Team

    t = Team.objects.create(name="Finance", code="fin", supervisor=world.finance)
    world.finance.team = t
    world.finance.save()
    return t


def test_missing_fields_named_then_handoff_rated(world, finance_team):
    handoffs.do_save_handoff_requirement(actor=world.manager, data={
        "action": "complete", "type": "repair", "to_team": "fin",
        "fields": ["customer", "asset.serial_number", "custom.repair_history", "resolution"]})
    wo = make_wo(world, status=S.IN_PROGRESS, customer=None, site=None)
    with pytest.raises(ValidationFailed) as e:
        do_transition(actor=world.eng_x, wo=wo, action="complete", data={"resolution": "replaced fan"})
    fields = [p.field for p in e.value.problems]
    assert fields == ["customer", "asset.serial_number", "custom.repair_history"]
    assert all(p.code == "handoff_required" and "Finance" in str(p.message) for p in e.value.problems)
    wo.refresh_from_db()
    assert wo.status == S.IN_PROGRESS  # nothing half-written
    wo.customer, wo.site, wo.asset = world.org_a, world.site_a, world.asset_a
    wo.custom = {"repair_history": "2025-03 fan"}
    wo.save()
    do_transition(actor=world.eng_x, wo=wo, action="complete", data={"resolution": "replaced fan"})
    h = wo.handoffs.get()
    assert h.to_team == finance_team and h.from_team == world.team_x
    assert h.values["asset.serial_number"] == "SN-A-1"
    # Names, not ids: the customer is recorded by its name (not `customer: "1"`).
    assert h.values["customer"] == world.org_a.name and h.values["customer"] != str(world.org_a.pk)
    ev = TimelineEvent.objects.get(work_order=wo, kind="handoff")
    assert ev.data["values"]["customer"] == world.org_a.name and ev.data["to_name"] == "Finance"
    assert TimelineEvent.objects.filter(work_order=wo, kind="handoff").count() == 1
    assert OutboxMessage.objects.filter(kind="notify", payload__event="handoff.received").exists()
    # Only the receiving department (or managers) rates it.
    with pytest.raises(Forbidden):
        handoffs.do_rate_handoff(actor=world.eng_y, h=h, score=5)
    with pytest.raises(ValidationFailed):
        handoffs.do_rate_handoff(actor=world.finance, h=h, score=6, reasons=["meh"])
    handoffs.do_rate_handoff(actor=world.finance, h=h, score=3, reasons=["missing_info"], comment="no photos")
    q = selectors.handoff_quality()
    assert q == [{"team": "team-x", "name": "Team X 华东", "rated": 1, "average": 3.0, "reasons": {"missing_info": 1}}]


def test_other_types_and_actions_not_required(world, finance_team):
    handoffs.do_save_handoff_requirement(actor=world.manager, data={
        "action": "complete", "type": "production", "to_team": "fin", "fields": ["customer"]})
    wo = make_wo(world, status=S.IN_PROGRESS, customer=None, site=None)
    do_transition(actor=world.eng_x, wo=wo, action="complete", data={"resolution": "ok"})
    assert wo.status == S.RESOLVED and not wo.handoffs.exists()


def test_requirement_validation(world):
    with pytest.raises(ValidationFailed) as e:
        handoffs.do_save_handoff_requirement(actor=world.manager, data={
            "action": "complete", "to_team": "nope", "fields": ["shoe_size"]})
    assert {p.field for p in e.value.problems} == {"to_team", "fields"}
    with pytest.raises(Forbidden):
        handoffs.do_save_handoff_requirement(actor=world.dispatcher, data={"action": "complete", "fields": ["customer"]})


def test_handoff_shows_labels_and_names_even_for_older_records(world, finance_team):
    """The work order page, the API and the requirements page show field labels and names;
    a handoff recorded before names were stored (ids) is shown by name too."""
    from ..models import Handoff

    wo = make_wo(world, status=S.RESOLVED)
    Handoff.objects.create(work_order=wo, action="complete", from_team=world.team_x, to_team=finance_team,
                           values={"customer": str(world.org_a.pk), "site": str(world.site_a.pk),
                                   "asset.serial_number": "SN-A-1", "custom.repair_history": "fan"},
                           created_at=wo.created_at)
    html = world.browser_client(world.manager).get(f"/work-orders/{wo.code}/").content.decode()
    card = html.split('data-testid="handoff-values"')[1].split("</dl>")[0]
    assert "客户" in card and world.org_a.name in card and world.site_a.name in card and "序列号" in card
    assert "customer" not in card and "asset.serial_number" not in card and ">complete" not in html
    r = world.api(world.manager).get(f"/api/v1/work-orders/{wo.code}/handoffs", headers={"Accept-Language": "en"})
    row = r.json()[0]
    assert row["values"]["customer"] == world.org_a.name
    assert {"key": "customer", "label": "Customer", "value": world.org_a.name} in row["fields"]
    handoffs.do_save_handoff_requirement(actor=world.manager, data={
        "action": "invoice", "to_team": "fin", "fields": ["customer", "invoice_number"]})
    page = world.browser_client(world.manager).get("/approvals/handoffs/").content.decode()
    listed = page.split('data-testid="handoff-requirement-fields"')[1].split("</td>")[0]
    assert "客户" in listed and "发票号" in listed and "invoice_number" not in listed
