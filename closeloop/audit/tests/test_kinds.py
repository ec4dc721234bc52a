"""Every configuration write leaves exactly one audit record, with the right before and
after, in its own transaction (a write that fails leaves none). SQLite and PostgreSQL."""

import pytest

from closeloop.accounts import services as accounts
from closeloop.approvals import handoffs as approvals_handoffs
from closeloop.approvals import services as approvals
from closeloop.audit.models import AuditRecord
from closeloop.audit.services import REDACTED, REDACTED_CHANGED
from closeloop.core.errors import DomainError, ValidationFailed
from closeloop.core.validation import StillReferenced
from closeloop.dispatch import services as dispatch
from closeloop.fieldwork import services as fieldwork
from closeloop.notify import services as notify
from closeloop.rules import services as rules
from closeloop.sla import services as sla
from closeloop.workorders import types_services as types

pytestmark = pytest.mark.django_db


class Log:
    """The records written since the last look."""

    def __init__(self):
        self.seen = AuditRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def new(self) -> list[AuditRecord]:
        out = list(AuditRecord.objects.filter(id__gt=self.seen).order_by("id"))
        if out:
            self.seen = out[-1].pk
        return out

    def one(self, kind: str, action: str, actor) -> AuditRecord:
        records = self.new()
        assert len(records) == 1, [(r.kind, r.action) for r in records]
        r = records[0]
        assert (r.kind, r.action, r.actor_id) == (kind, action, actor.pk if actor else None)
        return r


@pytest.fixture
def log(world):
    return Log()


def test_rules_and_keyword_libraries(world, log):
    lib = rules.do_save_keyword_library(actor=world.manager, name="urgent", data={"label": "紧急", "words": ["停机"]})
    r = log.one("keyword_library", "created", world.manager)
    assert (r.object_id, r.before, r.after["words"]) == ("urgent", None, ["停机"])
    rules.do_save_keyword_library(actor=world.admin, name="urgent", data={"label": "紧急", "words": ["停机", "黑屏"]})
    r = log.one("keyword_library", "updated", world.admin)
    assert (r.before["words"], r.after["words"]) == (["停机"], ["停机", "黑屏"])

    rule = rules.do_create_rule(actor=world.manager, data={"name": "紧急", "condition": "wo.keywords.urgent",
                                                           "actions": [{"type": "set_priority", "priority": "urgent"}]})
    r = log.one("rule", "created", world.manager)
    assert (r.object_id, r.label, r.after["condition"]) == (str(rule.pk), "紧急", "wo.keywords.urgent")
    rules.do_update_rule(actor=world.manager, rule=rule, data={"enabled": False})
    r = log.one("rule", "deactivated", world.manager)
    assert (r.before["enabled"], r.after["enabled"], r.before["version"] + 1) == (True, False, r.after["version"])
    other = rules.do_create_rule(actor=world.manager, data={"name": "second", "actions": []})
    log.new()
    rules.do_move_rule(actor=world.manager, rule=other, direction="up")
    r = log.one("rule", "moved", world.manager)
    assert (r.before, r.after) == ({"position": 2}, {"position": 1})
    with pytest.raises(DomainError):  # in use by a rule: refused, and nothing recorded
        rules.do_delete_keyword_library(actor=world.manager, lib=lib)
    assert log.new() == []
    rule_id = rule.pk
    rules.do_delete_rule(actor=world.manager, rule=rule)
    r = log.one("rule", "deleted", world.manager)
    assert (r.object_id, r.after, r.before["name"]) == (str(rule_id), None, "紧急")
    rules.do_delete_keyword_library(actor=world.manager, lib=lib)
    assert log.one("keyword_library", "deleted", world.manager).before["label"] == "紧急"


