"""Rules: each trigger and action, order / stop-after / scope, loops, visibility,
the dry run and the API."""

import pytest

from closeloop.accounts.models import EngineerSkill, SkillTag
from closeloop.outbox.models import OutboxMessage
from closeloop.rules import runner
from closeloop.rules.models import KeywordLibrary, Rule
from closeloop.rules.services import do_create_rule, do_save_keyword_library
from closeloop.workorders import services as wo_services
from closeloop.workorders.models import TimelineEvent, WorkOrder, WorkOrderLink


@pytest.fixture
def urgent(world):
    do_save_keyword_library(actor=world.manager, name="urgent",
                            data={"label": "紧急", "words": ["监护仪黑屏", "呼吸机离线", "停机", "报警", "无法启动"]})
    return world


def rule(world, **kw):
    kw.setdefault("name", "r")
    kw.setdefault("actions", [])
    return do_create_rule(actor=kw.pop("owner", world.manager), data=kw)


def create(world, title="呼吸机离线", actor=None, **kw):
    data = {"type": "repair", "title": title, "site": "site-a", **kw}
    return wo_services.do_create_work_order(actor=actor or world.dispatcher, data=data)


def rule_events(wo):
    return list(TimelineEvent.objects.filter(work_order=wo, kind="rule").order_by("id"))


def test_created_trigger_keyword_sets_priority_and_notifies_team_lead(urgent):
    rule(urgent, name="紧急关键词", condition='wo.keywords.urgent && wo.site.grade == "三级甲等"',
         actions=[{"type": "set_priority", "priority": "urgent"},
                  {"type": "notify", "recipients": ["team_lead"], "channels": ["sms"], "message": "{code} 紧急"}])
    wo = create(urgent, title="ICU 呼吸机 离线", team="team-x")
    wo.refresh_from_db()
    assert wo.priority == "urgent"
    [ev] = rule_events(wo)
    assert ev.data["rule"] == "紧急关键词" and ev.data["keywords"] == {"urgent": ["呼吸机离线"]}
    assert [a["ok"] for a in ev.data["actions"]] == [True, True]
    msg = OutboxMessage.objects.get(kind="notify")
    assert msg.payload["recipients"] == [{"user": "manager"}] and msg.payload["channels"] == ["sms"]
    assert msg.payload["message"] == f"{wo.code} 紧急"
    # The priority change is an "updated" event on the timeline, by the rule's owner.
    upd = TimelineEvent.objects.get(work_order=wo, kind="updated")
    assert upd.data["changes"]["priority"] == {"from": "normal", "to": "urgent"} and upd.actor == urgent.manager


def test_no_match_no_firing(urgent):
    rule(urgent, condition="wo.keywords.urgent", actions=[{"type": "set_priority", "priority": "urgent"}])
    wo = create(urgent, title="例行保养")
    wo.refresh_from_db()
    assert wo.priority == "normal" and rule_events(wo) == []


def test_updated_and_field_changed_triggers(world):
    rule(world, name="any update", trigger="updated", actions=[{"type": "comment", "body": "updated"}])
    rule(world, name="fault", trigger="field_changed", trigger_field="fault_code",
         condition='wo.fault_code.startsWith("E")', actions=[{"type": "set_priority", "priority": "high"}])
    wo = create(world, title="x")
    wo_services.do_update_work_order(actor=world.dispatcher, wo=wo, data={"title": "y"})
    assert [e.data["rule"] for e in rule_events(wo)] == ["any update"]
    wo = create(world, title="z")
    wo_services.do_update_work_order(actor=world.dispatcher, wo=wo, data={"fault_code": "E42"})
    wo.refresh_from_db()
    assert wo.priority == "high"
    assert sorted(e.data["rule"] for e in rule_events(wo)) == ["any update", "fault"]


def test_status_changed_trigger_sees_the_event(world):
    rule(world, trigger="status_changed", condition='event.action == "assign" && event.to == "assigned"',
         actions=[{"type": "comment", "body": "已派单", "public": True}])
    wo = create(world, title="x")
    wo_services.do_transition(actor=world.dispatcher, wo=wo, action="assign", data={"assignee": "eng_x"})
    assert len(rule_events(wo)) == 1
    assert TimelineEvent.objects.get(work_order=wo, kind="comment").data["body"] == "已派单"


