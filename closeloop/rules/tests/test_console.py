"""The rules console: permissions (role × page), create / edit / toggle / reorder /
delete, bad input kept unsaved with a field error, the dry run of an unsaved edit,
keyword libraries (usage, delete refused while used), and the builder's tree <-> CEL."""

import json
import re
from html import unescape

import pytest
from django.conf import settings

from closeloop.core import conditions
from closeloop.rules import console
from closeloop.rules.models import KeywordLibrary, Rule
from closeloop.rules.services import do_create_rule, do_save_keyword_library
from closeloop.workorders import services as wo_services


@pytest.fixture
def setup(world):
    do_save_keyword_library(actor=world.manager, name="urgent", data={"label": "紧急", "words": ["呼吸机离线", "停机"]})
    do_save_keyword_library(actor=world.manager, name="spare", data={"label": "", "words": ["备用"]})
    world.rule = do_create_rule(actor=world.manager, data={
        "name": "紧急关键词", "condition": "wo.keywords.urgent", "order": 10,
        "actions": [{"type": "set_priority", "priority": "urgent"}]})
    world.rule2 = do_create_rule(actor=world.manager, data={"name": "second", "order": 20, "actions": []})
    return world


def client(world, who):
    c = world.browser_client(getattr(world, who))
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # messages asserted in English
    return c


def form_data(**kw):
    data = {"name": "新规则", "description": "", "trigger": "created", "trigger_field": "",
            "condition": 'wo.site.grade == "三级甲等"', "actions": '[{"type": "set_priority", "priority": "high"}]',
            "scope_type": "", "scope_team": "", "order": "30", "enabled": "on"}
    data.update(kw)
    return {k: v for k, v in data.items() if v is not None}


# ---- permissions -------------------------------------------------------------------------------------

READ_PAGES = ["/rules/", "/rules/{pk}/", "/rules/keywords/", "/rules/keywords/urgent/"]
MANAGE_PAGES = ["/rules/new", "/rules/{pk}/delete", "/rules/keywords/new", "/rules/keywords/urgent/delete"]
EXPECTED = {"manager": 200, "admin": 200, "dispatcher": 200, "eng_x": 403, "finance": 403, "cust_a": 404}


@pytest.mark.parametrize("who", list(EXPECTED))
def test_permission_matrix_for_pages(setup, who):
    c = client(setup, who)
    for page in READ_PAGES:
        assert c.get(page.format(pk=setup.rule.pk)).status_code == EXPECTED[who], page
    manage = 200 if who in ("manager", "admin") else EXPECTED[who] if who != "dispatcher" else 403
    for page in MANAGE_PAGES:
        assert c.get(page.format(pk=setup.rule.pk)).status_code == manage, page


@pytest.mark.parametrize("who", ["dispatcher", "eng_x", "finance", "cust_a"])
def test_only_managers_and_admins_write(setup, who):
    c = client(setup, who)
    rule = setup.rule
    refused = 404 if who == "cust_a" else 403
    assert c.post(f"/rules/{rule.pk}/", form_data(version=str(rule.version))).status_code == refused
    assert c.post("/rules/new", form_data()).status_code == refused
    assert c.post(f"/rules/{rule.pk}/enabled", {"enabled": "0"}).status_code == refused
    assert c.post(f"/rules/{rule.pk}/move", {"direction": "down"}).status_code == refused
    assert c.post(f"/rules/{rule.pk}/delete").status_code == refused
    assert c.post("/rules/keywords/new", {"name": "x", "words": "a"}).status_code == refused
    assert c.post("/rules/keywords/urgent/", {"label": "x", "words": "a"}).status_code == refused
    assert c.post("/rules/keywords/spare/delete").status_code == refused
    rule.refresh_from_db()
    assert rule.name == "紧急关键词" and rule.enabled and rule.version == 1 and Rule.objects.count() == 2
    assert KeywordLibrary.objects.get(name="urgent").words == ["呼吸机离线", "停机"]
    assert KeywordLibrary.objects.filter(name="spare").exists() and not KeywordLibrary.objects.filter(name="x").exists()


def test_anonymous_goes_to_login(setup):
    from django.test import Client

    r = Client().get("/rules/")
    assert r.status_code == 302 and "/login" in r["Location"]


@pytest.mark.parametrize("who,visible", [("manager", True), ("admin", True), ("dispatcher", True),
                                         ("eng_x", False), ("cust_a", False)])
