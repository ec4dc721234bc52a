"""Look-alike user names are refused, and names are compared after NFKC and case folding
(accounts.usernames), through the API, the services and the first run alike."""

import pytest
from django.db import IntegrityError, transaction

from closeloop.accounts import usernames
from closeloop.accounts.models import Role, User
from closeloop.accounts.services import do_create_user
from closeloop.core.errors import ValidationFailed

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.mark.parametrize("name, why", [
    ("аdmin", "mixes"),            # Cyrillic а among Latin letters
    ("pаypal", "mixes"),
    ("王_wang", "mixes"),           # Han and Latin
    ("асе", "Latin"),              # all Cyrillic, every letter a Latin look-alike ("ace")
    ("ＡＤＭＩＮ", "full-width"),    # compatibility forms
    ("ﬁnance", "ligatures"),       # the "fi" ligature
])
def test_a_look_alike_name_is_refused_by_the_api_naming_the_field(world, name, why):
    r = world.api(world.admin).post(f"{V1}/users", {"username": name, "role": "engineer"},
                                    headers={"Accept-Language": "en"})
    assert r.status_code == 422, r.content
    err = r.json()["errors"][0]
    assert err["field"] == "username" and err["code"] == "look_alike" and why in err["message"]
    assert not User.objects.filter(username=name).exists()


@pytest.mark.parametrize("name", ["li.wei", "张三", "Иван", "eng_x-2", "王伟"])
def test_ordinary_names_in_one_script_pass(name):
    assert usernames.problem(name) is None


@pytest.mark.parametrize("existing, new", [("admin", "Admin"), ("straße", "STRASSE"), ("dispatcher", "DISPATCHER")])
def test_names_equal_after_nfkc_and_case_folding_are_one_name(world, existing, new):
    if not User.objects.filter(username=existing).exists():
        world._user(existing, Role.ENGINEER)
    r = world.api(world.admin).post(f"{V1}/users", {"username": new, "role": "engineer"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unique", r.content
    with pytest.raises(ValidationFailed):
        do_create_user(username=new)


def test_the_database_refuses_a_second_spelling_of_one_name(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="ADMIN")
    assert User.objects.get(username="admin").username_key == "admin"


def test_the_message_is_translated(world):
    r = world.api(world.admin).post(f"{V1}/users", {"username": "аdmin", "role": "engineer"},
                                    headers={"Accept-Language": "zh-hans"})
    assert "用户名只能使用一种文字" in r.json()["errors"][0]["message"]


def test_the_first_run_refuses_a_look_alike_administrator_name():
    from closeloop.administration import services
    from closeloop.administration.tests.test_first_run import GOOD

    with pytest.raises(ValidationFailed) as e:
        services.do_first_run(data=GOOD | {"username": "аdmin"})
    assert e.value.problems[0].field == "username" and e.value.problems[0].code == "look_alike"
    assert not User.objects.exists()
