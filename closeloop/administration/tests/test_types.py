"""Work order types in Settings and the form designer: who may use them, and that changing a type never
breaks the work orders that already use it."""

import pytest
from django.test import Client

from closeloop.workorders import services as wo_services
from closeloop.workorders.models import CustomField, WorkOrderType
from closeloop.workorders.tests.factories import make_wo

PERSONAS = ("anonymous", "cust_a", "eng_x", "dispatcher", "finance", "manager", "admin")
NOBODY = ("login", 404, 404, 404, 404)
MATRIX = {
    ("GET", "/settings/types/"): NOBODY + (200, 200),
    ("GET", "/settings/types/new"): NOBODY + (200, 200),
    ("POST", "/settings/types/new"): NOBODY + (200, 200),  # empty: errors beside the inputs
    ("GET", "/settings/types/repair/"): NOBODY + (200, 200),
    ("POST", "/settings/types/repair/"): NOBODY + (302, 302),
    ("POST", "/settings/types/repair/active"): NOBODY + (302, 302),
    ("POST", "/settings/types/repair/fields/new"): NOBODY + (302, 302),
    ("POST", "/settings/types/repair/fields/order"): NOBODY + (200, 200),
    ("POST", "/settings/types/repair/fields/temp/"): NOBODY + (302, 302),
    ("POST", "/settings/types/repair/fields/temp/remove"): NOBODY + (302, 302),
    ("GET", "/settings/types/repair/preview"): NOBODY + (200, 200),
    ("POST", "/settings/types/repair/preview"): NOBODY + (200, 200),
    ("GET", "/settings/types/repair/?tab=line"): NOBODY + (200, 200),
    ("POST", "/settings/types/repair/main-line"): NOBODY + (302, 302),
    ("POST", "/settings/types/repair/main-line/preview"): NOBODY + (200, 200),
}
BODIES = {
    "/settings/types/repair/": {"name": "维修", "key": "repair", "prefix": "WD", "kind": "repair"},
    "/settings/types/repair/active": {"active": "1"},
    "/settings/types/repair/fields/new": {"label": "压力", "key": "pressure", "kind": "number"},
    "/settings/types/repair/fields/order": {"keys": ["temp"]},
    "/settings/types/repair/fields/temp/": {"f-temp-label": "温度", "f-temp-kind": "number"},
    "/settings/types/repair/preview": {"label": "草稿", "kind": "text"},
    "/settings/types/repair/main-line": {"stages": ["intake", "dispatch", "accept", "execution", "close"]},
    "/settings/types/repair/main-line/preview": {"stages": ["intake", "execution", "close"]},
}


@pytest.mark.parametrize(("method", "path"), list(MATRIX))
def test_each_persona_gets_the_listed_outcome(world, method, path):
    wrong = []
    for persona, expected in zip(PERSONAS, MATRIX[(method, path)], strict=True):
        CustomField.objects.filter(key="pressure").delete()  # each persona meets the same type
        CustomField.objects.get_or_create(wo_type=world.repair, key="temp", defaults={"label": "温度",
                                                                                        "kind": "number"})
        c = Client()
        if persona != "anonymous":
            c.force_login(getattr(world, persona))
        r = c.get(path) if method == "GET" else c.post(path, BODIES.get(path, {}))
        got = "login" if r.status_code == 302 and "/login/" in r["Location"] else r.status_code
        if got != expected:
            wrong.append((persona, expected, got))
    assert not wrong


def _designer(world, who=None):
    return world.browser_client(who or world.manager)


def test_a_manager_creates_a_type_and_designs_its_form(world):
    c = _designer(world)
    r = c.post("/settings/types/new", {"name": "保养", "key": "upkeep", "prefix": "BY", "kind": "preventive",
                                        "process_steps": "检查\n清洁\n"})
    assert r.status_code == 302, r.content.decode()[:2000]
    t = WorkOrderType.objects.get(key="upkeep")
    assert t.process_steps == ["检查", "清洁"]
    r = c.post("/settings/types/upkeep/fields/new", {"label": "出口温度", "key": "outlet_temp", "kind": "number",
                                                     "unit": "°C", "min_value": "-20", "max_value": "120",
                                                     "required": "on", "help_text": "出风口实测"})
    assert r.status_code == 302
    c.post("/settings/types/upkeep/fields/new", {"label": "故障类型", "key": "fault", "kind": "choice",
                                                 "choices": "电源\n压缩机\n"})
    c.post("/settings/types/upkeep/fields/new", {"label": "铭牌照片", "key": "nameplate", "kind": "photo"})
    f = CustomField.objects.get(wo_type=t, key="outlet_temp")
    assert (f.unit, f.min_value, f.max_value, f.required, f.help_text) == ("°C", -20, 120, True, "出风口实测")
    assert CustomField.objects.get(wo_type=t, key="fault").choices == ["电源", "压缩机"]

    html = c.get("/settings/types/upkeep/").content.decode()
    assert 'data-testid="type-designer"' in html and 'data-testid="deactivate"' in html
    assert 'data-testid="deactivate"' in c.get("/settings/customers/org-a/").content.decode()
    for part in ("preview-create", "preview-phone", "preview-closure"):
        assert f'data-testid="{part}"' in html
    assert "出口温度 (°C)" in html and "铭牌照片" in html

    # Reordering: the photo first; the answer is the refreshed preview.
    r = c.post("/settings/types/upkeep/fields/order", {"keys": ["nameplate", "fault", "outlet_temp"]})
    assert r.status_code == 200 and 'data-testid="preview-phone"' in r.content.decode()
    assert list(CustomField.objects.filter(wo_type=t).order_by("order").values_list("key", flat=True)) == \
        ["nameplate", "fault", "outlet_temp"]
    r = c.post("/settings/types/upkeep/fields/order", {"keys": ["nope"]})
    assert r.status_code == 422

    # The create form offers the typed fields, not the photo (taken on the phone).
    html = c.get("/work-orders/new/fields?type=upkeep").content.decode()
    assert "custom__outlet_temp" in html and "custom__fault" in html and "custom__nameplate" not in html


