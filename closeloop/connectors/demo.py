"""Demo: connected systems (a scenario, demo/scenarios.py).

A CRM and an ERP on `closeloop fake_systems` (http://127.0.0.1:8026/, which `closeloop serve`
starts in a demo), asked by the work order's external refs ("crm", "erp"); a third, slow
system is configured but off (turn it on in Settings → Lookup connectors to watch a system
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
    wo = _showcase(User.objects.get(username="dispatcher"))
    if wo is None:
        return "connectors: CRM and ERP on closeloop fake_systems (no work order to show them on)"
    have = set(wo.external_refs.values_list("system", flat=True))
    dispatcher = User.objects.get(username="dispatcher")
    for system, ident in (("crm", f"CRM-{60010000 + wo.pk}"), ("erp", f"PO-{45010000 + wo.pk}")):
        if system not in have:
            do_add_external_ref(actor=dispatcher, wo=wo, system=system, external_id=ident)
    return (f"connectors: CRM and ERP on closeloop fake_systems ({BASE}/); look up {wo.code} to see them "
            "beside its check-in")


def _showcase(dispatcher):
    """A work order being worked on at a site with coordinates, checked in on site now (our own
    data), preferring one that already has a CRM id; None when the demo has none."""
    from closeloop.core.errors import DomainError
    from closeloop.customers.stickers import printed_text
    from closeloop.fieldwork.evidence import do_check_in
    from closeloop.fieldwork.services import WORKING_STATES
    from closeloop.workorders.models import WorkOrder

    working = (WorkOrder.objects.filter(status__in=WORKING_STATES, assignee__isnull=False, site__latitude__isnull=False)
               .select_related("site").order_by("-id"))
    for wo in [*working.filter(external_refs__system="crm")[:10], *working[:10]]:
        try:
            do_check_in(actor=wo.assignee, wo=wo, qr=printed_text(wo.site), latitude=float(wo.site.latitude) + 0.0003,
                        longitude=float(wo.site.longitude) + 0.0002, accuracy=15)
        except DomainError:
            continue
        return wo
    return WorkOrder.objects.filter(external_refs__system="crm").order_by("id").first()