def test_sla_policies_and_calendars(world, log):
    cal = sla.do_create_calendar(actor=world.admin, data={"key": "cn", "name": "中国", "kind": "china",
                                                          "tz": "Asia/Shanghai", "holidays": ["2026-10-01"]})
    r = log.one("calendar", "created", world.admin)
    assert (r.object_id, r.after["holidays"]) == (str(cal.pk), ["2026-10-01"])
    sla.do_update_calendar(actor=world.admin, calendar=cal, data={"holidays": ["2026-10-01", "2026-10-02"]})
    r = log.one("calendar", "updated", world.admin)
    assert (r.before["holidays"], r.after["holidays"]) == (["2026-10-01"], ["2026-10-01", "2026-10-02"])

    policy = sla.do_create_policy(actor=world.admin, data={"key": "gold", "name": "Gold", "calendar": "cn",
                                                           "targets": {"response": 900}})
    r = log.one("sla_policy", "created", world.admin)
    assert (r.after["calendar"], r.after["targets"]) == ("中国", {"response": 900})
    sla.do_update_policy(actor=world.admin, policy=policy, data={"targets": {"response": 600}})
    r = log.one("sla_policy", "updated", world.admin)
    assert (r.before["targets"], r.after["targets"]) == ({"response": 900}, {"response": 600})
    with pytest.raises(ValidationFailed):
        sla.do_update_policy(actor=world.admin, policy=policy, data={"nonsense": 1})
    assert log.new() == []


def test_notify_channels_never_store_credentials(world, log):
    ch = notify.do_create_channel(actor=world.admin, data={
        "kind": "email", "name": "mail", "config": {"host": "smtp.example.com", "port": 25, "username": "robot",
                                                    "password": "hunter2-secret", "from_email": "wo@example.com"}})
    r = log.one("channel", "created", world.admin)
    assert r.after["config"]["password"] == REDACTED and r.after["config"]["host"] == "smtp.example.com"
    notify.do_update_channel(actor=world.admin, channel=ch, data={"config": {**ch.config, "password": "n3w-secret"}})
    r = log.one("channel", "updated", world.admin)
    assert (r.before["config"]["password"], r.after["config"]["password"]) == (REDACTED, REDACTED_CHANGED)
    notify.do_update_channel(actor=world.manager, channel=ch, data={"enabled": False})
    r = log.one("channel", "deactivated", world.manager)
    assert (r.before["enabled"], r.after["enabled"]) == (True, False)
    robot = notify.do_create_channel(actor=world.admin, data={
        "kind": "dingtalk", "name": "robot", "config": {"url": "https://oapi.dingtalk.com/robot/send?access_token=tok123",
                                                        "secret": "SECabc"}})
    r = log.one("channel", "created", world.admin)
    assert r.after["config"]["secret"] == REDACTED and "tok123" not in r.after["config"]["url"]
    assert robot.config["secret"] == "SECabc"  # the channel itself keeps them
    dump = str(list(AuditRecord.objects.values_list("before", "after")))
    for secret in ("hunter2", "n3w-secret", "tok123", "SECabc"):
        assert secret not in dump


def test_users_roles_teams_and_skills(world, log):
    tag = accounts.do_create_skill_tag(actor=world.admin, data={"name": "制冷", "category": "HVAC"})
    assert log.one("skill_tag", "created", world.admin).after == {"name": "制冷", "category": "HVAC"}
    accounts.do_update_skill_tag(actor=world.admin, tag=tag, data={"category": "暖通"})
    r = log.one("skill_tag", "updated", world.admin)
    assert (r.before["category"], r.after["category"]) == ("HVAC", "暖通")

    u = accounts.do_add_user(actor=world.admin, data={"username": "li", "password": "A-long-pass-2026!",
                                                      "role": "engineer", "team": "team-x",
                                                      "skills": [{"tag": "制冷", "level": 3}]})
    r = log.one("user", "created", world.admin)
    assert (r.label, r.after["role"], r.after["team"], r.after["skills"]) == ("li", "engineer", "Team X 华东",
                                                                              {"制冷": 3})
    assert r.after["password"] == REDACTED
    accounts.do_edit_user(actor=world.admin, user=u, data={"role": "dispatcher", "password": "Another-pass-2026?"})
    r = log.one("user", "updated", world.admin)
    assert (r.before["role"], r.after["role"]) == ("engineer", "dispatcher")
    assert (r.before["password"], r.after["password"]) == (REDACTED, REDACTED_CHANGED)
    accounts.do_edit_user(actor=world.admin, user=u, data={"is_active": False})
    assert log.one("user", "deactivated", world.admin).after["is_active"] is False

    team = accounts.do_add_team(actor=world.admin, data={"code": "north", "name": "North"})
    assert log.one("team", "created", world.admin).after["code"] == "north"
    accounts.do_edit_team(actor=world.admin, team=team, data={"supervisor": "manager"})
    r = log.one("team", "updated", world.admin)
    assert (r.before["supervisor"], r.after["supervisor"]) == (None, "manager")
    team_id = team.pk
    accounts.do_remove_team(actor=world.admin, team=team)
    r = log.one("team", "deleted", world.admin)
    assert (r.object_id, r.label, r.before["code"]) == (str(team_id), "North", "north")

    # A refused delete rolls back its record with it.
    with pytest.raises(StillReferenced):
        accounts.do_remove_team(actor=world.admin, team=world.team_x)
    with pytest.raises(StillReferenced):
        accounts.do_delete_skill_tag(actor=world.admin, tag=tag)
    assert log.new() == []
    accounts.do_edit_user(actor=world.admin, user=u, data={"skills": []})
    log.new()
    accounts.do_delete_skill_tag(actor=world.admin, tag=tag)
    log.one("skill_tag", "deleted", world.admin)
    accounts.do_remove_user(actor=world.admin, user=u)
    r = log.one("user", "deleted", world.admin)
    assert (r.label, r.after) == ("li", None)


