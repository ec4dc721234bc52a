"""Each write through the pages lands through the API's services (SQLite and PostgreSQL)."""

import pytest

from closeloop.accounts.models import EngineerSkill, SkillTag, Team, User
from closeloop.core.errors import Forbidden
from closeloop.customers import services as customer_services
from closeloop.customers.models import Asset, Contact, Customer, Site


def _errors(r) -> set[str]:
    import re

    return set(re.findall(r'data-testid="error-([\w]+)"', r.content.decode()))


def test_a_site_with_coordinates_and_their_validation(world):
    c = world.browser_client(world.manager)
    r = c.post("/settings/sites/new", {"customer": "org-a", "code": "a-east", "name": "甲医院东院",
                                       "latitude": "95", "longitude": "abc"})
    assert r.status_code == 200 and _errors(r) == {"latitude", "longitude"}
    r = c.post("/settings/sites/new", {"customer": "nope", "code": "a-east", "name": "甲医院东院"})
    assert _errors(r) == {"customer"}
    r = c.post("/settings/sites/new", {"customer": "org-a", "code": "a-east", "name": "甲医院东院",
                                       "latitude": "31.2304", "longitude": "121.4737", "city": "上海"})
    assert r.status_code == 302
    site = Site.objects.get(code="a-east")
    assert str(site.latitude) == "31.230400" and site.customer == world.org_a
    r = c.post("/settings/sites/a-east/", {"customer": "org-a", "code": "a-east", "name": "甲医院东院区",
                                           "latitude": "", "longitude": ""})
    assert r.status_code == 302
    site.refresh_from_db()
    assert site.name == "甲医院东院区" and site.latitude is None


def test_a_contact_and_an_asset_with_its_qr_label(world):
    c = world.browser_client(world.admin)
    r = c.post("/settings/contacts/new", {"customer": "org-a", "site": "site-b", "name": "李工", "phone": "13900000000"})
    assert _errors(r) == {"site"}  # the site belongs to another customer
    r = c.post("/settings/contacts/new", {"customer": "org-a", "site": "site-a", "name": "李工", "phone": "13900000000"})
    assert r.status_code == 302 and Contact.objects.get(name="李工").site == world.site_a
    r = c.post("/settings/assets/new", {"customer": "org-a", "site": "site-a", "serial_number": "SN-A-1",
                                        "name": "呼吸机", "install_date": "2026-13-40"})
    assert _errors(r) == {"serial_number", "install_date"}
    r = c.post("/settings/assets/new", {"customer": "org-a", "site": "site-a", "serial_number": "SN-NEW-9",
                                        "name": "麻醉机", "model": "A7", "batch": "2025-B3",
                                        "install_date": "2025-06-01"})
    assert r.status_code == 302
    asset = Asset.objects.get(serial_number="SN-NEW-9")
    assert asset.batch == "2025-B3" and asset.install_date.isoformat() == "2025-06-01"
    html = c.get(f"/settings/assets/{asset.pk}/").content.decode()
    assert "/fieldwork/qr/asset/SN-NEW-9/" in html


def test_deactivating_a_customer_keeps_it_readable_and_out_of_the_pickers(world):
    c = world.browser_client(world.manager)
    assert c.post("/settings/customers/org-a/active", {"active": "0"}).status_code == 302
    world.org_a.refresh_from_db()
    assert not world.org_a.is_active
    assert not Site.objects.get(code="site-a").is_active and not Asset.objects.get(serial_number="SN-A-1").is_active
    assert Customer.objects.filter(code="org-a").exists()  # nothing deleted
    d = world.browser_client(world.dispatcher)
    assert d.get("/pick/customers", {"q": "甲医"}).json()["results"] == []
    assert c.get("/settings/customers/org-a/").status_code == 200
    assert c.post("/settings/customers/org-a/active", {"active": "1"}).status_code == 302
    assert [r["value"] for r in d.get("/pick/customers", {"q": "甲医"}).json()["results"]] == ["org-a"]


def test_deactivation_is_for_writers_only(world):
    with pytest.raises(Forbidden):
        customer_services.do_set_active(actor=world.eng_x, obj=world.org_a, active=False)


