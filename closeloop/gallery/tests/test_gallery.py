"""Templates: the five bundles install in one step through each app's services, leave what
is there alone, refuse conflicts and bad files with nothing written, and a configuration
exported from one installation installs into another."""

import json

import pytest

from closeloop.audit.models import AuditRecord
from closeloop.core.errors import Forbidden, ValidationFailed
from closeloop.fieldwork.models import ClosurePolicy
from closeloop.gallery import services
from closeloop.sla.models import BusinessCalendar, SLAPolicy
from closeloop.workorders.models import CustomField, WorkOrderType
from closeloop.workorders.services import do_create_work_order

pytestmark = pytest.mark.django_db


def counts():
    return (WorkOrderType.objects.count(), CustomField.objects.count(), ClosurePolicy.objects.count(),
            BusinessCalendar.objects.count(), SLAPolicy.objects.count())


@pytest.mark.parametrize("key", services.GALLERY)
def test_every_gallery_bundle_installs_on_an_empty_installation_then_is_all_there(db, key, django_user_model):
    admin = django_user_model.objects.create(username="root", role="admin")
    bundle = services.load(key)
    plan = services.plan(bundle)
    assert plan and all(i.action == "create" for i in plan)
    services.do_install(actor=admin, bundle=bundle)
    for t in bundle.types:
        wo_type = WorkOrderType.objects.get(key=t["key"])
        assert [f.key for f in wo_type.fields.order_by("order", "id")] == [f["key"] for f in t["fields"]]
        assert wo_type.process_steps == t.get("process_steps", [])
    assert all(i.action == "exists" for i in services.plan(bundle))  # a second look: nothing left to add
    assert AuditRecord.objects.filter(kind="template").count() == 1


def test_the_repair_template_gives_a_usable_type_with_its_gates_and_sla(world):
    WorkOrderType.objects.filter(key="repair").delete()
    services.do_install(actor=world.manager, bundle=services.load("repair"))
    repair = WorkOrderType.objects.get(key="repair")
    gates = ClosurePolicy.objects.get(wo_type=repair)
    assert (gates.require_signature, gates.require_invoice) == (True, True)
    assert [f["key"] for f in gates.form_fields] == ["root_cause"]
    assert SLAPolicy.objects.get(key="repair-standard").calendar.key == "cn-office"
    with pytest.raises(ValidationFailed) as e:  # its required fields are asked for
        do_create_work_order(actor=world.dispatcher, data={"type": "repair", "title": "呼吸机报警", "site": "site-a"})
    assert {p.field for p in e.value.problems} == {"custom.symptom", "custom.equipment_state"}
    wo = do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "呼吸机报警", "site": "site-a",
        "custom": {"symptom": "报警 E12", "equipment_state": "停机"}})
    assert wo.code.startswith("WD") and wo.custom["equipment_state"] == "停机"


def test_what_is_there_is_left_alone_and_a_prefix_conflict_installs_nothing(world):
    before = counts()
    plan = {(i.kind, i.key): i for i in services.plan(services.load("production"))}
    assert plan[("type", "production")].action == "exists"  # the test world has a production type (PR)
    WorkOrderType.objects.create(key="moulding", name="注塑", prefix="SC")
    with pytest.raises(ValidationFailed) as e:
        services.do_install(actor=world.admin, bundle=services.parse(json.dumps({
            "format": "closeloop-template", "version": 1, "key": "x",
            "calendars": [{"key": "night", "name": "夜班", "kind": "always", "tz": "Asia/Shanghai"}],
            "types": [{"key": "line", "name": "产线", "prefix": "SC", "fields": []}]})))
    assert e.value.problems[0].field == "type:line" and "SC" in e.value.problems[0].message
    assert counts()[0] == before[0] + 1 and not BusinessCalendar.objects.filter(key="night").exists()


def test_a_bad_item_names_where_it_is_and_nothing_is_written(world):
    before = counts()
    bundle = services.parse(json.dumps({
        "format": "closeloop-template", "version": 1, "key": "x",
        "types": [{"key": "ok", "name": "好", "prefix": "OK", "fields": [{"key": "a", "label": "甲", "kind": "text"}]},
                  {"key": "bad", "name": "坏", "prefix": "BD", "fields": [{"key": "n", "label": "数", "kind": "number",
                                                                          "min_value": "9", "max_value": "1"}]}]}))
    with pytest.raises(ValidationFailed) as e:
        services.do_install(actor=world.admin, bundle=bundle)
    assert any(p.field.startswith("types[bad].fields[0]") for p in e.value.problems), e.value.problems
    assert counts() == before


