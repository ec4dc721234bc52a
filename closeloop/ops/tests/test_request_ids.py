"""One request id per request, carried into the timeline events, outbox rows and deliveries it
causes and into the worker's log lines while it handles them; plain or JSON log lines."""

import json
import logging

import pytest
from django.core.management import call_command

from closeloop.core import logs, requestid
from closeloop.notify.models import Delivery
from closeloop.outbox.models import OutboxMessage
from closeloop.workorders.models import TimelineEvent
from closeloop.workorders.tests.factories import make_wo

RID = "req-4f1c-assign"


@pytest.mark.django_db(transaction=True)
def test_what_a_request_causes_carries_its_id_through_the_worker(world):
    wo = make_wo(world)
    c = world.api(world.dispatcher)
    r = c.post(f"/api/v1/work-orders/{wo.code}/actions/assign", {"assignee": "eng_x"}, headers={"X-Request-ID": RID})
    assert r.status_code == 200, r.content
    assert r["X-Request-ID"] == RID
    events = TimelineEvent.objects.filter(work_order=wo)
    assert events.exists() and set(events.values_list("request_id", flat=True)) == {RID}
    assert set(OutboxMessage.objects.values_list("request_id", flat=True)) == {RID}

    call_command("worker", "--until-idle", "--id", "rid-worker")
    deliveries = Delivery.objects.filter(work_order=wo)
    assert deliveries.exists()
    assert set(deliveries.values_list("request_id", flat=True)) == {RID}
    # the rows the worker wrote while fanning out carry the id too
    assert set(OutboxMessage.objects.values_list("request_id", flat=True)) == {RID}
    assert set(TimelineEvent.objects.filter(work_order=wo).values_list("request_id", flat=True)) == {RID}


def test_the_worker_handles_a_message_under_its_request_id(db):
    from closeloop.outbox import services as outbox

    seen = []

    def handler(msg):
        seen.append(requestid.current())
        logging.getLogger("closeloop.ops.test").warning("handling %s", msg.key)

    outbox.register("ops-rid", handler)
    try:
        with requestid.bind("from-a-request"):
            outbox.enqueue("ops-rid", "r1", {})
        outbox.enqueue("ops-rid", "r2", {})  # outside any request
        records = []
        h = _ListHandler(records)
        logging.getLogger("closeloop.ops.test").addHandler(h)
        try:
            while outbox.handle_one_outbox("w"):
                pass
        finally:
            logging.getLogger("closeloop.ops.test").removeHandler(h)
    finally:
        outbox.unregister("ops-rid")
    assert seen == ["from-a-request", ""]
    assert [r.request_id for r in records] == ["from-a-request", ""]
    assert requestid.current() == ""


class _ListHandler(logging.Handler):
    def __init__(self, records):
        super().__init__()
        self.records = records
        self.addFilter(logs.RequestIdFilter())

    def emit(self, record):
        self.records.append(record)


def _log_record(msg="outbox %s delivery failed", args=("k",), exc=None):
    record = logging.LogRecord("closeloop.outbox.services", logging.WARNING, __file__, 1, msg, args, exc)
    logs.RequestIdFilter().filter(record)
    return record


def test_plain_lines_name_the_request_id_when_there_is_one(settings):
    spec = settings.LOGGING["formatters"]["plain"]
    fmt = logging.Formatter(spec["format"], spec.get("datefmt"))
    with requestid.bind("abc123"):
        line = fmt.format(_log_record())
    assert line.endswith("WARNING closeloop.outbox.services [abc123]: outbox k delivery failed")
    assert fmt.format(_log_record()).endswith("WARNING closeloop.outbox.services: outbox k delivery failed")


def test_json_lines(settings):
    fmt = logs.JsonFormatter()
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        exc = sys.exc_info()
    with requestid.bind("abc123"):
        out = json.loads(fmt.format(_log_record(exc=exc)))
    assert out["level"] == "WARNING" and out["logger"] == "closeloop.outbox.services"
    assert out["message"] == "outbox k delivery failed" and out["request_id"] == "abc123"
    assert out["time"].endswith("Z") and "ValueError: boom" in out["exc"]
    assert "request_id" not in json.loads(fmt.format(_log_record()))


def test_json_is_chosen_by_the_environment():
    import os
    import subprocess
    import sys

    code = ("import django, logging; django.setup(); from closeloop.core import requestid; "
            "requestid._current.set('env-rid'); logging.getLogger('closeloop.x').warning('hello %s', 'там')")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "closeloop.settings", "CLOSELOOP_LOG_FORMAT": "json"}
    err = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         check=True).stderr
    line = json.loads(err.strip().splitlines()[-1])
    assert line["message"] == "hello там" and line["request_id"] == "env-rid"