def test_nav_entry(setup, who, visible):
    html = client(setup, who).get("/work-orders/").content.decode()
    assert ('data-testid="nav-rules"' in html) is visible


def test_dispatcher_sees_a_read_only_editor_and_may_try(setup):
    wo = wo_services.do_create_work_order(actor=setup.dispatcher, data={
        "type": "repair", "title": "例行保养", "site": "site-a"})
    c = client(setup, "dispatcher")
    html = c.get(f"/rules/{setup.rule.pk}/").content.decode()
    assert 'data-testid="save-rule"' not in html and "disabled" in html
    r = c.post(f"/rules/{setup.rule.pk}/", {"_try": "1", "try_code": wo.code}, headers={"Accept": "application/json"})
    body = r.json()
    assert body["result"]["would_fire"] is False and body["result"]["parts"][0]["part"] == "wo.keywords.urgent"


# ---- list: toggle, reorder, delete -------------------------------------------------------------------

def test_list_shows_rules_in_order_with_owner_and_stop_marker(setup):
    do_create_rule(actor=setup.admin, data={"name": "first", "order": 5, "stop_after": True, "actions": []})
    html = client(setup, "manager").get("/rules/").content.decode()
    names = [x.split("<")[0] for x in html.split('data-testid="rule-name">')[1:]]
    assert names == ["first", "紧急关键词", "second"]
    assert 'data-testid="stop-after"' in html and "admin" in html


