"""The main line of a work order type (workorders.mainline, issue 14): stored per type, validated
(422 naming `stages[i]`), and followed by the lifecycle (no travel: depart/arrive refused and not
offered, accept → start), the phone, the closure gates (no confirmation / invoice: their gates are
skipped), the SLA (response reachable without travel), the dispatch setting; over the API with the
type designer's permissions."""

import pytest

from closeloop.core.errors import Conflict, ValidationFailed
from closeloop.workorders import mainline, types_services
from closeloop.workorders import services as wo_services
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import WorkOrder, WorkOrderType
from closeloop.workorders.tests.factories import make_wo

V1 = "/api/v1"
NO_TRAVEL = ["intake", "dispatch", "accept", "execution", "close"]


def _line(world, wo_type, stages):
    return types_services.do_set_main_line(actor=world.manager, wo_type=wo_type, data={"stages": stages})


def _fresh(wo) -> WorkOrder:
    return WorkOrder.objects.select_related("wo_type").get(pk=wo.pk)


# ---- storage and validation ---------------------------------------------------------------

def test_every_type_starts_with_every_stage(world):
    assert world.repair.stages == list(mainline.KEYS)
    t = types_services.do_create_type(actor=world.admin, data={"key": "remote", "name": "远程", "prefix": "RM"})
    assert t.stages == list(mainline.KEYS)
    t = types_services.do_create_type(actor=world.admin, data={"key": "lab", "name": "实验室", "prefix": "LB",
                                                               "stages": NO_TRAVEL})
    assert WorkOrderType.objects.get(key="lab").stages == NO_TRAVEL


@pytest.mark.parametrize("stages, field, code", [
    (["intake", "travel", "dispatch", "execution", "close"], "stages[2]", "order"),
    (["intake", "execution", "execution", "close"], "stages[2]", "duplicate"),
    (["intake", "teleport", "execution", "close"], "stages[1]", "unknown"),
    (["intake", "dispatch", "close"], "stages", "required"),
    (["dispatch", "execution", "close"], "stages", "required"),
    (["intake", "execution", "invoice", "close"], "stages", "needs"),
    ("intake", "stages", "invalid"),
    ([1, 2], "stages", "invalid"),
])
def test_bad_lines_name_the_field_and_write_nothing(world, stages, field, code):
    with pytest.raises(ValidationFailed) as e:
        _line(world, world.production, stages)
    assert (e.value.problems[0].field, e.value.problems[0].code) == (field, code)
    assert WorkOrderType.objects.get(pk=world.production.pk).stages == list(mainline.KEYS)


def test_only_type_managers_set_a_line(world):
    from closeloop.core.errors import Forbidden

    for user in (world.dispatcher, world.eng_x, world.finance, world.cust_a):
        with pytest.raises(Forbidden):
            types_services.do_set_main_line(actor=user, wo_type=world.production, data={"stages": NO_TRAVEL})
    _line(world, world.production, NO_TRAVEL)
    from closeloop.audit.models import AuditRecord

    assert AuditRecord.objects.filter(kind="wo_type").exists()


# ---- the lifecycle and the phone -------------------------------------------------------

def test_no_travel_refuses_depart_and_arrive_and_starts_from_accepted(world):
    _line(world, world.repair, NO_TRAVEL)
    wo = _fresh(make_wo(world, status=S.ACCEPTED))
    offered = {t.action for t in wo_services.permissions.allowed_actions(world.eng_x, wo)}
    assert "start" in offered and not {"depart", "arrive"} & offered
    for action in ("depart", "arrive"):
        with pytest.raises(Conflict) as e:
            wo_services.do_transition(actor=world.eng_x, wo=wo, action=action)
        assert e.value.status == 409 and "维修" in str(e.value)
    assert _fresh(wo).status == S.ACCEPTED
    wo_services.do_transition(actor=world.eng_x, wo=wo, action="start")
    assert _fresh(wo).status == S.IN_PROGRESS

    # The phone: no depart button, no check-in card; "start" on accepted.
    wo2 = make_wo(world, status=S.ACCEPTED)
    body = world.browser_client(world.eng_x).get(f"/m/wo/{wo2.code}/").content.decode()
    assert 'data-testid="depart"' not in body and 'data-testid="checkin"' not in body
    assert 'data-testid="start"' in body


