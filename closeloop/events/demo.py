"""Demo scenario for events: a CRM and an ERP connected (their tokens printed once), one CRM
request opened by its own id and one ERP delivery date on it, both on the timeline."""

ORDER = 80  # after the work orders of the other scenarios (maintenance: 70), before analytics


def seed() -> str | None:
    from closeloop.accounts.models import Role, User
    from closeloop.core.clock import now
    from closeloop.workorders.models import WorkOrderType

    from . import inbound, services
    from .models import ConnectedSystem

    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id").first()
    # A type whose form the CRM can fill (no required custom field).
    wo_type = (WorkOrderType.objects.filter(active=True, kind="repair")
               .exclude(fields__required=True, fields__active=True).order_by("id").first())
    if admin is None or wo_type is None or ConnectedSystem.objects.exists():
        return None
    crm, crm_token, _ = services.do_create_system(actor=admin, data={
        "key": "crm", "name": "CRM（演示）", "scopes": ["crm"], "default_type": wo_type.key})
    erp, erp_token, _ = services.do_create_system(actor=admin, data={"key": "erp", "name": "ERP（演示）",
                                                                     "scopes": ["erp"]})
    t = now()
    wo, _outcome = inbound.HANDLERS["request.upsert"](crm, {
        "external_id": "OPP-2026-0042", "title": "服务器电源故障，客户来电", "priority": "high"}, t)
    inbound.HANDLERS["purchase.updated"](erp, {
        "work_order": wo.code, "purchase_id": "PO-2026-118", "status": "ordered",
        "delivery_date": (t.date().replace(day=min(t.day, 28))).isoformat(),
        "items": [{"part_number": "PSU-750W", "name": "冗余电源模块", "quantity": 1, "in_stock": 0}]}, t)
    return (f"events: CRM and ERP connected (Settings → Connected systems); CRM opened {wo.code} by its id "
            f"OPP-2026-0042. Demo tokens: crm {crm_token}  erp {erp_token}")