def test_toggle_with_htmx_returns_the_row_and_is_idempotent(setup):
    c = client(setup, "admin")
    r = c.post(f"/rules/{setup.rule.pk}/enabled", {"enabled": "0"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and b'data-testid="rule-row"' in r.content and b"<html" not in r.content
    setup.rule.refresh_from_db()
    assert setup.rule.enabled is False and setup.rule.owner == setup.admin
    c.post(f"/rules/{setup.rule.pk}/enabled", {"enabled": "0"})
    setup.rule.refresh_from_db()
    assert setup.rule.enabled is False
    r = c.post(f"/rules/{setup.rule.pk}/enabled", {"enabled": "1"})
    assert r.status_code == 302
    setup.rule.refresh_from_db()
    assert setup.rule.enabled is True


def test_move_renumbers_and_keeps_owners(setup):
    third = do_create_rule(actor=setup.admin, data={"name": "third", "order": 20, "actions": []})
    c = client(setup, "manager")
    assert c.post(f"/rules/{third.pk}/move", {"direction": "up"}).status_code == 302
    assert list(Rule.objects.order_by("order", "id").values_list("name", flat=True)) == ["紧急关键词", "third", "second"]
    assert list(Rule.objects.order_by("order", "id").values_list("order", flat=True)) == [10, 20, 30]
    third.refresh_from_db()
    assert third.owner == setup.admin and third.version == 1  # its number stayed 20
    c.post(f"/rules/{setup.rule.pk}/move", {"direction": "up"})  # already first: nothing moves
    assert Rule.objects.order_by("order", "id").first() == setup.rule
    assert c.post(f"/rules/{third.pk}/move", {"direction": "sideways"}).status_code == 302
    assert list(Rule.objects.order_by("order", "id").values_list("name", flat=True)) == ["紧急关键词", "third", "second"]


def test_delete_asks_first(setup):
    c = client(setup, "manager")
    r = c.get(f"/rules/{setup.rule2.pk}/delete")
    assert b'data-testid="confirm-delete"' in r.content and Rule.objects.filter(pk=setup.rule2.pk).exists()
    assert c.post(f"/rules/{setup.rule2.pk}/delete").status_code == 302
    assert not Rule.objects.filter(pk=setup.rule2.pk).exists()
    assert c.get("/rules/999999/").status_code == 404


# ---- the editor ---------------------------------------------------------------------------------------

def test_create_and_edit_through_the_form(setup):
    c = client(setup, "manager")
    r = c.post("/rules/new", form_data(scope_type="repair", stop_after="on"))
    assert r.status_code == 302
    rule = Rule.objects.get(name="新规则")
    assert rule.condition == 'wo.site.grade == "三级甲等"' and rule.actions == [{"type": "set_priority",
                                                                               "priority": "high"}]
    assert rule.scope_type.key == "repair" and rule.stop_after and rule.enabled and rule.owner == setup.manager
    page = c.get(f"/rules/{rule.pk}/").content.decode()
    assert "rules-config" in page and re.search(r"/static/dist/rules\.[0-9a-f]{12}\.js", page)
    r = c.post(f"/rules/{rule.pk}/", form_data(name="改名", enabled=None, version=str(rule.version)))
    assert r.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "改名" and rule.enabled is False and rule.version == 2


def test_stale_edit_is_refused(setup):
    c = client(setup, "manager")
    r = c.post(f"/rules/{setup.rule.pk}/", form_data(name="late", version="0"))
    assert r.status_code == 200 and b'data-testid="form-errors"' in r.content
    setup.rule.refresh_from_db()
    assert setup.rule.name == "紧急关键词"


@pytest.mark.parametrize("field,value,error", [
    ("name", "", "error-name"),
    ("condition", "wo.priority == ", "error-condition"),
    ("condition", '__import__("os")', "error-condition"),
    ("actions", "[{", "error-actions"),
    ("actions", '{"type": "set_priority"}', "error-actions"),
    ("order", "abc", "error-order"),
    ("trigger", "sometimes", "error-trigger"),
    ("scope_team", "no-such-team", "error-scope_team"),
])
def test_bad_input_stays_unsaved_with_a_field_error(setup, field, value, error):
    c = client(setup, "manager")
    r = c.post("/rules/new", form_data(**{field: value}))
    assert r.status_code == 200
    assert f'data-testid="{error}"'.encode() in r.content
    assert not Rule.objects.filter(name="新规则").exists()


def test_condition_error_shows_line_column_and_caret(setup):
    r = client(setup, "manager").post("/rules/new", form_data(condition='wo.priority == "urgent" &&\n  wo.title ==* "x"'))
    html = r.content.decode()
    assert "line 2" in html and 'data-testid="condition-caret"' in html
    caret = unescape(html.split('data-testid="condition-caret">')[1].split("</pre>")[0])
    line, pointer = caret.split("\n")[:2]
    assert line == '  wo.title ==* "x"' and pointer.endswith("^")


def test_action_errors_name_the_action(setup):
    actions = [{"type": "set_priority", "priority": "urgent"}, {"type": "set_priority", "priority": "asap"},
               {"type": "assign", "assignee": "cust_a"}]
    r = client(setup, "manager").post("/rules/new", form_data(actions=json.dumps(actions)))
    html = r.content.decode()
    assert "Action 2: priority" in html and "Action 3: assignee" in html and "Action 1:" not in html
    config = json.loads(html.split('id="rules-config" type="application/json">')[1].split("</script>")[0])
    assert set(config["action_errors"]) == {"1", "2"}
    assert not Rule.objects.filter(name="新规则").exists()


def test_try_the_unsaved_form_saves_nothing(setup):
    Rule.objects.filter(pk=setup.rule.pk).update(enabled=False)
    wo = wo_services.do_create_work_order(actor=setup.dispatcher, data={
        "type": "repair", "title": "ICU 呼吸机离线", "site": "site-a"})
    c = client(setup, "manager")
    data = form_data(condition='wo.keywords.urgent && wo.site.grade == "三级甲等" && wo.priority == "low"',
                     actions='[{"type": "set_priority", "priority": "urgent"}]', _try="1", try_code=wo.code.lower())
    r = c.post(f"/rules/{setup.rule2.pk}/", data, headers={"Accept": "application/json"})
    body = r.json()
    parts = body["result"]["parts"]
    assert [p["result"] for p in parts] == [True, True, False] and body["result"]["would_fire"] is False
    assert body["result"]["keywords"] == {"urgent": ["呼吸机离线"]}
    assert 'data-testid="try-part"' in body["html"]
    data["condition"] = "wo.keywords.urgent"
    body = c.post("/rules/new", data, headers={"Accept": "application/json"}).json()
    assert body["result"]["would_fire"] is True and body["result"]["actions"] == ["priority normal → urgent"]
    # A rule without a name yet can be tried (and not saved).
    body = c.post("/rules/new", {**data, "name": ""}, headers={"Accept": "application/json"}).json()
    assert body["ok"] is True and body["result"]["would_fire"] is True
    assert c.post("/rules/new", {k: v for k, v in data.items() if k not in ("_try", "name")}).status_code == 200
    # Without JS: the same button renders the page with the result.
    html = c.post("/rules/new", data).content.decode()
    assert 'data-testid="try-outcome"' in html and "priority normal → urgent" in html
    assert not Rule.objects.filter(name="新规则").exists()
    setup.rule2.refresh_from_db()
    wo.refresh_from_db()
    assert setup.rule2.condition == "" and setup.rule2.version == 1 and wo.priority == "normal"


def test_try_errors(setup):
    c = client(setup, "manager")
    other = wo_services.do_create_work_order(actor=setup.dispatcher, data={
        "type": "repair", "title": "x", "site": "site-b"})
    hdr = {"Accept": "application/json"}
    assert c.post("/rules/new", form_data(_try="1", try_code=""), headers=hdr).json()["result"]["error_message"]
    body = c.post("/rules/new", form_data(_try="1", try_code="WD000"), headers=hdr).json()
    assert "WD000" in body["result"]["error_message"]
    body = c.post("/rules/new", form_data(_try="1", try_code=other.code, condition="wo.x =="), headers=hdr).json()
    assert body["ok"] is False and body["errors"]["condition"]
    # An engineer's view is not the point: a customer cannot try at all.
    assert client(setup, "cust_a").post("/rules/new", form_data(_try="1", try_code=other.code)).status_code == 404


# ---- builder endpoints and the tree <-> CEL round trip --------------------------------------------------

def test_builder_endpoints(setup):
    c = client(setup, "dispatcher")
    tree = {"all": [{"field": "wo.keywords.urgent", "op": "is_true"},
                    {"any": [{"field": "wo.site.grade", "op": "==", "value": "三级甲等"},
                             {"field": "wo.priority", "op": "in", "value": ["high", "urgent"]}]}]}
    r = c.post("/rules/builder/build", json.dumps({"tree": tree}), content_type="application/json")
    cel = r.json()["condition"]
    assert cel == 'wo.keywords.urgent && (wo.site.grade == "三级甲等" || wo.priority in ["high", "urgent"])'
    back = c.post("/rules/builder/parse", json.dumps({"condition": cel}), content_type="application/json").json()
    assert console.build_cel(back["tree"]) == cel
    bad = c.post("/rules/builder/build", json.dumps({"tree": {"all": [{"field": "__class__", "op": "=="}]}}),
                 content_type="application/json")
    assert bad.status_code == 422 and "Unknown field" in bad.json()["error"]
    hand = c.post("/rules/builder/parse", json.dumps({"condition": "size(wo.title) > 3"}),
                  content_type="application/json").json()
    assert hand["tree"] is None
    assert client(setup, "eng_x").post("/rules/builder/build", "{}", content_type="application/json").status_code == 403


@pytest.mark.parametrize("source", [
    "", "wo.keywords.urgent", '!(wo.priority in ["low"])', '"priority" in event.changed && !wo.keywords.urgent',
    'wo.title.contains("a\\"b") || wo.custom.temperature >= 3.5 || wo.custom.temperature < -2',
    'wo.site.grade.startsWith("三级") && (wo.title.endsWith("x") || (wo.type == "repair" && wo.region != ""))',
])
def test_parse_round_trip(source, db):
    tree = console.parse_cel(source)
    assert tree is not None and console.build_cel(tree) == source
    if source:
        conditions.compile_condition(source)


@pytest.mark.parametrize("source", [
    "wo.a == 1 && wo.b == 2 || wo.c", "size(wo.title) > 3", "wo.title == wo.description", "(wo.keywords.x)",
    'wo.title.matches("x")', "wo.priority ==", '"a" in wo.keyword_hits.urgent', "wo.x == 1 &&& wo.y",
])
def test_parse_refuses_what_the_builder_did_not_write(source, db):
    assert console.parse_cel(source) is None


# ---- keyword libraries ----------------------------------------------------------------------------------

def test_keyword_library_create_edit_and_usage(setup):
    c = client(setup, "manager")
    r = c.post("/rules/keywords/new", {"name": "night", "label": "夜班", "words": "夜班\n 停电 \n\n夜班\n"})
    assert r.status_code == 302
    assert KeywordLibrary.objects.get(name="night").words == ["夜班", "停电"]
    r = c.post("/rules/keywords/night/", {"name": "ignored", "label": "夜", "words": "夜班\n监护仪黑屏"})
    assert r.status_code == 302
    lib = KeywordLibrary.objects.get(name="night")
    assert lib.label == "夜" and lib.words == ["夜班", "监护仪黑屏"] and not KeywordLibrary.objects.filter(
        name="ignored").exists()
    html = c.get("/rules/keywords/").content.decode()
    row = html.split('data-library="urgent"')[1].split("</tr>")[0]
    assert "紧急关键词" in row
    assert "紧急关键词" in c.get("/rules/keywords/urgent/").content.decode()
    # The builder offers each library as a field.
    page = c.get(f"/rules/{setup.rule.pk}/").content.decode()
    assert "wo.keywords.night" in page


@pytest.mark.parametrize("name,error", [("Bad Name", "error-name"), ("urgent", "error-name"), ("", "error-name")])
def test_keyword_library_bad_input(setup, name, error):
    r = client(setup, "manager").post("/rules/keywords/new", {"name": name, "label": "x", "words": "新词"})
    assert r.status_code == 200 and f'data-testid="{error}"'.encode() in r.content
    assert KeywordLibrary.objects.get(name="urgent").words == ["呼吸机离线", "停机"]
    assert KeywordLibrary.objects.count() == 2


def test_keyword_library_delete_refused_while_used(setup):
    c = client(setup, "manager")
    r = c.post("/rules/keywords/urgent/delete", follow=True)
    assert KeywordLibrary.objects.filter(name="urgent").exists()
    assert "紧急关键词" in r.content.decode() and "used by" in r.content.decode()
    assert c.post("/rules/keywords/spare/delete").status_code == 302
    assert not KeywordLibrary.objects.filter(name="spare").exists()
    assert c.get("/rules/keywords/spare/").status_code == 404


def test_webhook_secret_is_masked_in_the_editor_and_kept_on_save(setup):
    rule = do_create_rule(actor=setup.manager, data={"name": "hook", "actions": [
        {"type": "webhook", "url": "https://hooks.example.com/in", "secret": "s3cret-value"}]})
    c = client(setup, "manager")
    page = c.get(f"/rules/{rule.pk}/").content.decode()
    assert "s3cret-value" not in page and "********" in page
    actions = json.loads(unescape(page.split('data-testid="actions-json"')[1].split(">", 1)[1].split("</textarea>")[0]))
    r = c.post(f"/rules/{rule.pk}/", form_data(name="hook", condition="", actions=json.dumps(actions),
                                                version=str(rule.version)))
    assert r.status_code == 302
    rule.refresh_from_db()
    assert rule.actions[0]["secret"] == "s3cret-value"


def test_trigger_choices_and_schedule_minutes(setup):
    from closeloop.rules.models import Trigger

    c = client(setup, "manager")
    page = c.get("/rules/new").content.decode()
    for value in Trigger.values:
        assert f'value="{value}"' in page
    assert 'data-show-for="schedule"' in page
    r = c.post("/rules/new", form_data(trigger="schedule", name="每小时"))
    assert r.status_code == 200 and b'data-testid="error-schedule_minutes"' in r.content
    assert c.post("/rules/new", form_data(trigger="schedule", name="每小时", schedule_minutes="60")).status_code == 302
    assert Rule.objects.get(name="每小时").schedule_minutes == 60
    # Switching to another trigger drops the interval left in the (hidden) input.
    rule = Rule.objects.get(name="每小时")
    assert c.post(f"/rules/{rule.pk}/", form_data(trigger="created", name="每小时", schedule_minutes="60",
                                                  version=str(rule.version))).status_code == 302
    rule.refresh_from_db()
    assert rule.trigger == "created" and rule.schedule_minutes is None


def test_builder_field_menu(setup):
    fields = {f["value"]: f for f in console.builder_fields()}
    assert fields["wo.keywords.urgent"]["ops"] == ["is_true", "is_false"] and fields["wo.keywords.urgent"]["type"] == "bool"
    assert "changed" in fields["wo.priority"]["ops"] and "changed" not in fields["event.action"]["ops"]
    assert fields["wo.custom.temperature"]["type"] == "number" and "<" in fields["wo.custom.temperature"]["ops"]
    assert fields["wo.custom.shift"]["choices"] == [["早", "早"], ["中", "中"], ["晚", "晚"]]
    assert ["urgent", "Urgent"] in fields["wo.priority"]["choices"]
    assert set(fields) - {"wo.keywords.urgent", "wo.keywords.spare", "wo.custom.temperature", "wo.custom.shift"} <= \
        conditions.BUILDER_FIELDS
    # Every field the menu offers builds into CEL that compiles.
    for f in fields.values():
        value = 1 if f["type"] == "number" else "x"
        leaf = {"field": f["value"], "op": f["ops"][0], "value": value}
        conditions.compile_condition(console.build_cel({"all": [leaf]}))
