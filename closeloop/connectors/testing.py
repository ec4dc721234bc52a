"""For tests outside this app (the screens pass, browser checks): the fake CRM and ERP on a free
loopback port, allowed through the SSRF guard by that port only, and connectors that use them."""


def fake_systems(settings, **kw):
    """A running fake CRM/ERP (management/commands/fake_systems.py); `settings` is pytest-django's."""
    from .management.commands import fake_systems as fs

    server = fs.serve(0, **kw)
    settings.CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST = [f"127.0.0.1:{server.server_address[1]}"]
    return server


def connect(admin, base: str, wo=None):
    """The demo's CRM and ERP connectors against `base`; gives `wo` a CRM and an ERP id. Returns the CRM one."""
    from closeloop.workorders.services import do_add_external_ref

    from . import services

    crm = services.do_create_connector(actor=admin, data={
        "key": "crm", "name": "CRM", "ref_system": "crm", "order": 10,
        "url_template": base + "/crm/opportunities/{external_id}", "link_template": base + "/crm/opportunities/{external_id}",
        "auth_header": "Authorization", "auth_secret": "Bearer demo-crm-token",
        "fields": [{"path": "stage", "label": "商机阶段"}, {"path": "owner", "label": "客户经理"},
                   {"path": "last_message.text", "label": "最近沟通"}]})
    services.do_create_connector(actor=admin, data={
        "key": "erp", "name": "ERP", "ref_system": "erp", "order": 20, "url_template": base + "/erp/purchases/{external_id}",
        "fields": [{"path": "status", "label": "采购状态"}, {"path": "delivery.promised", "label": "承诺交期"},
                   {"path": "lines[0].name", "label": "备件"}]})
    if wo is not None:
        do_add_external_ref(actor=admin, wo=wo, system="crm", external_id=f"CRM-{60010000 + wo.pk}")
        do_add_external_ref(actor=admin, wo=wo, system="erp", external_id=f"PO-{45010000 + wo.pk}")
    return crm


def seed_for_tests(admin, wo, settings):
    server = fake_systems(settings)
    return connect(admin, f"http://127.0.0.1:{server.server_address[1]}", wo)
