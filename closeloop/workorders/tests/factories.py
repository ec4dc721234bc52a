"""Put work orders into a given state directly, for tests that start mid-loop.
(Tests of the loop itself go through services.do_transition.)"""

from closeloop.core.clock import now
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
