"""Put work orders into a given state directly, for tests that start mid-loop.
(Tests of the loop itself go through services.do_transition.)"""

from django.test import Client

from closeloop.core.clock import now
from closeloop.workorders import services
from closeloop.workorders.lifecycle import PAUSED, S
from closeloop.workorders.models import WorkOrder
from closeloop.workorders.services import next_code, search_document_for


def make_wo(world, *, status=S.NEW, org="a", title="呼吸机报警 制冷故障", **kw) -> WorkOrder:
    t = now()
    customer, site, team, assignee = (
        (world.org_a, world.site_a, world.team_x, world.eng_x) if org == "a"
        else (world.org_b, world.site_b, world.team_y, world.eng_y)
    )
    fields = dict(code=next_code("WD", t), wo_type=world.repair, title=title, customer=customer, site=site,
                  team=team, status=status, created_at=t, updated_at=t, created_by=world.dispatcher)
    if status != S.NEW:
        fields["assignee"] = assignee
    if status in PAUSED:
        fields["resume_to"] = S.IN_PROGRESS
    fields.update(kw)
    wo = WorkOrder(**fields)
    wo.search_document = search_document_for(wo)
    wo.save()
    return wo


# --- the authorization matrices (console and portal tests) -------------------------------

USERS = ["anon", "cust_a", "cust_b", "eng_x", "eng_y", "dispatcher", "manager"]
#: Which of the two work orders each persona may see (visible_work_orders).
SEES = {"anon": set(), "cust_a": {"a"}, "cust_b": {"b"}, "eng_x": {"a"}, "eng_y": {"b"},
        "dispatcher": {"a", "b"}, "manager": {"a", "b"}}


def make_two(world) -> dict:
    """Two work orders: "a" (org A, team X, eng_x) and "b" (org B, team Y, eng_y)."""
    d = world.dispatcher
    a = services.do_create_work_order(actor=d, data={"type": "repair", "title": "甲 呼吸机报警", "asset": "SN-A-1",
                                                     "contact": world.contact_a.pk, "assignee": "eng_x",
                                                     "external_refs": [{"system": "crm", "id": "CRM-A-77"}]})
    b = services.do_create_work_order(actor=d, data={"type": "repair", "title": "乙 监护仪黑屏", "asset": "SN-B-1",
                                                     "assignee": "eng_y",
                                                     "external_refs": [{"system": "erp", "id": "PO-B-88"}]})
    return {"a": a, "b": b}


def client(world, who) -> Client:
    return Client() if who == "anon" else world.browser_client(getattr(world, who))


def shown(body: str, two) -> set[str]:
    return {k for k, wo in two.items() if wo.code in body}
