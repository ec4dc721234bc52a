"""Publishing refuses dead ends, unreachable branches and broken conditions, naming the node."""

import pytest

from closeloop.core.errors import Forbidden, ValidationFailed

from .. import services
from .. import tree as T


def _tree(nodes, **kw):
    return {"settings": {"bypass_roles": ["admin"], "justify_hours": 24}, "auto_approve": [], "nodes": nodes, **kw}


def _codes(problems):
    return sorted(((p["node"] or ""), p["code"]) for p in problems)


def test_valid_purchase_tree(world, org):
    from .conftest import purchase_tree

    assert T.validate(purchase_tree()) == []


def test_dead_ends(world):
    problems = T.validate(_tree([
        {"id": "c", "type": "condition", "branches": [{"id": "b1", "condition": "amount < 5", "nodes": []}]},
        {"id": "p", "type": "parallel", "branches": []},
        {"id": "u", "type": "approver", "approvers": {"kind": "user", "users": ["ghost"]}},
        {"id": "r", "type": "approver", "approvers": {"kind": "role", "role": "customer"}},
    ]))
    assert ("c", "dead_end") in _codes(problems)
    assert ("p", "dead_end") in _codes(problems)
    assert ("u", "dead_end") in _codes(problems)
    assert ("r", "approvers") in _codes(problems)
    assert any("ghost" in p["message"] for p in problems)


def test_unreachable_branches(world):
    problems = T.validate(_tree([
        {"id": "a", "type": "approver", "approvers": {"kind": "role", "role": "manager"}},
        {"id": "c", "type": "condition", "branches": [
            {"id": "b1", "condition": "amount < 5", "nodes": []},
            {"id": "b2", "condition": "amount  <  5", "nodes": []},
            {"id": "b3", "condition": "false", "nodes": []},
            {"id": "d", "default": True, "nodes": []},
            {"id": "late", "condition": "amount > 9", "nodes": []},
        ]},
    ]))
    unreachable = [p.get("branch") for p in problems if p["code"] == "unreachable"]
    assert unreachable == ["b2", "b3", "late"]


def test_condition_error_names_node_and_position(world):
    problems = T.validate(_tree([
        {"id": "a", "type": "approver", "approvers": {"kind": "role", "role": "manager"}},
        {"id": "tier", "type": "condition", "branches": [
            {"id": "b1", "name": "Small", "condition": "amount <", "nodes": []},
            {"id": "b2", "condition": "evil(amount)", "nodes": []},
            {"id": "d", "default": True, "nodes": []}]},
    ]))
    cond = [p for p in problems if p["code"] == "condition"]
    assert [p["node"] for p in cond] == ["tier", "tier"]
    assert cond[0]["position"]["column"] and "Small" in cond[0]["message"]
    assert "evil" in cond[1]["message"]


def test_shape_problems(world):
    problems = T.validate(_tree([
        {"id": "x", "type": "approver", "approvers": {"kind": "supervisor", "levels": 0}, "mode": "percent",
         "percent": 0, "timer": {"hours": -1, "action": "explode"}},
        {"id": "x", "type": "wormhole"},
    ], settings={"justify_hours": 0, "bypass_roles": ["customer"]}))
    codes = _codes(problems)
    for c in [("x", "approvers"), ("x", "mode"), ("x", "timer"), ("x", "shape"), ("", "settings")]:
        assert c in codes, c
    assert T.validate(_tree([]))[0]["code"] == "dead_end"  # no approver at all


def test_publish_refuses_and_names_nodes(world):
    flow = services.do_create_flow(actor=world.manager, data={"name": "x", "action": "close"})
    services.do_save_draft(actor=world.manager, flow=flow, tree=_tree([
        {"id": "c", "type": "condition", "branches": [{"id": "b", "condition": "amount <", "nodes": []}]}]))
    with pytest.raises(ValidationFailed) as e:
        services.do_publish(actor=world.manager, flow=flow)
    assert {p.field for p in e.value.problems} >= {"nodes.c", "tree"}
    assert not flow.versions.exists()
    with pytest.raises(Forbidden):
        services.do_create_flow(actor=world.dispatcher, data={"name": "x", "action": "close2"})
    with pytest.raises(ValidationFailed):
        services.do_create_flow(actor=world.manager, data={"name": "dup", "action": "close"})
