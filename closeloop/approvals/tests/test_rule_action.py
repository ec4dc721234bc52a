"""The rules action require_approval: a rule starts an approval in its owner's name."""


from closeloop.core.clock import now
from closeloop.rules.models import Rule
from closeloop.workorders.lifecycle import S
from closeloop.workorders.tests.factories import make_wo

from .. import services


def _rule(world):
    t = now()
    return Rule.objects.create(name="Big parts need approval", owner=world.manager, created_at=t, updated_at=t,
                               actions=[{"type": "require_approval", "action": "purchase_part",
                                         "data": {"amount": 800}}])


def test_require_approval_action(world, org, purchase_flow):
    rule = _rule(world)
    wo = make_wo(world, status=S.IN_PROGRESS)
    summary = services.rule_require_approval(rule, wo, rule.actions[0])
    req = wo.approvals.get()
    assert req.requester == world.manager and req.data == {"amount": 800} and "Big parts" in req.note
    assert f"#{req.pk}" in summary
    assert "already waiting" in services.rule_require_approval(rule, wo, rule.actions[0])
    assert wo.approvals.count() == 1


def test_registered_with_the_rules_runner(world, org, purchase_flow):
    from closeloop.rules import runner

    rule = _rule(world)
    wo = make_wo(world, status=S.IN_PROGRESS)
    results = runner.execute_actions(rule, wo)
    assert results[0]["ok"], results
    assert wo.approvals.count() == 1
