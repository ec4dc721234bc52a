"""A type's required photo and signature fields (the form designer's) are closure gates of their own:
the close is refused naming each missing field by its label, with or without a closure policy; an
optional or removed field asks for nothing."""

import pytest

from closeloop.core.errors import DomainError
from closeloop.fieldwork import gates, services
from closeloop.workorders import services as wo_services
from closeloop.workorders import types_services
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import WorkOrder
from closeloop.workorders.tests.factories import make_wo

from .helpers import gate_policy, png
from .test_gates import _fake_photo


def _fields(world, *, photo_required=True, signature_required=True):
    photo = types_services.do_create_field(
        actor=world.admin,
        wo_type=world.repair,
        data={"key": "plate_photo", "label": "铭牌照片", "kind": "photo", "required": photo_required},
    )
    sig = types_services.do_create_field(
        actor=world.admin,
        wo_type=world.repair,
        data={"key": "acceptance", "label": "验收签字", "kind": "signature", "required": signature_required},
    )
    return photo, sig


def _fresh(wo):
    return WorkOrder.objects.get(pk=wo.pk)


def test_required_photo_and_signature_fields_block_the_close_naming_each_field(world):
    _fields(world)
    wo = make_wo(world, status=S.INVOICED, invoice_number="INV-1")
    with pytest.raises(DomainError) as e:
        wo_services.do_transition(actor=world.dispatcher, wo=wo, action="close")
    assert e.value.status == 409 and e.value.code == "gates_not_passed"
    assert {p.field for p in e.value.problems} == {"gates.technical", "gates.delivery"}
    assert "铭牌照片" in str(e.value) and "验收签字" in str(e.value)
    missing = {g.gate: g.missing for g in gates.evaluate(wo)}
    assert [len(missing["technical"]), len(missing["delivery"])] == [1, 1]
    assert "铭牌照片" in missing["technical"][0] and "验收签字" in missing["delivery"][0]
    assert _fresh(wo).status == S.INVOICED


def test_the_photo_comes_before_the_signature_then_the_close_passes(world):
    _fields(world)
    wo = make_wo(world, status=S.RESOLVED, resolution="更换传感器", contact=world.contact_a)
    # The customer's signature confirms: not before the required photo is taken (it could not be later).
    with pytest.raises(DomainError) as e:
        services.do_sign_and_confirm(
            wo, signer_name="王护士", image_png=png(1), version=wo.version, actor=world.eng_x
        )
    assert "铭牌照片" in str(e.value)
    assert _fresh(wo).status == S.RESOLVED
    _fake_photo(wo, world.eng_x, kind="plate_photo")
    wo = _fresh(wo)
    services.do_sign_and_confirm(
        wo, signer_name="王护士", image_png=png(1), version=wo.version, actor=world.eng_x
    )
    wo = _fresh(wo)
    assert wo.status == S.CONFIRMED
    assert all(g.passed for g in gates.evaluate(wo))
    wo_services.do_transition(actor=world.finance, wo=wo, action="invoice", data={"invoice_number": "INV-7"})
    wo_services.do_transition(actor=world.dispatcher, wo=_fresh(wo), action="close")
    assert _fresh(wo).status == S.CLOSED


def test_optional_or_removed_evidence_fields_ask_for_nothing(world):
    photo, sig = _fields(world, photo_required=False, signature_required=False)
    wo = make_wo(world, status=S.INVOICED, invoice_number="INV-1")
    assert gates.evaluate(wo) == []
    types_services.do_update_field(actor=world.admin, field=photo, data={"required": True})
    assert [g.gate for g in gates.evaluate(_fresh(make_wo(world, status=S.INVOICED)))] == ["technical"]
    types_services.do_remove_field(actor=world.admin, field=photo)  # nobody filled it in: deleted
    wo = _fresh(make_wo(world, status=S.INVOICED, invoice_number="INV-2"))
    wo_services.do_transition(actor=world.dispatcher, wo=wo, action="close")
    assert _fresh(wo).status == S.CLOSED


def test_with_a_policy_the_fields_add_to_its_gates(world):
    """A policy without the signature gate: a required signature field brings the signature gate and
    the customer's confirmation step; a policy's photo kind and a field of the same key count once."""
    gate_policy(
        world.repair,
        require_signature=False,
        require_invoice=False,
        checklist=[],
        form_fields=[],
        required_photos=["plate_photo"],
    )
    _fields(world)
    wo = make_wo(world, status=S.RESOLVED, resolution="x")
    by_gate = {g.gate: g for g in gates.evaluate(wo)}
    assert len(by_gate["technical"].missing) == 1  # plate_photo: the policy's kind and the field, once
    assert len(by_gate["delivery"].missing) == 1 and "验收签字" in by_gate["delivery"].missing[0]
    assert gates.close_steps(wo) == ("confirm",)
    with pytest.raises(DomainError):
        wo_services.do_transition(actor=world.admin, wo=wo, action="close")


def test_the_api_and_the_work_order_page_show_the_field_gates(world):
    _fields(world)
    wo = make_wo(world, status=S.RESOLVED, resolution="x")
    c = world.browser_client(world.dispatcher)
    body = c.get(f"/api/v1/work-orders/{wo.code}/gates").json()
    assert body["all_passed"] is False
    missing = [g["missing"] for g in body["gates"]]
    assert len(missing) == 2 and "铭牌照片" in missing[0][0] and "验收签字" in missing[1][0]
    page = c.get(f"/work-orders/{wo.code}/").content.decode()
    assert "铭牌照片" in page and "验收签字" in page