def test_default_line_keeps_travel_on_the_phone(world):
    wo = make_wo(world, status=S.ACCEPTED)
    body = world.browser_client(world.eng_x).get(f"/m/wo/{wo.code}/").content.decode()
    assert 'data-testid="depart"' in body and 'data-testid="checkin"' in body and 'data-testid="start"' not in body
    wo_services.do_transition(actor=world.eng_x, wo=_fresh(wo), action="depart")
    assert _fresh(wo).status == S.EN_ROUTE


def test_without_accept_assigning_is_accepting(world):
    _line(world, world.repair, ["intake", "dispatch", "travel", "execution", "confirm", "invoice", "close"])
    wo = _fresh(make_wo(world))
    wo_services.do_transition(actor=world.dispatcher, wo=wo, action="assign", data={"assignee": "eng_x"})
    wo = _fresh(wo)
    assert wo.status == S.ACCEPTED and wo.accepted_at is not None and wo.assigned_at is not None
    wo_services.do_transition(actor=world.eng_x, wo=wo, action="depart")
    assert _fresh(wo).status == S.EN_ROUTE


def test_without_confirmation_and_invoice_close_from_resolved(world):
    from closeloop.fieldwork.tests.helpers import gate_policy

    gate_policy(world.repair, required_photos=[], checklist=[], form_fields=[])  # signature + invoice gates
    wo = _fresh(make_wo(world, status=S.RESOLVED))
    assert "close" not in {t.action for t in wo_services.permissions.allowed_actions(world.dispatcher, wo)}
    _line(world, world.repair, NO_TRAVEL)
    from closeloop.fieldwork import gates

    gates.forget_close_steps()
    wo = _fresh(wo)
    offered = {t.action for t in wo_services.permissions.allowed_actions(world.dispatcher, wo)}
    assert "close" in offered and "confirm" not in offered
    assert gates.evaluate(wo) == []  # the delivery and financial gates are skipped
    with pytest.raises(Conflict):
        wo_services.do_transition(actor=world.dispatcher, wo=wo, action="confirm")
    wo_services.do_transition(actor=world.dispatcher, wo=wo, action="close")
    assert _fresh(wo).status == S.CLOSED


def test_with_confirmation_but_no_invoice_the_financial_gate_is_skipped(world):
    from closeloop.fieldwork import gates
    from closeloop.fieldwork.tests.helpers import gate_policy

    gate_policy(world.repair, required_photos=[], checklist=[], form_fields=[], require_signature=False)
    _line(world, world.repair, ["intake", "dispatch", "accept", "travel", "execution", "confirm", "close"])
    wo = _fresh(make_wo(world, status=S.CONFIRMED))
    assert [g.gate for g in gates.evaluate(wo)] == []
    with pytest.raises(Conflict):
        wo_services.do_transition(actor=world.finance, wo=wo, action="invoice", data={"invoice_number": "F-1"})
    wo_services.do_transition(actor=world.dispatcher, wo=wo, action="close")
    assert _fresh(wo).status == S.CLOSED


def test_full_line_keeps_the_gates(world):
    from closeloop.fieldwork import gates
    from closeloop.fieldwork.tests.helpers import gate_policy

    gate_policy(world.repair, required_photos=[], checklist=[], form_fields=[])
    wo = _fresh(make_wo(world, status=S.INVOICED, invoice_number=""))
    assert {g.gate for g in gates.evaluate(wo)} == {"delivery", "financial"}


def test_signature_without_confirmation_stage_does_not_confirm(world):
    from closeloop.fieldwork import services as fw
    from closeloop.fieldwork.tests.helpers import png

    _line(world, world.repair, NO_TRAVEL)
    wo = _fresh(make_wo(world, status=S.RESOLVED))
    fw.do_sign_and_confirm(wo, signer_name="王护士", image_png=png(3), version=wo.version, actor=world.eng_x)
    assert _fresh(wo).status == S.RESOLVED