@pytest.mark.parametrize("raw, field", [
    (b"\x89PNG not json", "file"),
    (b'{"format": "something-else", "version": 1}', "format"),
    (b'{"format": "closeloop-template", "version": 9}', "version"),
    (b'{"format": "closeloop-template", "version": 1, "widgets": []}', "widgets"),
    (b'{"format": "closeloop-template", "version": 1, "rules": [{"order": 1}]}', "rules"),
    (b'{"format": "closeloop-template", "version": 1, "types": [{"key": "a", "colour": "red"}]}', "types[a].colour"),
    (b'{"format": "closeloop-template", "version": 1, "types": [{"name": "no key"}]}', "types"),
])
def test_bad_files_are_refused_naming_the_problem(raw, field):
    with pytest.raises(ValidationFailed) as e:
        services.parse(raw)
    assert field in [p.field for p in e.value.problems]


def test_an_export_installs_into_another_installation(world):
    services.do_install(actor=world.admin, bundle=services.load("service"))
    exported = json.dumps(services.export(), ensure_ascii=False)
    shape = {t["key"]: [f["key"] for f in t["fields"]] for t in json.loads(exported)["types"]}
    # "Another installation": the same tables emptied of the configuration.
    _empty_the_other_parts()
    ClosurePolicy.objects.all().delete()
    SLAPolicy.objects.all().delete()
    CustomField.objects.all().delete()
    WorkOrderType.objects.all().delete()
    BusinessCalendar.objects.all().delete()
    bundle = services.parse(exported)
    assert all(i.action == "create" for i in services.plan(bundle))
    services.do_install(actor=world.admin, bundle=bundle)
    assert {t.key: [f.key for f in t.fields.order_by("order", "id")] for t in WorkOrderType.objects.all()} == shape
    assert SLAPolicy.objects.get(key="service-24x7").targets["response"] == 3600


def test_only_administrators_and_managers_install(world):
    for who in (world.dispatcher, world.eng_x, world.cust_a, world.finance):
        with pytest.raises(Forbidden):
            services.do_install(actor=who, bundle=services.load("general"))
    assert not WorkOrderType.objects.filter(key="general").exists()


def test_the_pages_preview_install_export_and_import(world):
    c = world.browser_client(world.manager)
    page = c.get("/settings/templates/")
    assert page.status_code == 200 and "维修工单" in page.content.decode()
    preview = c.get("/settings/templates/general/")
    assert 'data-action="create"' in preview.content.decode() and not WorkOrderType.objects.filter(key="general").exists()
    done = c.post("/settings/templates/general/", {"install": "1"})
    assert done.status_code == 302 and WorkOrderType.objects.filter(key="general").exists()
    assert "template-install" not in c.get("/settings/templates/general/").content.decode()  # all there now

    exported = c.get("/settings/templates/export.json")
    assert exported["Content-Type"] == "application/json"
    data = json.loads(exported.content)
    data["types"] = [dict(t, key=t["key"] + "-copy", prefix="CP") for t in data["types"] if t["key"] == "general"]
    data["sla_policies"], data["calendars"] = [], []
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("t.json", json.dumps(data, ensure_ascii=False).encode(), content_type="application/json")
    shown = c.post("/settings/templates/import", {"file": upload})
    assert shown.status_code == 200 and 'data-testid="plan-type-general-copy"' in shown.content.decode()
    assert not WorkOrderType.objects.filter(key="general-copy").exists()  # a preview writes nothing
    source = shown.context["source"]
    assert c.post("/settings/templates/import", {"source": source, "install": "1"}).status_code == 302
    assert WorkOrderType.objects.get(key="general-copy").prefix == "CP"

    bad = c.post("/settings/templates/import", {"file": SimpleUploadedFile("x.json", b"{nope")})
    assert bad.status_code == 422 and "JSON" in bad.content.decode() and "template-errors" in bad.content.decode()
    assert c.post("/settings/templates/import", {}).status_code == 422


def _empty_the_other_parts():
    from closeloop.approvals.models import ApprovalFlow, FlowVersion, HandoffRequirement
    from closeloop.console.models import Queue
    from closeloop.rules.models import Rule

    Rule.objects.all().delete()
    ApprovalFlow.objects.update(current_version=None)
    FlowVersion.objects.all().delete()
    ApprovalFlow.objects.all().delete()
    HandoffRequirement.objects.all().delete()
    Queue.objects.filter(owner__isnull=True).delete()


