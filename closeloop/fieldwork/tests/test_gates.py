"""Closure gates and signatures at the service level."""

import pytest

from closeloop.core.errors import Conflict, DomainError, Forbidden, ValidationFailed
from closeloop.fieldwork import gates, services
from closeloop.fieldwork.models import Photo
from closeloop.workorders import services as wo_services
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import WorkOrder
from closeloop.workorders.tests.factories import make_wo

from .helpers import gate_policy, png


def _fake_photo(wo, user, kind="nameplate"):
    from closeloop.core.clock import now

    return Photo.objects.create(work_order=wo, kind=kind, file="photos/x.jpg", width=1, height=1, size=1, sha256="x",
                                original_sha256="x", uploaded_by=user, created_at=now())


def _technical(world, wo):
    wo.status = S.IN_PROGRESS
    services.do_submit_closure_form(actor=world.eng_x, wo=wo, data={"temperature": 180, "pressure": "8.5"})
    services.do_record_step(actor=world.eng_x, wo=wo, index=0, result="pass")
    services.do_record_step(actor=world.eng_x, wo=wo, index=1, result="pass")
    _fake_photo(wo, world.eng_x)


def test_close_refused_naming_missing_gates_then_allowed(world):
    gate_policy(world.repair)
    wo = make_wo(world, status=S.INVOICED, invoice_number="")
    with pytest.raises(DomainError) as e:
        wo_services.do_transition(actor=world.dispatcher, wo=wo, action="close")
    assert e.value.status == 409 and e.value.code == "gates_not_passed"
    assert {p.field for p in e.value.problems} == {"gates.technical", "gates.delivery", "gates.financial"}
    # Labels, not keys: the photo kind "nameplate" is 铭牌 (the form field's label 模温).
    assert "铭牌" in str(e.value) and "nameplate" not in str(e.value) and "模温" in str(e.value)
    assert WorkOrder.objects.get(pk=wo.pk).status == S.INVOICED


def test_full_gate_path_and_auto_close(world):
    gate_policy(world.repair, auto_close=True)
    wo = make_wo(world, status=S.IN_PROGRESS)
    _technical(world, wo)
    wo = WorkOrder.objects.get(pk=wo.pk)
    wo_services.do_transition(actor=world.eng_x, wo=wo, action="complete", data={"resolution": "更换压缩机"})
    tech = {g.gate: g for g in gates.evaluate(wo)}
    assert tech["technical"].passed and tech["technical"].by == "eng_x"
    assert not tech["delivery"].passed
    sig = services.do_sign_and_confirm(wo, signer_name="王护士", image_png=png(1), version=wo.version,
                                       actor=world.eng_x)
    wo = WorkOrder.objects.get(pk=wo.pk)
    assert wo.status == S.CONFIRMED and sig.version == wo.version - 1
    wo_services.do_transition(actor=world.finance, wo=wo, action="invoice", data={"invoice_number": "INV-1"})
    wo = WorkOrder.objects.get(pk=wo.pk)
    assert wo.status == S.CLOSED
    assert all(g.passed for g in gates.evaluate(wo))


def test_signature_stale_version_and_replay_refused(world):
    gate_policy(world.repair)
    wo = make_wo(world, status=S.RESOLVED, resolution="修好了")
    other = make_wo(world, status=S.RESOLVED, resolution="修好了")
    with pytest.raises(Conflict) as e:
        services.do_record_signature(wo, signer_name="王", image_png=png(2), version=wo.version + 1)
    assert e.value.extra["field"] == "version"
    image = png(3)
    services.do_record_signature(wo, signer_name="王", image_png=image, version=wo.version)
    with pytest.raises(Conflict) as e:
        services.do_record_signature(other, signer_name="王", image_png=image, version=other.version)
    assert e.value.extra["field"] == "image_png"


def test_edit_after_signing_voids_delivery_gate(world):
    gate_policy(world.repair, required_photos=[], checklist=[], form_fields=[])
    wo = make_wo(world, status=S.RESOLVED, resolution="修好了")
    services.do_record_signature(wo, signer_name="王", image_png=png(4), version=wo.version)
    assert {g.gate: g.passed for g in gates.evaluate(wo)}["delivery"]
    wo_services.do_update_work_order(actor=world.dispatcher, wo=wo, data={"title": "改过的标题"})
    wo = WorkOrder.objects.get(pk=wo.pk)
    d = {g.gate: g for g in gates.evaluate(wo)}["delivery"]
    assert not d.passed and len(d.missing) == 1
    # The old version cannot be signed again either.
    with pytest.raises(Conflict):
        services.do_record_signature(wo, signer_name="王", image_png=png(5), version=wo.version - 1)


