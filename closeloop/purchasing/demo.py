"""Purchasing part of the demo (a scenario, demo/scenarios.py): 12 traction-machine encoders
of batch B-2020-03 at 申城电梯维保, 3 of them past 5 years; a batch-age rule; an approval flow
for purchases (a manager; above 3,000 also finance); consolidation makes ONE request for
the 3 encoders, waiting for the manager's approval (with the reorder and forecast requests
the other sources make)."""

from datetime import timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, User
from closeloop.approvals import services as approvals
from closeloop.core.clock import now
from closeloop.customers.models import Asset, Customer, Site
from closeloop.parts.models import Part

from . import services
from .models import BatchAgeRule, PurchaseRequest

ORDER = 80  # after maintenance's plans (their forecast), before analytics
BATCH = "B-2020-03"


def seed() -> str | None:
    manager = User.objects.filter(role=Role.MANAGER, is_active=True).order_by("id").first()
    part = Part.objects.filter(number="ENC-GEN2").first()
    if manager is None or part is None or BatchAgeRule.objects.exists():
        return None
    today = now().date()
    with transaction.atomic():
        cust, _c = Customer.objects.get_or_create(code="sh-lift", defaults={"name": "申城电梯维保"})
        site, _s = Site.objects.get_or_create(code="sh-lift-xh", defaults={"customer": cust, "name": "徐汇花园小区"})
        for i in range(12):
            installed = today - timedelta(days=int(365.25 * 5.5)) if i < 3 else today - timedelta(days=365 * 3 + i)
            Asset.objects.get_or_create(serial_number=f"ENC-{BATCH}-{i + 1:02d}", defaults={
                "customer": cust, "site": site, "name": f"{i + 1}号梯曳引机编码器", "category": "编码器",
                "manufacturer": "华锐", "model": "ENC-GEN2", "batch": BATCH, "install_date": installed})
        BatchAgeRule.objects.create(name="编码器满 5 年更换", batch=BATCH, years=5, part=part, quantity=1, created_at=now())
        if approvals.flow_for(services.purchase_type().pk, services.ACTION) is None:
            flow = approvals.do_create_flow(actor=manager, data={
                "name": "备件采购审批", "action": services.ACTION, "tree": {"settings": {}, "auto_approve": [], "nodes": [
                    {"id": "mgr", "type": "approver", "name": "部门经理",
                     "approvers": {"kind": "role", "role": "manager"}},
                    {"id": "amount", "type": "condition", "name": "金额", "branches": [
                        {"id": "big", "name": "超过 3000", "condition": "amount > 3000", "nodes": [
                            {"id": "fin", "type": "approver", "name": "财务",
                             "approvers": {"kind": "role", "role": "finance"}}]},
                        {"id": "small", "name": "其他", "default": True, "nodes": []}]}]}})
            approvals.do_publish(actor=manager, flow=flow)
    made = services.do_consolidate(actor=manager)
    age = PurchaseRequest.objects.filter(source="age").first()
    if age is None:
        return _("Purchasing: %(n)d purchase requests consolidated.") % {"n": len(made)}
    return _("Purchasing: 3 of the 12 encoders of batch %(batch)s are past 5 years: one request %(code)s for "
             "%(qty)s encoders (%(amount)s), %(status)s; %(n)d requests in all.") % {
        "batch": BATCH, "code": age.work_order.code, "qty": f"{age.lines.get().quantity.normalize():f}",
        "amount": age.amount, "status": services.status_of(age), "n": len(made)}