def test_api_tokens_create_and_revoke_without_the_hash(world, log):
    token, clear = accounts.do_issue_token(actor=world.dispatcher, name="crm", scopes=["read"])
    r = log.one("api_token", "created", world.dispatcher)
    assert "token_hash" not in r.after and r.after["scopes"] == ["read"] and r.after["user"] == "dispatcher"
    assert clear not in str(r.after) and token.token_hash not in str(r.after)
    accounts.do_revoke_token(user=world.admin, token_id=token.pk)
    r = log.one("api_token", "revoked", world.admin)
    assert (r.before["revoked_at"], bool(r.after["revoked_at"])) == (None, True)
    accounts.do_revoke_token(user=world.admin, token_id=token.pk)  # already revoked: nothing happens
    assert log.new() == []
    other, _clear = accounts.do_create_token(user=world.manager)  # the command line: no actor
    log.one("api_token", "created", None)
    accounts.do_revoke_token_as_operator(token_id=other.pk)
    log.one("api_token", "revoked", None)


def test_types_and_custom_fields(world, log):
    t = types.do_create_type(actor=world.admin, data={"key": "install", "name": "安装", "prefix": "IN"})
    r = log.one("wo_type", "created", world.admin)
    assert (r.label, r.after["prefix"]) == ("install", "IN")
    types.do_update_type(actor=world.admin, wo_type=t, data={"name": "安装调试"})
    r = log.one("wo_type", "updated", world.admin)
    assert (r.before["name"], r.after["name"]) == ("安装", "安装调试")
    f = types.do_create_field(actor=world.admin, wo_type=t, data={"key": "floor", "label": "楼层", "kind": "number",
                                                                 "min_value": 1})
    r = log.one("custom_field", "created", world.admin)
    assert (r.label, r.after["min_value"]) == ("install.floor", "1")
    types.do_update_field(actor=world.admin, field=f, data={"max_value": 99})
    r = log.one("custom_field", "updated", world.admin)
    assert (r.before["max_value"], r.after["max_value"]) == (None, "99")
    types.do_delete_field(actor=world.admin, field=f)
    log.one("custom_field", "deleted", world.admin)
    with pytest.raises(ValidationFailed):  # the type and its fields in one go: a bad field undoes all
        types.do_create_type_with_fields(actor=world.admin, data={"key": "x", "name": "X", "prefix": "XX"},
                                         fields=[{"key": "ok", "label": "ok"}, {"key": "Bad key", "label": "b"}])
    assert log.new() == []
    types.do_delete_type(actor=world.admin, wo_type=t)
    assert log.one("wo_type", "deleted", world.admin).before["key"] == "install"


