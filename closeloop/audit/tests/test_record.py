"""record_change itself: redaction, no-op writes, the transaction rule, append-only."""

import pytest
from django.db import transaction

from closeloop.audit.models import AuditRecord
from closeloop.audit.services import REDACTED, REDACTED_CHANGED, changes, record_change, redact


def test_it_hides_secret_keys_nested_paths_and_url_credentials():
    out = redact({"name": "n", "password": "p", "config": {"host": "h", "app_secret": "s", "auth_token": "t",
                                                           "url": "https://oapi.dingtalk.com/robot/send?access_token=abc&x=1",
                                                           "dsn": "smtp://me:pw@mail.example.com/"},
                  "token_hash": "f00", "key": "repair", "require_signature": True, "plain": "p"},
                 secrets={"plain"})
    assert out["name"] == "n" and out["key"] == "repair" and out["require_signature"] is True
    assert out["password"] == out["token_hash"] == out["plain"] == REDACTED
    assert out["config"]["app_secret"] == out["config"]["auth_token"] == REDACTED
    assert out["config"]["host"] == "h"
    assert "abc" not in out["config"]["url"] and "x=1" in out["config"]["url"]
    assert "pw" not in out["config"]["dsn"] and "me:" in out["config"]["dsn"]


@pytest.mark.django_db
def test_it_marks_a_changed_secret_without_storing_it(world):
    with transaction.atomic():
        r = record_change(actor=world.admin, kind="channel", obj_id=1, label="mail",
                          before={"config": {"password": "old-secret", "host": "a"}},
                          after={"config": {"password": "new-secret", "host": "a"}})
    assert r.before == {"config": {"password": REDACTED, "host": "a"}}
    assert r.after == {"config": {"password": REDACTED_CHANGED, "host": "a"}}
    assert "secret" not in str(AuditRecord.objects.values_list("before", "after").get())
    assert changes(r.before, r.after) == [{"field": "config.password", "before": REDACTED, "after": REDACTED_CHANGED}]


@pytest.mark.django_db
def test_it_writes_nothing_when_nothing_changed(world):
    with transaction.atomic():
        assert record_change(actor=world.admin, kind="team", obj_id=1, label="t", before={"a": 1}, after={"a": 1}) \
            is None
    assert not AuditRecord.objects.exists()


@pytest.mark.django_db
def test_it_infers_the_action(world):
    with transaction.atomic():
        a = record_change(actor=world.admin, kind="x", obj_id=1, label="x", before=None, after={"a": 1})
        b = record_change(actor=world.admin, kind="x", obj_id=1, label="x", before={"active": True}, after={"active": False})
        c = record_change(actor=world.admin, kind="x", obj_id=1, label="x", before={"active": False}, after={"active": True})
        d = record_change(actor=world.admin, kind="x", obj_id=1, label="x", before={"a": 1}, after={"a": 2})
        e = record_change(actor=None, kind="x", obj_id=1, label="x", before={"a": 1}, after=None)
    assert [r.action for r in (a, b, c, d, e)] == ["created", "deactivated", "activated", "updated", "deleted"]
    assert e.actor is None


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_run_outside_a_transaction(world):
    with pytest.raises(RuntimeError):
        record_change(actor=world.admin, kind="x", obj_id=1, label="x", before=None, after={"a": 1})
    assert not AuditRecord.objects.exists()


@pytest.mark.django_db
def test_records_are_append_only(world):
    with transaction.atomic():
        r = record_change(actor=world.admin, kind="x", obj_id=1, label="x", before=None, after={"a": 1})
    with pytest.raises(TypeError):
        r.save()
    with pytest.raises(TypeError):
        r.delete()
    with pytest.raises(TypeError):
        AuditRecord.objects.all().update(label="y")
    with pytest.raises(TypeError):
        AuditRecord.objects.all().delete()
