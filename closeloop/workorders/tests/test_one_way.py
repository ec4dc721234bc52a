"""One way to do each thing: the timeline writer and the public transition function are the
only ways in, for every app (issue 13). The scans fail when a new private path appears."""

import re
from pathlib import Path

import pytest
from django.db import transaction

from closeloop.core.clock import now
from closeloop.core.errors import Conflict
from closeloop.workorders import timeline
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import TimelineEvent
from closeloop.workorders.services import apply_transition

from .factories import make_wo

ROOT = Path(__file__).resolve().parents[2]  # closeloop/


def _sources():
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts or path == Path(__file__).resolve():
            continue
        yield path, path.read_text(encoding="utf-8")


def test_timeline_rows_are_written_only_by_the_timeline_module():
    writes = re.compile(r"TimelineEvent\.objects\.(create|bulk_create|get_or_create|update_or_create)\b"
                        r"|(?<!class )\bTimelineEvent\(")
    found = [f"{p.relative_to(ROOT)}:{src[:m.start()].count(chr(10)) + 1}"
             for p, src in _sources() if p.name != "timeline.py" for m in writes.finditer(src)]
    assert found == []


def test_no_private_timeline_helpers_or_transition_imports_across_apps():
    private = re.compile(r"\bdef _(event|record)\(|\b_apply_transition\b")
    found = [str(p.relative_to(ROOT)) for p, src in _sources()
             if private.search(src) and p.relative_to(ROOT).as_posix() != "workorders/services.py"]
    assert found == []


def test_append_event_defaults_and_batch_order(world):
    wo = make_wo(world)
    before = now()
    ev = timeline.append_event(wo, TimelineEvent.Kind.COMMENT, data={"body": "x"})
    assert ev.pk and ev.actor is None and ev.public is False and ev.at >= before and ev.data == {"body": "x"}
    evs = timeline.append_events([timeline.new_event(wo.pk, "rule", actor=world.dispatcher.pk, data={"n": i})
                                  for i in range(3)])
    assert len(evs) == 3
    rows = list(TimelineEvent.objects.filter(work_order=wo, kind="rule").values_list("data", "actor_id"))
    assert rows == [({"n": i}, world.dispatcher.pk) for i in range(3)]


def test_timeline_text_is_in_the_deployment_language(world, settings):
    from django.utils import translation
    from django.utils.translation import gettext as _

    settings.LANGUAGE_CODE = "zh-hans"
    with translation.override("en"):
        assert timeline.text(lambda: _("Closed")) == "已关闭"


def test_apply_transition_checks_the_state_and_records_who_caused_it(world):
    wo = make_wo(world, status=S.ASSIGNED)
    with transaction.atomic():
        with pytest.raises(Conflict):
            apply_transition(actor=None, wo=wo, action="close")
        apply_transition(actor=None, wo=wo, action="accept", data={"note": "automatic"})
    wo.refresh_from_db()
    assert wo.status == S.ACCEPTED
    ev = TimelineEvent.objects.filter(work_order=wo).last()
    assert (ev.kind, ev.action, ev.actor_id, ev.data["note"]) == ("transition", "accept", None, "automatic")