def test_smart_dispatch_leaves_a_type_without_the_dispatch_stage_alone(world):
    from closeloop.dispatch.models import DispatchSetting

    DispatchSetting.objects.create(wo_type=world.repair, mode="auto", estimated_hours=1)
    _line(world, world.repair, ["intake", "accept", "travel", "execution", "confirm", "invoice", "close"])
    wo = wo_services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "报修", "customer": "org-a", "site": "site-a"})
    assert _fresh(wo).assignee_id is None and _fresh(wo).status == S.NEW


# ---- the SLA ---------------------------------------------------------------------------

def test_response_and_arrival_met_by_starting_without_travel(world):
    from closeloop.sla.models import SLATarget
    from closeloop.sla.tests.helpers import calendars, policy

    _china, always = calendars()
    policy("all", always)
    _line(world, world.repair, NO_TRAVEL)
    wo = wo_services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "远程支持", "customer": "org-a", "assignee": "eng_x"})
    wo = _fresh(wo)
    wo_services.do_transition(actor=world.eng_x, wo=wo, action="accept")
    met = dict(SLATarget.objects.filter(work_order=wo).values_list("milestone", "met_at"))
    assert met["response"] is None  # accepting never counts
    wo_services.do_transition(actor=world.eng_x, wo=_fresh(wo), action="start")
    met = dict(SLATarget.objects.filter(work_order=wo).values_list("milestone", "met_at"))
    assert met["response"] is not None and met["arrival"] is not None and met["resolution"] is None


def test_response_with_travel_still_needs_depart(world):
    from closeloop.sla.models import SLATarget
    from closeloop.sla.tests.helpers import calendars, policy

    _china, always = calendars()
    policy("all", always)
    wo = _fresh(wo_services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "上门", "customer": "org-a", "assignee": "eng_x"}))
    wo_services.do_transition(actor=world.eng_x, wo=wo, action="accept")
    wo_services.do_transition(actor=world.eng_x, wo=_fresh(wo), action="start")  # remote start, travel type
    met = dict(SLATarget.objects.filter(work_order=wo).values_list("milestone", "met_at"))
    assert met["response"] is None and met["arrival"] is None


# ---- the API ------------------------------------------------------------------------------

def test_api_get_and_put(world):
    api = world.api(world.manager)
    r = api.get(f"{V1}/work-order-types/production/main-line")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["stages"] == list(mainline.KEYS) and body["unused"] == []
    execution = next(b for b in body["blocks"] if b["stage"] == "execution")
    assert execution["process_steps"] == ["开模", "注塑", "质检"]
    r = api.put(f"{V1}/work-order-types/production/main-line",
                {"stages": NO_TRAVEL, "process_steps": ["开模", "注塑", "保压", "质检"]})
    assert r.status_code == 200, r.content
    assert r.json()["stages"] == NO_TRAVEL
    assert {u["stage"] for u in r.json()["unused"]} == {"travel", "confirm", "invoice"}
    assert WorkOrderType.objects.get(key="production").process_steps == ["开模", "注塑", "保压", "质检"]
    assert api.get(f"{V1}/work-order-types/production").json()["stages"] == NO_TRAVEL
    # PATCH on the type takes the line too.
    r = api.patch(f"{V1}/work-order-types/production", {"stages": list(mainline.KEYS)})
    assert r.status_code == 200 and r.json()["stages"] == list(mainline.KEYS)


@pytest.mark.parametrize("body, field", [
    ({"stages": ["intake", "close", "execution"]}, "stages[2]"),
    ({"stages": ["intake", "execution", "close"], "process_steps": ["a", "a"]}, "process_steps[1]"),
    ({"stages": ["intake", "execution", "close"], "colour": "red"}, "colour"),
    ({"process_steps": ["a"]}, "stages"),
    ({"stages": "intake"}, "stages"),
])
def test_api_bad_input_is_422_naming_the_field(world, body, field):
    api = world.api(world.admin)
    r = api.put(f"{V1}/work-order-types/production/main-line", body)
    assert r.status_code == 422, r.content
    assert any(e["field"].startswith(field) for e in r.json()["errors"]), r.json()
    assert WorkOrderType.objects.get(key="production").stages == list(mainline.KEYS)


