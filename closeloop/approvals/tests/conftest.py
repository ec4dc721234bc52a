import pytest
from django.utils import translation

from closeloop.accounts.models import Role, Team

from .. import services


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def purchase_tree(finance_role="finance"):
    """< 500: the team lead only; > 5,000: three supervisor levels then finance; else lead + finance."""
    return {
        "settings": {"bypass_roles": ["admin", "manager"], "justify_hours": 24},
        "auto_approve": [],
        "nodes": [
            {"id": "tier", "type": "condition", "name": "Amount tier", "branches": [
                {"id": "small", "name": "Under 500", "condition": "amount < 500", "nodes": [
                    {"id": "lead", "type": "approver", "name": "Team lead",
                     "approvers": {"kind": "supervisor", "levels": 1}}]},
                {"id": "large", "name": "Over 5,000", "condition": "amount > 5000", "nodes": [
                    {"id": "chain", "type": "approver", "name": "Management",
                     "approvers": {"kind": "supervisor", "levels": 3}},
                    {"id": "fin-large", "type": "approver", "name": "Finance",
                     "approvers": {"kind": "role", "role": finance_role}}]},
                {"id": "normal", "name": "Otherwise", "default": True, "nodes": [
                    {"id": "lead2", "type": "approver", "name": "Team lead",
                     "approvers": {"kind": "supervisor", "levels": 1}},
                    {"id": "fin", "type": "approver", "name": "Finance",
                     "approvers": {"kind": "role", "role": finance_role}}]},
            ]},
            {"id": "cc-store", "type": "cc", "name": "Store", "approvers": {"kind": "user", "users": ["dispatcher"]}},
        ],
    }


class Org:
    def __init__(self, world):
        from conftest import World  # noqa: F401  (the world fixture's class)

        self.world = world
        mk = world._user
        self.ceo = mk("ceo", Role.MANAGER)
        self.ops_head = mk("ops_head", Role.MANAGER)
        self.company = Team.objects.create(name="Company", code="company", supervisor=self.ceo)
        self.ops = Team.objects.create(name="Operations", code="ops", parent=self.company, supervisor=self.ops_head)
        world.team_x.parent = self.ops
        world.team_x.save()


@pytest.fixture
def org(world):
    return Org(world)


@pytest.fixture
def purchase_flow(world, org):
    flow = services.do_create_flow(actor=world.manager, data={"name": "Part purchase", "action": "purchase_part",
                                                              "type": "repair", "tree": purchase_tree()})
    services.do_publish(actor=world.manager, flow=flow)
    flow.refresh_from_db()
    return flow


def run_outbox(at=None, limit=200):
    from closeloop.outbox.services import handle_one_outbox

    for _i in range(limit):
        if not handle_one_outbox("test", at=at):
            return
