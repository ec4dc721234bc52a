"""Demo: connected systems (a scenario, demo/scenarios.py).

A CRM and an ERP on `closeloop fake_systems` (http://127.0.0.1:8026/, which `closeloop serve`
starts in a demo), asked by the work order's external refs ("crm", "erp"); a third, slow
system is configured but off (turn it on in Settings → Connected systems to watch a system
that does not answer in time). One work order with a check-in gets a CRM and an ERP id, so
its lookup shows all three side by side.

The URLs are loopback addresses, which the SSRF guard refuses unless allowed: `make demo`
adds 127.0.0.1:8026 to CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST. The rows are written directly (the
config check would refuse them without that allow-list); every connection is still checked."""

from django.db import transaction

ORDER = 75  # after maintenance (70), before events (80)
BASE = "http://127.0.0.1:8026"


def seed() -> str:
    from closeloop.accounts.models import User
    from closeloop.core.clock import now
    from closeloop.fieldwork.models import CheckIn
    from closeloop.workorders.models import ExternalRef
    from closeloop.workorders.services import do_add_external_ref

    from . import crypto
    from .models import Connector

    t = now()
    admin = User.objects.filter(username="admin").first()
    with transaction.atomic():
        Connector.objects.bulk_create([
            Connector(key="crm", name="CRM", ref_system="crm", order=10, created_at=t, updated_at=t, updated_by=admin,
                      url_template=f"{BASE}/crm/opportunities/{{external_id}}",
                      link_template=f"{BASE}/crm/opportunities/{{external_id}}",
                      auth_header="Authorization", auth_secret=crypto.encrypt("Bearer demo-crm-token"),
                      fields=[{"path": "stage", "label": "商机阶段"}, {"path": "owner", "label": "客户经理"},
                              {"path": "last_message.text", "label": "最近沟通"},
                              {"path": "last_message.at", "label": "沟通时间"}]),
            Connector(key="erp", name="ERP", ref_system="erp", order=20, created_at=t, updated_at=t, updated_by=admin,
                      url_template=f"{BASE}/erp/purchases/{{external_id}}",
                      fields=[{"path": "status", "label": "采购状态"}, {"path": "delivery.promised", "label": "承诺交期"},
                              {"path": "lines[0].name", "label": "备件"}, {"path": "delivery.tracking", "label": "运单号"}]),
            Connector(key="legacy", name="旧资产系统 (演示: 响应慢)", enabled=False, order=30, created_at=t, updated_at=t,
                      updated_by=admin, url_template=f"{BASE}/slow/{{code}}", timeout_ms=1500,
                      fields=[{"path": "note", "label": "备注"}]),
        ])
    ci = (CheckIn.objects.filter(latitude__isnull=False).select_related("work_order").order_by("-at").first()
          or CheckIn.objects.select_related("work_order").order_by("-at").first())
    wo = ci.work_order if ci else None
    if wo is None:
        wo = ExternalRef.objects.filter(system="crm").select_related("work_order").first()
        wo = wo.work_order if wo else None
    if wo is None:
        return "connectors: CRM and ERP on closeloop fake_systems (no work order to show them on)"
    have = set(wo.external_refs.values_list("system", flat=True))
    dispatcher = User.objects.get(username="dispatcher")
    for system, ident in (("crm", f"CRM-{60010000 + wo.pk}"), ("erp", f"PO-{45010000 + wo.pk}")):
        if system not in have:
            do_add_external_ref(actor=dispatcher, wo=wo, system=system, external_id=ident)
    return (f"connectors: CRM and ERP on closeloop fake_systems ({BASE}/); look up {wo.code} to see them "
            "beside its check-in")