def test_assign_create_linked_and_set_fields_actions(world):
    rule(world, condition='wo.title.contains("漏水")', actions=[
        {"type": "assign", "assignee": "eng_x"},
        {"type": "set_fields", "fields": {"fault_code": "LEAK"}},
        {"type": "create_linked", "title": "巡检: {title}", "link": "parent"},
    ])
    wo = create(world, title="机房漏水")
    wo.refresh_from_db()
    assert wo.assignee == world.eng_x and wo.fault_code == "LEAK"
    link = WorkOrderLink.objects.get(target=wo)
    assert link.kind == "parent" and link.source.title == "巡检: 机房漏水"


def test_dispatch_action_assigns_the_nearest_skilled(world):
    tag = SkillTag.objects.create(name="呼吸机")
    EngineerSkill.objects.create(user=world.eng_x2, tag=tag, level=3)
    from closeloop.dispatch.models import SkillRequirement

    SkillRequirement.objects.create(asset_category="", asset_model="V60", tag=tag, min_level=2)
    rule(world, condition="true", actions=[{"type": "dispatch"}])
    wo = create(world, asset="SN-A-1")
    wo.refresh_from_db()
    assert wo.assignee == world.eng_x2
    assert TimelineEvent.objects.get(work_order=wo, kind="dispatch").data["explanation"].startswith("eng_x2:")


def test_failed_action_is_recorded_and_the_rest_still_run(world):
    rule(world, actions=[{"type": "notify", "recipients": ["assignee"]},  # nobody assigned yet
                         {"type": "comment", "body": "继续"}])
    wo = create(world, title="x")
    [ev] = rule_events(wo)
    assert ev.data["actions"][0]["ok"] is False and "Nobody" in ev.data["actions"][0]["error"]
    assert ev.data["actions"][1]["ok"] is True


def test_order_stop_after_enabled_and_scope(world):
    rule(world, name="second", order=20, actions=[{"type": "comment", "body": "2"}])
    rule(world, name="first", order=10, stop_after=True, condition='wo.title == "stop"',
         actions=[{"type": "comment", "body": "1"}])
    rule(world, name="off", order=5, enabled=False, actions=[{"type": "comment", "body": "0"}])
    rule(world, name="production only", order=1, scope_type="production", actions=[{"type": "comment", "body": "p"}])
    rule(world, name="team y only", order=2, scope_team="team-y", actions=[{"type": "comment", "body": "y"}])
    wo = create(world, title="stop")
    assert [e.data["rule"] for e in rule_events(wo)] == ["first"]
    wo = create(world, title="go on", team="team-y")
    assert [e.data["rule"] for e in rule_events(wo)] == ["team y only", "second"]


def test_a_rule_does_not_retrigger_itself(world):
    # Every update bumps the priority: without the guard this would loop forever.
    rule(world, trigger="updated", actions=[{"type": "set_fields", "fields": {"title": "again"}},
                                            {"type": "set_priority", "priority": "high"}])
    wo = create(world, title="x")
    wo_services.do_update_work_order(actor=world.dispatcher, wo=wo, data={"description": "d"})
    assert len(rule_events(wo)) == 1


def test_loop_between_rules_is_capped(world):
    # Each rule creates a linked work order, which fires the other rule: capped per event.
    for i in range(2):
        rule(world, name=f"spawn{i}", actions=[{"type": "create_linked", "title": "spawn"}])
    create(world, title="x")
    events = list(TimelineEvent.objects.filter(kind="rule"))
    assert sum(1 for e in events if e.data.get("capped")) == 1
    assert sum(1 for e in events if not e.data.get("capped")) == runner.MAX_FIRINGS
    assert WorkOrder.objects.count() == 1 + runner.MAX_FIRINGS


def test_rule_reads_only_what_its_owner_may_read(world):
    world.eng_y.role = "engineer"
    rule(world, owner=world.manager, name="visible", actions=[{"type": "comment", "body": "m"}])
    r = Rule.objects.get(name="visible")
    r.owner = world.eng_y  # team Y engineer: cannot see team X work
    r.save()
    wo = create(world, title="x", team="team-x")
    assert rule_events(wo) == []


def test_dry_run_shows_parts_and_changes(urgent):
    r = rule(urgent, condition='wo.keywords.urgent && wo.site.grade == "三级甲等" && wo.priority == "low"',
             actions=[{"type": "set_priority", "priority": "urgent"}, {"type": "notify"}])
    Rule.objects.filter(pk=r.pk).update(enabled=False)
    wo = create(urgent, title="监护仪黑屏", team="team-x")
    r.refresh_from_db()
    api = urgent.api(urgent.manager)
    en = {"Accept-Language": "en"}
    out = api.post(f"/api/v1/rules/{r.pk}/try", {"work_order": wo.code}, headers=en).json()
    assert [p["result"] for p in out["parts"]] == [True, True, False]
    assert out["matched"] is False and out["keywords"] == {"urgent": ["监护仪黑屏"]}
    api.patch(f"/api/v1/rules/{r.pk}", {"condition": 'wo.keywords.urgent', "enabled": True})
    out = api.post(f"/api/v1/rules/{r.pk}/try", {"work_order": wo.code}, headers=en).json()
    assert out["would_fire"] is True
    assert out["actions"] == ["priority normal → urgent", "notify manager"]
    assert TimelineEvent.objects.filter(work_order=wo, kind="rule").count() == 0  # nothing written