def test_bad_signature_inputs(world):
    wo = make_wo(world, status=S.RESOLVED)
    for image, code in ((b"GIF89a....", "type"), (b"", "required"), (b"\x89PNG\r\n\x1a\n garbage", "invalid")):
        with pytest.raises(ValidationFailed) as e:
            services.do_record_signature(wo, signer_name="王", image_png=image, version=wo.version)
        assert e.value.problems[0].field == "image_png" and e.value.problems[0].code == code
    with pytest.raises(ValidationFailed) as e:
        services.do_record_signature(wo, signer_name="", image_png=png(6), version=wo.version)
    assert e.value.problems[0].field == "signer_name"
    with pytest.raises(Forbidden):
        services.do_record_signature(wo, signer_name="王", image_png=png(7), version=wo.version, actor=world.eng_y)
    with pytest.raises(Forbidden):
        services.do_record_signature(wo, signer_name="王", image_png=png(7), version=wo.version, actor=world.cust_b)
    sig = services.do_record_signature(wo, signer_name="王", image_png=png(7), version=wo.version,
                                       actor=world.cust_a, via="portal")
    assert sig.via == "portal"


def test_closure_form_validation(world):
    gate_policy(world.repair)
    wo = make_wo(world, status=S.IN_PROGRESS)
    with pytest.raises(ValidationFailed) as e:
        services.do_submit_closure_form(actor=world.eng_x, wo=wo, data={"temperature": 999, "colour": "red"})
    fields = {p.field: p.code for p in e.value.problems}
    assert fields == {"colour": "unknown", "temperature": "range", "pressure": "required"}
    with pytest.raises(Forbidden):
        services.do_submit_closure_form(actor=world.eng_y, wo=wo, data={"temperature": 1, "pressure": 1})


def test_failed_step_opens_followup(world):
    gate_policy(world.repair)
    wo = make_wo(world, status=S.ON_SITE, asset=world.asset_a)
    step = services.do_record_step(actor=world.eng_x, wo=wo, index=1, result="fail", note="漏气", followup=True)
    assert step.followup is not None and step.followup.asset_id == world.asset_a.pk
    assert step.followup.links_out.filter(target=wo, kind="parent").exists()
    with pytest.raises(ValidationFailed):
        services.do_record_step(actor=world.eng_x, wo=wo, index=9, result="pass")


def test_repeat_within_30_days_links(world, time_machine):
    time_machine.move_to("2026-11-01 10:00:00+08:00")
    first = wo_services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "报警", "customer": "org-a", "asset": "SN-A-1"})
    time_machine.move_to("2026-11-20 10:00:00+08:00")
    second = wo_services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "又报警", "customer": "org-a", "asset": "SN-A-1"})
    assert second.links_out.filter(kind="repeat", target=first).exists()
    time_machine.move_to("2026-12-25 10:00:00+08:00")
    third = wo_services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "故障码", "customer": "org-a", "fault_code": "E12"})
    assert not third.links_out.filter(kind="repeat").exists()
    fourth = wo_services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "故障码 again", "customer": "org-a", "fault_code": "E12"})
    assert fourth.links_out.filter(kind="repeat", target=third).exists()
    other_org = wo_services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "故障码", "customer": "org-b", "fault_code": "E12"})
    assert not other_org.links_out.exists()


def test_field_work_after_signing_voids_the_signature_and_bumps_the_version(world):
    gate_policy(world.repair, required_photos=[], checklist=[], form_fields=[])
    wo = make_wo(world, status=S.RESOLVED, resolution="修好了")
    shown = wo.version
    services.do_record_signature(wo, signer_name="王", image_png=png(40), version=shown)
    services.do_add_part(actor=world.eng_x, wo=wo, name="保险丝", quantity=2)
    wo = WorkOrder.objects.get(pk=wo.pk)
    assert wo.version == shown + 1
    assert not {g.gate: g for g in gates.evaluate(wo)}["delivery"].passed
    with pytest.raises(Conflict):
        services.do_record_signature(wo, signer_name="王", image_png=png(41), version=shown)
    services.do_record_signature(wo, signer_name="王", image_png=png(41), version=wo.version)
    assert {g.gate: g for g in gates.evaluate(wo)}["delivery"].passed