def _extras():
    from closeloop.approvals.models import ApprovalFlow, HandoffRequirement
    from closeloop.console.models import Queue
    from closeloop.rules.models import Rule

    return {"rules": sorted(Rule.objects.values_list("name", flat=True)),
            "flows": sorted((f.wo_type.key, f.action, f.current_version.number if f.current_version else None)
                            for f in ApprovalFlow.objects.select_related("wo_type", "current_version")),
            "handoffs": sorted((h.wo_type.key, h.action, tuple(h.fields)) for h in HandoffRequirement.objects.all()),
            "queues": sorted((q.name, q.team_id, q.owner_id) for q in Queue.objects.all())}


def test_bundles_bring_rules_flows_handoffs_and_queue_presets_once(world):
    """The repair bundle: a rule, a published approval flow (a manager exists), a handoff requirement
    and a queue for everyone, each through its app's service; installing again adds nothing."""
    plan = {(i.kind, i.key): i.action for i in services.plan(services.load("repair"))}
    assert plan[("rule", "维修：紧急工单自动派单")] == "create"
    assert plan[("approval_flow", "repair:purchase_part")] == "create"
    assert plan[("handoff", "repair:invoice")] == "create"
    assert plan[("queue", "待开票的维修工单")] == "create"
    services.do_install(actor=world.manager, bundle=services.load("repair"))
    got = _extras()
    assert got["rules"] == ["维修：紧急工单自动派单"]
    assert got["flows"] == [("repair", "purchase_part", 1)]
    assert got["handoffs"] == [("repair", "invoice", ("resolution",))]
    assert got["queues"] == [("待开票的维修工单", None, None)]
    again = services.plan(services.load("repair"))
    assert {i.action for i in again} == {"exists"}
    services.do_install(actor=world.manager, bundle=services.load("repair"))
    assert _extras() == got
    # the queue is offered to every staff member, the rule runs with the installer's rights
    from closeloop.console.selectors import queues_for

    assert [q.name for q in queues_for(world.dispatcher)] == ["待开票的维修工单"]
    from closeloop.rules.models import Rule

    assert Rule.objects.get().scope_type.key == "repair"


def test_a_flow_nobody_could_approve_arrives_as_a_draft(world):
    """Nobody holds the approvers' role: the plan says so and the flow is added unpublished."""
    from closeloop.accounts.models import User
    from closeloop.approvals.models import ApprovalFlow

    User.objects.filter(role="manager").update(role="dispatcher")
    item = next(i for i in services.plan(services.load("production")) if i.kind == "approval_flow")
    assert item.action == "create" and item.detail
    services.do_install(actor=world.admin, bundle=services.load("production"))
    flow = ApprovalFlow.objects.get(action="close")
    assert flow.current_version is None and flow.draft["nodes"]


def test_bad_rules_flows_handoffs_and_queues_are_named_and_nothing_is_written(world):
    from closeloop.workorders.models import WorkOrderType

    before = _extras()
    bundle = services.parse(json.dumps({
        "format": "closeloop-template", "version": 1, "key": "bad",
        "types": [{"key": "bad_type", "name": "坏", "prefix": "BX", "fields": []}],
        "rules": [{"name": "坏规则", "trigger": "created", "condition": "wo.nope ==", "actions": []}],
        "queues": [{"name": "坏队列", "filters": {"colour": "red"}}]}))
    with pytest.raises(ValidationFailed) as e:
        services.do_install(actor=world.admin, bundle=bundle)
    assert any(p.field.startswith("rules[坏规则].") for p in e.value.problems), e.value.problems
    assert not WorkOrderType.objects.filter(key="bad_type").exists() and _extras() == before
    bundle = services.parse(json.dumps({
        "format": "closeloop-template", "version": 1, "key": "bad",
        "queues": [{"name": "坏队列", "filters": {"colour": "red"}}]}))
    with pytest.raises(ValidationFailed) as e:
        services.do_install(actor=world.admin, bundle=bundle)
    assert [p.field for p in e.value.problems] == ["queues[坏队列].filters.colour"]
    # a handoff or flow naming a type that is nowhere, or a team that is not here: a conflict
    bundle = services.parse(json.dumps({
        "format": "closeloop-template", "version": 1, "key": "bad",
        "handoffs": [{"action": "invoice", "type": "ghost", "fields": ["resolution"]}],
        "queues": [{"name": "q", "team": "no-such-team", "filters": {}}]}))
    actions = {i.kind: (i.action, i.detail) for i in services.plan(bundle)}
    assert actions["handoff"][0] == "conflict" and "ghost" in actions["handoff"][1]
    assert actions["queue"][0] == "conflict" and "no-such-team" in actions["queue"][1]
    with pytest.raises(ValidationFailed):
        services.do_install(actor=world.admin, bundle=bundle)
    assert _extras() == before