def test_closure_gates(world, log):
    fieldwork.do_set_policy(actor=world.manager, wo_type=world.repair, data={"require_invoice": False})
    r = log.one("closure_policy", "created", world.manager)
    assert (r.object_id, r.after["require_invoice"]) == ("repair", False)
    fieldwork.do_set_policy(actor=world.admin, wo_type=world.repair, data={"require_signature": False})
    r = log.one("closure_policy", "updated", world.admin)
    assert (r.before["require_signature"], r.after["require_signature"]) == (True, False)


def test_dispatch_settings(world, log):
    row = dispatch.do_save_setting(actor=world.manager, data={"type": "repair", "mode": "suggest"})
    r = log.one("dispatch_setting", "created", world.manager)
    assert (r.label, r.after["mode"]) == ("repair", "suggest")
    dispatch.do_save_setting(actor=world.manager, setting=row, data={"type": "repair", "mode": "auto",
                                                                    "top_n": 3})
    r = log.one("dispatch_setting", "updated", world.manager)
    assert (r.before["mode"], r.after["mode"]) == ("suggest", "auto")
    dispatch.do_replace_settings(actor=world.admin, rows=[{"team": "team-x", "mode": "suggest"}])
    r = log.one("dispatch_setting", "replaced", world.admin)
    assert [s["type"] for s in r.before["settings"]] == ["repair"] and r.after["settings"][0]["team"] == "team-x"
    dispatch.do_delete_setting(actor=world.admin, setting=dispatch.DispatchSetting.objects.get())
    log.one("dispatch_setting", "deleted", world.admin)


def test_approval_flows_and_handoffs(world, log):
    flow = approvals.do_create_flow(actor=world.manager, data={"name": "采购", "action": "purchase_part"})
    r = log.one("approval_flow", "created", world.manager)
    assert (r.after["name"], "draft" in r.after) == ("采购", False)
    approvals.do_update_flow(actor=world.manager, flow=flow, data={"active": False})
    log.one("approval_flow", "deactivated", world.manager)
    approvals.do_save_draft(actor=world.manager, flow=flow, tree={"nodes": [{"id": "a", "t": "step"}]})
    assert log.new() == []  # a draft changes nothing until it is published
    tree = {"settings": {"bypass_roles": ["admin"], "justify_hours": 24}, "auto_approve": [],
            "nodes": [{"id": "m", "type": "approver", "name": "经理", "approvers": {"kind": "role", "role": "manager"}}]}
    with pytest.raises(ValidationFailed):  # an invalid tree publishes nothing and records nothing
        approvals.do_publish(actor=world.manager, flow=flow, tree={"nodes": []})
    assert log.new() == []
    approvals.do_publish(actor=world.manager, flow=flow, tree=tree)
    r = log.one("approval_flow", "published", world.manager)
    assert (r.before, r.after["version"], r.after["tree"]) == (None, 1, tree)
    approvals.do_publish(actor=world.manager, flow=flow, tree=tree, note="again")
    r = log.one("approval_flow", "published", world.manager)
    assert (r.before["version"], r.after["version"]) == (1, 2)

    req = approvals_handoffs.do_save_handoff_requirement(actor=world.manager, data={"action": "invoice", "fields": ["invoice_number"]})
    r = log.one("handoff_requirement", "created", world.manager)
    assert (r.label, r.after["fields"]) == ("invoice", ["invoice_number"])
    approvals_handoffs.do_save_handoff_requirement(actor=world.admin, req=req, data={"active": False})
    log.one("handoff_requirement", "deactivated", world.admin)


def test_acknowledge_or_escalate_policies(world, log):
    from closeloop.notify import ack

    with pytest.raises(ValidationFailed):
        ack.do_save_policy(actor=world.admin, data={"name": "night", "steps": [{"after": 5, "do": "fax"}]})
    assert log.new() == []
    p = ack.do_save_policy(actor=world.manager, data={"name": "night", "steps": [{"after": 0, "do": "sms"}]})
    r = log.one("ack_policy", "created", world.manager)
    assert (r.label, r.after["steps"]) == ("night", [{"after": 0, "do": "sms"}])
    ack.do_save_policy(actor=world.admin, policy=p, data={"steps": [{"after": 0, "do": "sms"}, {"after": 10,
                                                                                              "do": "voice"}]})
    r = log.one("ack_policy", "updated", world.admin)
    assert (len(r.before["steps"]), len(r.after["steps"])) == (1, 2)
