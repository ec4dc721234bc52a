"""The main line editor of the type designer (Settings → Work order types → a type → Main line):
the saved line, the palette, approval points in their block, the preview of a draft (nothing
written; 422 with the problem for a line that cannot be saved), saving through the same service
as the API, bad input re-shown with the problem and nothing written, in zh-Hans and English."""

from closeloop.workorders import mainline
from closeloop.workorders.models import WorkOrderType

NO_TRAVEL = ["intake", "dispatch", "accept", "execution", "close"]


def _blocks(html: str, list_id: str) -> list[str]:
    import re

    part = html.split(f'id="{list_id}"', 1)[1].split("</ol>" if list_id == "line-blocks" else "</ul>", 1)[0]
    return re.findall(r'data-stage="([a-z_]+)" data-mandatory', part)


def test_the_editor_shows_the_line_the_palette_and_the_approval_points(world):
    from closeloop.approvals import services as apr

    apr.do_create_flow(actor=world.admin, data={"name": "关单审批", "action": "close", "type": "production"})
    world.production.stages = NO_TRAVEL
    world.production.save()
    c = world.browser_client(world.manager)
    html = c.get("/settings/types/production/?tab=line", headers={"Accept-Language": "zh-hans"}).content.decode()
    assert _blocks(html, "line-blocks") == NO_TRAVEL
    assert _blocks(html, "line-palette") == ["travel", "confirm", "invoice"]
    assert "主线" in html and "关单审批" in html and "开模\n注塑\n质检" in html
    # The fields tab is still the default.
    html = c.get("/settings/types/production/").content.decode()
    assert 'id="type-designer"' in html and 'id="main-line-editor"' not in html


def test_the_preview_follows_a_draft_and_writes_nothing(world):
    c = world.browser_client(world.manager)
    r = c.post("/settings/types/repair/main-line/preview", {"stages": NO_TRAVEL},
               headers={"Accept-Language": "en"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "On the way" not in html and "starting the work" in html
    r = c.post("/settings/types/repair/main-line/preview", {"stages": ["intake", "close", "execution"]},
               headers={"Accept-Language": "en"})
    assert r.status_code == 422 and 'data-testid="line-problems"' in r.content.decode()
    assert WorkOrderType.objects.get(key="repair").stages == list(mainline.KEYS)


def test_saving_and_bad_input(world):
    c = world.browser_client(world.manager)
    r = c.post("/settings/types/production/main-line", {"stages": NO_TRAVEL, "process_steps": "开模\n注塑\n\n保压\n质检"})
    assert r.status_code == 302 and r["Location"].endswith("?tab=line")
    t = WorkOrderType.objects.get(key="production")
    assert t.stages == NO_TRAVEL and t.process_steps == ["开模", "注塑", "保压", "质检"]
    r = c.post("/settings/types/production/main-line", {"stages": ["intake", "dispatch", "close"]},
               headers={"Accept-Language": "en"})
    assert r.status_code == 422
    html = r.content.decode()
    assert "Every line has the stage Field execution" in html
    assert _blocks(html, "line-blocks") == ["intake", "dispatch", "close"]  # the draft as it was sent
    assert WorkOrderType.objects.get(key="production").stages == NO_TRAVEL