def test_bad_field_input_is_shown_beside_the_input_and_nothing_is_written(world):
    c = _designer(world, world.admin)
    r = c.post("/settings/types/repair/fields/new", {"label": "", "key": "Bad Key", "kind": "number",
                                                     "min_value": "9", "max_value": "1"})
    assert r.status_code == 422
    html = r.content.decode()
    assert 'data-testid="error-key"' in html and 'data-testid="error-label"' in html
    assert not CustomField.objects.filter(wo_type=world.repair).exists()
    r = c.post("/settings/types/repair/fields/new", {"label": "x", "key": "x", "kind": "choice"})
    assert r.status_code == 422 and 'data-testid="error-choices"' in r.content.decode()


def test_the_live_preview_shows_an_unsaved_draft_and_writes_nothing(world):
    c = _designer(world)
    r = c.post("/settings/types/repair/preview", {"label": "电压", "key": "voltage", "kind": "number", "unit": "V"})
    html = r.content.decode()
    assert r.status_code == 200 and "电压 (V)" in html and 'data-key="voltage"' in html
    assert not CustomField.objects.filter(wo_type=world.repair).exists()


def test_removing_a_field_keeps_old_work_orders_readable(world):
    """A field with values on work orders is deactivated, not deleted: the old value keeps its label on the
    work order page; new work orders neither see nor take it; the API echoing the old value still works."""
    c = _designer(world)
    c.post("/settings/types/repair/fields/new", {"label": "温度", "key": "temp", "kind": "number", "unit": "°C"})
    c.post("/settings/types/repair/fields/new", {"label": "备注", "key": "note", "kind": "text"})
    wo = wo_services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "制冷故障", "customer": "org-a", "custom": {"temp": 38}})

    c.post("/settings/types/repair/fields/temp/remove")
    c.post("/settings/types/repair/fields/note/remove")
    assert not CustomField.objects.filter(wo_type=world.repair, key="note").exists()  # unused: deleted
    temp = CustomField.objects.get(wo_type=world.repair, key="temp")
    assert temp.active is False

    page = world.browser_client(world.dispatcher).get(f"/work-orders/{wo.code}/").content.decode()
    assert "温度" in page and "38 °C" in page
    html = c.get("/settings/types/repair/").content.decode()
    assert 'data-testid="field-inactive"' in html and 'data-testid="field-restore"' in html
    assert "custom__temp" not in c.get("/work-orders/new/fields?type=repair").content.decode()

    from closeloop.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as e:
        wo_services.do_create_work_order(actor=world.dispatcher, data={
            "type": "repair", "title": "新", "customer": "org-a", "custom": {"temp": 20}})
    assert [p.field for p in e.value.problems] == ["custom.temp"]
    wo.refresh_from_db()
    wo_services.do_update_work_order(actor=world.dispatcher, wo=wo, data={"custom": {"temp": 38}, "title": "改"})
    wo.refresh_from_db()
    assert wo.custom == {"temp": 38} and wo.title == "改"

    c.post("/settings/types/repair/fields/temp/", {"restore": "1"})
    assert CustomField.objects.get(wo_type=world.repair, key="temp").active is True


def test_the_engineer_sees_and_fills_the_fields_on_the_phone(world):
    c = _designer(world)
    c.post("/settings/types/repair/fields/new", {"label": "出口温度", "key": "outlet_temp", "kind": "number",
                                                 "unit": "°C"})
    c.post("/settings/types/repair/fields/new", {"label": "铭牌照片", "key": "nameplate", "kind": "photo"})
    wo = make_wo(world, status="on_site")
    html = world.browser_client(world.eng_x).get(f"/m/wo/{wo.code}/").content.decode()
    assert 'data-testid="details"' in html and "出口温度 (°C)" in html and 'name="outlet_temp"' in html
    assert '<option value="nameplate">铭牌照片</option>' in html  # the photo field is a photo kind
    api = world.api(world.eng_x)
    r = api.patch(f"/api/v1/work-orders/{wo.code}", {"custom": {"outlet_temp": "12.5"}})
    assert r.status_code == 200, r.content
    wo.refresh_from_db()
    assert wo.custom == {"outlet_temp": 12.5}