def test_api_crud_and_validation(world):
    api = world.api(world.manager)
    en = {"Accept-Language": "en"}
    r = api.post("/api/v1/rules", {"name": "x", "condition": 'wo.priority == "high" &&',
                                   "actions": [{"type": "explode"}]}, headers=en)
    assert r.status_code == 422
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert "column 25" in errors["condition"] and "actions[0].type" in errors
    r = api.post("/api/v1/rules", {"name": "x", "condition": '__import__("os")'})
    assert r.status_code == 422
    r = api.post("/api/v1/rules", {"name": "x", "condition": "(" * 100 + "true" + ")" * 100}, headers=en)
    assert r.status_code == 422 and "nested" in r.json()["errors"][0]["message"]
    r = api.post("/api/v1/rules", {"name": "ok", "condition": "wo.keywords.urgent",
                                   "actions": [{"type": "set_priority", "priority": "urgent"}], "bogus": 1})
    assert r.status_code == 422
    r = api.post("/api/v1/rules", {"name": "ok", "condition": "wo.keywords.urgent",
                                   "actions": [{"type": "set_priority", "priority": "urgent"}]})
    assert r.status_code == 201, r.content
    rid = r.json()["id"]
    assert api.get(f"/api/v1/rules/{rid}").json()["owner"] == "manager"
    r = api.patch(f"/api/v1/rules/{rid}", {"order": 5}, headers={"If-Match": '"v1"'})
    assert r.status_code == 200 and r.json()["version"] == 2
    assert api.patch(f"/api/v1/rules/{rid}", {"order": 6}, headers={"If-Match": '"v1"'}).status_code == 412
    assert world.api(world.dispatcher).get("/api/v1/rules").status_code == 200
    assert world.api(world.dispatcher).post("/api/v1/rules", {"name": "d"}).status_code == 403
    assert world.api(world.eng_x).get("/api/v1/rules").status_code == 403
    assert world.api(world.cust_a).get("/api/v1/rules").status_code == 403
    assert api.delete(f"/api/v1/rules/{rid}").status_code == 204
    assert api.get(f"/api/v1/rules/{rid}").status_code == 404
    r = api.post("/api/v1/conditions/check", {"condition": "wo.title.contains("})
    assert r.json()["ok"] is False and r.json()["error"]["column"] == 19


def test_api_keyword_libraries(world):
    api = world.api(world.manager)
    r = api.put("/api/v1/keyword-libraries/urgent", {"label": "紧急", "words": ["停机", " 报警 ", "停机", ""]})
    assert r.status_code == 200 and r.json()["words"] == ["停机", "报警"]
    assert api.put("/api/v1/keyword-libraries/Bad-Name", {"words": []}).status_code == 422
    assert world.api(world.dispatcher).put("/api/v1/keyword-libraries/x", {"words": []}).status_code == 403
    assert [x["name"] for x in api.get("/api/v1/keyword-libraries").json()] == ["urgent"]
    rule = api.post("/api/v1/rules", {"name": "紧急词", "condition": "wo.keywords.urgent",
                                      "actions": [{"type": "set_priority", "priority": "urgent"}]})
    assert rule.status_code == 201, rule.content
    r = api.delete("/api/v1/keyword-libraries/urgent")
    assert r.status_code == 409 and "紧急词" in str(r.json())
    assert api.delete(f"/api/v1/rules/{rule.json()['id']}").status_code == 204
    assert api.delete("/api/v1/keyword-libraries/urgent").status_code == 204
    assert KeywordLibrary.objects.count() == 0


def test_api_builder(world):
    api = world.api(world.manager)
    r = api.post("/api/v1/conditions/build", {"tree": {"all": [
        {"field": "wo.keywords.urgent", "op": "is_true"}, {"field": "wo.site.grade", "op": "==", "value": "三级甲等"}]}})
    assert r.status_code == 200 and r.json()["condition"] == '(wo.keywords.urgent && wo.site.grade == "三级甲等")'
    r = api.post("/api/v1/conditions/build", {"tree": {"field": "os.system", "op": "==", "value": 1}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "tree"