def test_api_shows_approval_points_and_handoffs_to_managers_only(world):
    from closeloop.approvals import services as apr

    flow = apr.do_create_flow(actor=world.admin, data={"name": "关单审批", "action": "close", "type": "repair"})
    from closeloop.approvals.handoffs import do_save_handoff_requirement

    do_save_handoff_requirement(actor=world.admin, data={"action": "complete", "type": "repair", "to_team": "team-y",
                                                         "fields": ["resolution"]})
    body = world.api(world.manager).get(f"{V1}/work-order-types/repair/main-line").json()
    by_stage = {b["stage"]: b["points"] for b in body["blocks"]}
    assert [(p["kind"], p["label"]) for p in by_stage["close"]] == [("approval", "关单审批")]
    assert by_stage["close"][0]["url"] == f"/approvals/flows/{flow.pk}/designer"
    assert [p["kind"] for p in by_stage["execution"]] == ["handoff"]
    for who in (world.eng_x, world.cust_a, world.dispatcher):
        body = world.api(who).get(f"{V1}/work-order-types/repair/main-line").json()
        assert all(not b["points"] for b in body["blocks"]) and body["other_points"] == []


# role × endpoint: the read is everyone's (customers: active types), the write the type designer's.
MATRIX = {
    #            GET   PUT
    "admin": (200, 200),
    "manager": (200, 200),
    "dispatcher": (200, 403),
    "finance": (200, 403),
    "eng_x": (200, 403),
    "cust_a": (200, 403),
    None: (401, 401),
}


@pytest.mark.parametrize("who", list(MATRIX))
def test_permission_matrix(world, who):
    user = getattr(world, who) if who else None
    api = world.api(user)
    get, put = MATRIX[who]
    assert api.get(f"{V1}/work-order-types/repair/main-line").status_code == get
    r = api.put(f"{V1}/work-order-types/repair/main-line", {"stages": NO_TRAVEL})
    assert r.status_code == put, r.content
    assert WorkOrderType.objects.get(key="repair").stages == (NO_TRAVEL if put == 200 else list(mainline.KEYS))


def test_scopes_and_hidden_types(world):
    # A manager's read-only token cannot write; an admin needs the admin scope.
    assert world.api(world.manager, scopes=["read"]).put(f"{V1}/work-order-types/repair/main-line",
                                                          {"stages": NO_TRAVEL}).status_code == 403
    assert world.api(world.admin, scopes=["read", "write"]).put(f"{V1}/work-order-types/repair/main-line",
                                                                 {"stages": NO_TRAVEL}).status_code == 403
    world.repair.active = False
    world.repair.save()
    assert world.api(world.cust_a).get(f"{V1}/work-order-types/repair/main-line").status_code == 404
    assert world.api(world.admin).get(f"{V1}/work-order-types/nope/main-line").status_code == 404


def test_the_board_offers_no_travel_moves_for_a_type_without_travel(world, django_assert_max_num_queries):
    from closeloop.console.selectors import moves_for

    _line(world, world.repair, NO_TRAVEL)
    wos = [WorkOrder.objects.get(pk=make_wo(world, status=S.ACCEPTED).pk) for _ in range(5)]  # type not loaded
    moves_for(world.admin, wos[0])  # the line is read once per type
    with django_assert_max_num_queries(0):
        moves = [moves_for(world.admin, wo) for wo in wos]
    assert all(S.EN_ROUTE not in m and S.ON_SITE not in m and S.IN_PROGRESS in m for m in moves)
    # A type keeping travel still offers it.
    types_services.do_set_main_line(actor=world.manager, wo_type=world.repair, data={"stages": list(mainline.KEYS)})
    assert S.EN_ROUTE in moves_for(world.admin, WorkOrder.objects.get(pk=wos[0].pk))
