"""Issue 15, dead ends of the closing path: every state has a way forward, through the API and
the console alike.

- A type requiring a closure form could be completed, confirmed and invoiced without it, and
  then never closed, reopened or cancelled (the form is refused after the confirmation). Now
  the technical gate is checked before the steps that make it unfixable (confirm, invoice),
  and an administrator can always close with a recorded reason (override_close).
- A type whose gates need no signature and no invoice still forced confirm and invoice: now
  the lifecycle follows the type's gates (resolved → closed).
- Closing before the invoice gave a generic state error: now the open gate is named.
"""

import pytest
from django.utils import translation

from closeloop.audit.models import AuditRecord
from closeloop.core.errors import DomainError
from closeloop.fieldwork import services
from closeloop.workorders import permissions
from closeloop.workorders import services as wo_services
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import TimelineEvent, WorkOrder
from closeloop.workorders.tests.factories import make_wo

from .helpers import gate_policy, png

pytestmark = pytest.mark.django_db


def _form_only(world, **kw):
    return gate_policy(world.repair, required_photos=[], checklist=[], **kw)


def test_confirm_and_invoice_wait_for_the_closure_form(world):
    _form_only(world)
    wo = make_wo(world, status=S.RESOLVED, resolution="修好了")
    r = world.api(world.dispatcher).post(f"/api/v1/work-orders/{wo.code}/actions/confirm", {})
    assert r.status_code == 409, r.content
    body = r.json()
    assert body["type"].endswith("/gates_not_passed") and body["gates"] == ["technical"]
    assert body["open_gates"][0]["gate"] == "technical" and body["open_gates"][0]["label"]
    assert "模温" in body["title"] and WorkOrder.objects.get(pk=wo.pk).status == S.RESOLVED
    # The customer's signature confirms: refused too, so the form can still be filled in.
    with pytest.raises(DomainError) as e:
        services.do_sign_and_confirm(wo, signer_name="王护士", image_png=png(11), version=wo.version,
                                     actor=world.eng_x)
    assert e.value.code == "gates_not_passed"
    wo = WorkOrder.objects.get(pk=wo.pk)
    assert wo.status == S.RESOLVED
    services.do_submit_closure_form(actor=world.eng_x, wo=wo, data={"temperature": 180, "pressure": 8})
    wo = WorkOrder.objects.get(pk=wo.pk)
    services.do_sign_and_confirm(wo, signer_name="王护士", image_png=png(12), version=wo.version, actor=world.eng_x)
    wo = WorkOrder.objects.get(pk=wo.pk)
    assert wo.status == S.CONFIRMED
    r = world.api(world.finance).post(f"/api/v1/work-orders/{wo.code}/actions/invoice", {"invoice_number": "FP-1"})
    assert r.status_code == 200, r.content
    r = world.api(world.dispatcher).post(f"/api/v1/work-orders/{wo.code}/actions/close", {})
    assert r.status_code == 200 and r.json()["status"] == S.CLOSED


def test_invoice_refused_while_the_form_is_missing(world):
    _form_only(world, require_signature=False)
    wo = make_wo(world, status=S.CONFIRMED, resolution="修好了")
    r = world.api(world.finance).post(f"/api/v1/work-orders/{wo.code}/actions/invoice", {"invoice_number": "FP-2"})
    assert r.status_code == 409 and r.json()["gates"] == ["technical"]
    assert WorkOrder.objects.get(pk=wo.pk).status == S.CONFIRMED


def test_an_invoiced_work_order_missing_its_form_has_an_admin_way_out(world):
    """Work orders already stuck (invoiced before the check existed): the administrator closes
    with a reason, recorded on the timeline and in the audit log; nobody else may."""
    _form_only(world)
    wo = make_wo(world, status=S.INVOICED, resolution="修好了", invoice_number="FP-3")
    assert "override_close" in [t.action for t in permissions.allowed_actions(world.admin, wo)]
    assert "override_close" not in [t.action for t in permissions.allowed_actions(world.manager, wo)]
    r = world.api(world.dispatcher).post(f"/api/v1/work-orders/{wo.code}/actions/close", {})
    assert r.status_code == 409 and "technical" in r.json()["gates"]
    r = world.api(world.manager).post(f"/api/v1/work-orders/{wo.code}/actions/override_close", {"reason": "x"})
    assert r.status_code == 403
    r = world.api(world.admin).post(f"/api/v1/work-orders/{wo.code}/actions/override_close", {})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = world.api(world.admin).post(f"/api/v1/work-orders/{wo.code}/actions/override_close",
                                    {"reason": "表单纸质存档, 扫描件见附件"})
    assert r.status_code == 200 and r.json()["status"] == S.CLOSED
    ev = TimelineEvent.objects.get(work_order=wo, action="override_close")
    assert ev.data["reason"] == "表单纸质存档, 扫描件见附件" and ev.actor == world.admin
    audit = AuditRecord.objects.get(kind="work_order_override")
    assert audit.label == wo.code and audit.actor == world.admin
    assert audit.after["reason"] == "表单纸质存档, 扫描件见附件"
    # The console offers it, and shows the reason's problem where the admin is.
    wo2 = make_wo(world, status=S.INVOICED, resolution="修好了", invoice_number="FP-4")
    c = world.browser_client(world.admin)
    page = c.get(f"/work-orders/{wo2.code}/").content.decode()
    assert "/actions/override_close" in page
    r = c.post(f"/work-orders/{wo2.code}/actions/override_close", {"reason": "已线下处理"}, follow=True)
    assert WorkOrder.objects.get(pk=wo2.pk).status == S.CLOSED