def test_a_user_with_role_team_skills_and_phone(world):
    SkillTag.objects.create(name="呼吸机")
    SkillTag.objects.create(name="监护仪")
    c = world.browser_client(world.admin)
    r = c.post("/settings/users/new", {"username": "eng_new", "display_name": "张工", "role": "engineer",
                                       "team": "team-x", "phone": "13700000000", "skills": "呼吸机:9, 不存在:2",
                                       "is_active": "on"})
    assert _errors(r) == {"skills"}
    r = c.post("/settings/users/new", {"username": "eng_new", "display_name": "张工", "role": "engineer",
                                       "team": "team-x", "phone": "13700000000", "skills": "呼吸机：4，监护仪",
                                       "password": "a-long-Password-2026", "is_active": "on"})
    assert r.status_code == 302
    u = User.objects.get(username="eng_new")
    assert u.team == world.team_x and u.check_password("a-long-Password-2026") and u.is_active
    assert {s.tag.name: s.level for s in EngineerSkill.objects.filter(user=u)} == {"呼吸机": 4, "监护仪": 1}
    # deactivate: untick Active; the password is kept when left empty
    r = c.post("/settings/users/eng_new/", {"display_name": "张工", "role": "engineer", "team": "team-x",
                                            "skills": "呼吸机:5"})
    assert r.status_code == 302
    u.refresh_from_db()
    assert not u.is_active and u.check_password("a-long-Password-2026")
    r = c.post(f"/settings/users/{world.admin.username}/", {"role": "admin"})
    assert _errors(r) == {"is_active"}  # cannot deactivate yourself


def test_teams_and_skill_tags_are_deleted_only_when_unreferenced(world):
    c = world.browser_client(world.admin)
    r = c.post("/settings/teams/new", {"code": "team-z", "name": "Team Z", "supervisor": "manager",
                                       "backup_team": "team-x"})
    assert r.status_code == 302 and Team.objects.get(code="team-z").supervisor == world.manager
    r = c.post("/settings/teams/team-z/", {"code": "team-z", "name": "Team Z", "parent": "team-z"})
    assert _errors(r) == {"parent"}
    c.post("/settings/teams/team-x/delete")
    assert Team.objects.filter(code="team-x").exists()  # it has members
    c.post("/settings/teams/team-z/delete")
    assert not Team.objects.filter(code="team-z").exists()
    r = c.post("/settings/skills/new", {"name": "123"})
    assert _errors(r) == {"name"}
    c.post("/settings/skills/new", {"name": "除颤仪", "category": "急救"})
    tag = SkillTag.objects.get(name="除颤仪")
    EngineerSkill.objects.create(user=world.eng_x, tag=tag, level=3)
    c.post(f"/settings/skills/{tag.pk}/delete")
    assert SkillTag.objects.filter(pk=tag.pk).exists()


def test_the_pickers_narrow_by_customer_and_hide_what_is_not_visible(world):
    d = world.browser_client(world.dispatcher)
    assert [r["value"] for r in d.get("/pick/sites", {"q": "医院", "customer": "org-b"}).json()["results"]] == ["site-b"]
    assert [r["value"] for r in d.get("/pick/assets", {"q": "sn-a"}).json()["results"]] == ["SN-A-1"]
    assert d.get("/pick/contacts", {"q": "13800000001"}).json()["results"][0]["label"] == "王护士"
    assert {r["value"] for r in d.get("/pick/engineers", {"q": "eng"}).json()["results"]} == {"eng_x", "eng_x2", "eng_y"}
    assert d.get("/pick/teams", {"q": "华南"}).json()["results"][0]["value"] == "team-y"


def test_the_list_searches_and_pages(world):
    for i in range(55):
        Customer.objects.create(code=f"c-{i:02d}", name=f"测试客户{i:02d}")
    c = world.browser_client(world.manager)
    html = c.get("/settings/customers/").content.decode()
    assert 'data-testid="next-page"' in html
    html = c.get("/settings/customers/", {"q": "甲医院"}).content.decode()
    assert "甲医院" in html and "测试客户" not in html


def test_the_new_work_order_form_has_the_pickers_for_staff_only(world):
    html = world.browser_client(world.dispatcher).get("/work-orders/new").content.decode()
    assert 'data-picker-url="/pick/customers"' in html and 'data-picker-url="/pick/sites"' in html
    html = world.browser_client(world.cust_a).get("/work-orders/new").content.decode()
    assert "data-picker-url" not in html