def test_failed_step_follow_up_copies_required_values_or_names_them_and_keeps_the_step(world):
    """Issue 15: opening a follow-up failed when its type has required fields, and the failed
    step was lost with it."""
    from closeloop.fieldwork.models import StepResult
    from closeloop.workorders.models import CustomField, TimelineEvent

    gate_policy(world.repair)
    wo = make_wo(world, status=S.ON_SITE, asset=world.asset_a, custom={"bed": "12"})
    CustomField.objects.create(wo_type=world.repair, key="bed", label="床号", kind="text", required=True)
    # The parent's values are copied: the follow-up opens.
    step = services.do_record_step(actor=world.eng_x, wo=wo, index=1, result="fail", note="漏气", followup=True)
    assert step.followup is not None and step.followup.custom == {"bed": "12"}
    # A required field the parent has no value for: the step is recorded, the 422 names the field.
    CustomField.objects.create(wo_type=world.repair, key="department", label="科室", kind="text", required=True)
    api = world.api(world.eng_x)
    r = api.post(f"/api/v1/work-orders/{wo.code}/steps", {"index": 0, "result": "fail", "followup": True})
    assert r.status_code == 422, r.content
    body = r.json()
    assert [e["field"] for e in body["errors"]] == ["followup_custom.department"]
    assert body["step_recorded"] is True and "custom.department" in body["title"]
    s0 = StepResult.objects.get(work_order=wo, index=0)
    assert s0.result == "fail" and s0.followup is None
    ev = TimelineEvent.objects.filter(work_order=wo, kind="gate", data__index=0).last()
    assert ev.data["followup_missing"] == ["custom.department"]
    # Asked and given: the follow-up opens, the step now links it.
    r = api.post(f"/api/v1/work-orders/{wo.code}/steps", {"index": 0, "result": "fail", "followup": True,
                                                          "followup_custom": {"department": "ICU"}})
    assert r.status_code == 201 and r.json()["followup"]
    child = WorkOrder.objects.get(code=r.json()["followup"])
    assert child.custom == {"bed": "12", "department": "ICU"}


def test_a_repeat_by_asset_or_fault_code_links_to_the_newer_of_the_two(world, time_machine):
    """One query per condition since the repeat indexes: the newest work order of either wins, a
    cancelled one never does, and both timelines say so."""
    from closeloop.workorders.models import TimelineEvent

    def create(day, **data):
        time_machine.move_to(f"2026-11-{day:02d} 10:00:00+08:00")
        return wo_services.do_create_work_order(actor=world.dispatcher, data={
            "type": "repair", "title": "报警", "customer": "org-a", **data})

    by_asset = create(1, asset="SN-A-1")
    by_fault = create(3, fault_code="E7")
    cancelled = create(4, fault_code="E7")
    wo_services.do_transition(actor=world.dispatcher, wo=cancelled, action="cancel", data={"reason": "重复"})
    both = create(5, asset="SN-A-1", fault_code="E7")
    assert list(both.links_out.filter(kind="repeat").values_list("target", flat=True)) == [by_fault.pk]
    assert TimelineEvent.objects.filter(work_order=by_fault, kind="link", data__source=both.code).exists()
    later_asset = create(6, asset="SN-A-1")
    newest = create(7, asset="SN-A-1", fault_code="E7")
    assert list(newest.links_out.filter(kind="repeat").values_list("target", flat=True)) == [later_asset.pk]
    assert by_asset.pk != later_asset.pk


def test_the_repeat_lookups_read_their_indexes(world):
    """By asset and by fault code, each from its (…, created_at, id) index, newest first: no scan
    of every work order of the asset and no sort (at 1M an asset had up to 8,000). The plan is read
    on SQLite, which has no statistics on an installation (nothing runs ANALYZE) and so plans the
    same way everywhere; PostgreSQL's planner goes by the statistics of the moment (on the few rows
    of a test database it may combine two indexes and sort one row), so there only the two lookups
    are checked."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as q:
        wo_services.do_create_work_order(actor=world.dispatcher, data={
            "type": "repair", "title": "报警", "customer": "org-a", "asset": "SN-A-1", "fault_code": "E7"})
    lookups = [x["sql"] for x in q.captured_queries
               if x["sql"].startswith("SELECT") and "'cancelled'" in x["sql"] and "created_at" in x["sql"]]
    assert len(lookups) == 2
    if connection.vendor != "sqlite":
        return
    for sql, index in zip(lookups, ("wo_asset_created", "wo_fault_created"), strict=True):
        with connection.cursor() as cur:
            cur.execute("EXPLAIN QUERY PLAN " + sql)
            plan = " ".join(str(r) for r in cur.fetchall())
        assert index in plan and "TEMP B-TREE" not in plan, plan