def test_a_type_without_signature_and_invoice_closes_from_resolved(world):
    gate_policy(world.repair, required_photos=[], checklist=[], form_fields=[], require_signature=False,
                require_invoice=False, auto_close=False)
    wo = make_wo(world, status=S.RESOLVED, resolution="远程处理")
    assert "close" in [t.action for t in permissions.allowed_actions(world.dispatcher, wo)]
    r = world.api(world.dispatcher).post(f"/api/v1/work-orders/{wo.code}/actions/close", {})
    assert r.status_code == 200 and r.json()["status"] == S.CLOSED
    # Signature but no invoice: from confirmed.
    world.repair.closure_policy.delete()
    gate_policy(world.repair, required_photos=[], checklist=[], form_fields=[], require_invoice=False)
    wo = make_wo(world, status=S.RESOLVED, resolution="修好了")
    assert "close" not in [t.action for t in permissions.allowed_actions(world.dispatcher, wo)]
    services.do_sign_and_confirm(wo, signer_name="王", image_png=png(13), version=wo.version, actor=world.eng_x)
    wo = WorkOrder.objects.get(pk=wo.pk)
    assert wo.status == S.CONFIRMED
    r = world.api(world.dispatcher).post(f"/api/v1/work-orders/{wo.code}/actions/close", {})
    assert r.status_code == 200 and r.json()["status"] == S.CLOSED


def test_auto_close_follows_the_last_step_the_type_needs(world):
    gate_policy(world.repair, required_photos=[], checklist=[], form_fields=[], require_signature=False,
                require_invoice=False, auto_close=True)
    wo = make_wo(world, status=S.IN_PROGRESS)
    wo_services.do_transition(actor=world.eng_x, wo=wo, action="complete", data={"resolution": "远程处理"})
    assert WorkOrder.objects.get(pk=wo.pk).status == S.CLOSED


def test_closing_before_the_invoice_names_the_gate(world):
    """Without closure gates (the whole lifecycle) and with them: 409 naming `financial`."""
    for with_policy in (False, True):
        if with_policy:
            gate_policy(world.repair, required_photos=[], checklist=[], form_fields=[], require_signature=False)
        wo = make_wo(world, status=S.CONFIRMED, resolution="修好了")
        with translation.override("en"):
            r = world.api(world.dispatcher).post(f"/api/v1/work-orders/{wo.code}/actions/close", {},
                                                 headers={"Accept-Language": "en"})
        assert r.status_code == 409, r.content
        body = r.json()
        assert r["Content-Type"].startswith("application/problem+json")
        assert body["type"].endswith("/gates_not_passed") and body["gates"] == ["financial"]
        assert body["open_gates"][0]["label"] == "Invoice number"
        assert body["errors"][0]["field"] == "gates.financial"
        assert "Invoice number" in body["title"]
    # In Chinese, and in the console the message names the gate where the user is.
    wo = make_wo(world, status=S.CONFIRMED, resolution="修好了")
    c = world.browser_client(world.dispatcher)
    r = c.post(f"/work-orders/{wo.code}/actions/close", {}, follow=True, headers={"Accept-Language": "zh-hans"})
    page = r.content.decode()
    assert "发票号" in page and "无法关闭" in page
    assert WorkOrder.objects.get(pk=wo.pk).status == S.CONFIRMED


def test_the_close_steps_of_a_page_full_of_work_orders_read_the_policy_once(world, django_assert_num_queries):
    """A board or list asks close_steps for every card: one policy read per type, not per card,
    and a saved policy is seen at once."""
    from closeloop.fieldwork import gates
    from closeloop.fieldwork.tests.helpers import gate_policy
    from closeloop.workorders.lifecycle import close_steps

    policy = gate_policy(world.repair, require_signature=False, require_invoice=False)
    cards = [WorkOrder(wo_type_id=world.repair.id, status=S.RESOLVED) for _ in range(30)]
    with django_assert_num_queries(1):
        assert {close_steps(wo) for wo in cards} == {()}
    policy.require_invoice = True
    policy.save()
    assert close_steps(cards[0]) == ("invoice",)
    gates.forget_close_steps()