def test_the_export_carries_rules_flows_handoffs_and_queues_to_another_installation(world):
    services.do_install(actor=world.admin, bundle=services.load("repair"))
    services.do_install(actor=world.admin, bundle=services.load("after_sales"))
    exported = json.loads(json.dumps(services.export(), ensure_ascii=False))
    assert {r["name"] for r in exported["rules"]} >= {"维修：紧急工单自动派单"}
    assert {(f["type"], f["action"]) for f in exported["approval_flows"]} >= {("repair", "purchase_part"),
                                                                               ("after_sales", "return_goods")}
    assert {(h["type"], h["action"]) for h in exported["handoffs"]} == {("repair", "invoice"), ("after_sales", "invoice")}
    got = _extras()
    _empty_the_other_parts()
    ClosurePolicy.objects.all().delete()
    SLAPolicy.objects.all().delete()
    CustomField.objects.all().delete()
    WorkOrderType.objects.all().delete()
    BusinessCalendar.objects.all().delete()
    bundle = services.parse(json.dumps(exported, ensure_ascii=False))
    assert all(i.action == "create" for i in services.plan(bundle))
    services.do_install(actor=world.admin, bundle=bundle)
    assert _extras() == got


def test_the_production_template_has_no_travel_confirmation_or_invoice_and_repair_keeps_all(world):
    from closeloop.workorders import mainline

    WorkOrderType.objects.all().delete()
    plan = {i.key: i for i in services.plan(services.load("production")) if i.kind == "type"}
    assert any("→" in a for a in plan["production"].adds)  # the preview names the shorter line
    services.do_install(actor=world.admin, bundle=services.load("production"))
    services.do_install(actor=world.admin, bundle=services.load("repair"))
    assert WorkOrderType.objects.get(key="production").stages == ["intake", "dispatch", "accept", "execution",
                                                                  "close"]
    assert WorkOrderType.objects.get(key="repair").stages == list(mainline.KEYS)


def test_the_main_line_travels_in_an_export_and_old_files_get_the_default_line(world):
    from closeloop.workorders import mainline, types_services

    types_services.do_set_main_line(actor=world.admin, wo_type=world.production,
                                    data={"stages": ["intake", "accept", "execution", "close"]})
    exported = services.export()
    assert exported["version"] == services.VERSION == 2
    assert {t["key"]: t["stages"] for t in exported["types"]}["production"] == ["intake", "accept", "execution",
                                                                              "close"]
    _empty_the_other_parts()
    CustomField.objects.all().delete()
    WorkOrderType.objects.all().delete()
    services.do_install(actor=world.admin, bundle=services.parse(json.dumps(exported, ensure_ascii=False)))
    assert WorkOrderType.objects.get(key="production").stages == ["intake", "accept", "execution", "close"]

    # A version 1 file (before main lines): its types get every stage.
    old = {**exported, "version": 1, "types": [{k: v for k, v in t.items() if k != "stages"}
                                               for t in exported["types"]]}
    CustomField.objects.all().delete()
    WorkOrderType.objects.all().delete()
    services.do_install(actor=world.admin, bundle=services.parse(json.dumps(old, ensure_ascii=False)))
    assert WorkOrderType.objects.get(key="production").stages == list(mainline.KEYS)

    # A bad line names the type and the stage; nothing is written.
    bad = {**exported, "types": [{**t, "stages": ["intake", "close", "execution"]} for t in exported["types"]]}
    CustomField.objects.all().delete()
    WorkOrderType.objects.all().delete()
    with pytest.raises(ValidationFailed) as e:
        services.do_install(actor=world.admin, bundle=services.parse(json.dumps(bad, ensure_ascii=False)))
    assert any(p.field.endswith("stages[2]") for p in e.value.problems), e.value.problems
    assert not WorkOrderType.objects.exists()
