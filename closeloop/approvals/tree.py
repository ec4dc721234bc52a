"""The flow tree: its shape, its validation (on publish), and the path it gives for one
request (the "plan", also the designer's preview).

    {"settings": {"bypass_roles": ["admin", "manager"], "justify_hours": 24},
     "auto_approve": [{"name": "routine", "condition": "amount < 100"}],
     "nodes": [node, ...]}

Nodes run in order. A node is one of
    {"id", "type": "approver", "name", "approvers": SPEC, "mode": "any"|"all"|"percent",
     "percent": 60, "timer": {"hours": 24, "action": "remind"|"approve"|"escalate"},
     "bypassable": true}
    {"id", "type": "cc", "name", "approvers": SPEC}
    {"id", "type": "condition", "name", "branches": [{"id", "name", "condition": "amount < 500",
                                                      "nodes": [...]}, ..., {"id", "default": true, "nodes": [...]}]}
    {"id", "type": "parallel", "name", "branches": [{"id", "name", "nodes": [...]}, ...]}
SPEC is {"kind": "user", "users": ["alice"]} | {"kind": "role", "role": "finance"} |
{"kind": "supervisor", "levels": 3} (the requester's supervisor chain, one step per level) |
{"kind": "department_head", "team": "code"} (no team: the head of the requester's top department).

A condition branch takes the first branch whose CEL condition holds, else the default one.
Conditions see `amount`, `impact`, `safety` (from the request), `data` (all request values),
`action`, `requester` {username, role, team} and the usual `wo` of core.conditions.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, Team, User
from closeloop.core import conditions

NODE_TYPES = ("approver", "cc", "condition", "parallel")
APPROVER_KINDS = ("user", "role", "supervisor", "department_head")
MODES = ("any", "all", "percent")
TIMER_ACTIONS = ("remind", "approve", "escalate")
MAX_NODES = 200
MAX_LEVELS = 10
MAX_HOURS = 24 * 90
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def empty_tree() -> dict:
    return {"settings": {"bypass_roles": ["admin", "manager"], "justify_hours": 24}, "auto_approve": [], "nodes": []}


def settings_of(tree: dict) -> dict:
    s = dict(empty_tree()["settings"])
    s.update((tree or {}).get("settings") or {})
    return s


def iter_nodes(nodes: list, path: tuple = ()):
    """Every node, depth first, with the branch path leading to it."""
    for node in nodes or []:
        if not isinstance(node, dict):
            continue
        yield node, path
        if node.get("type") in ("condition", "parallel"):
            for br in node.get("branches") or []:
                if isinstance(br, dict):
                    yield from iter_nodes(br.get("nodes") or [], path + ((node.get("id"), br.get("id")),))


def node_map(tree: dict) -> dict:
    return {n.get("id"): n for n, _p in iter_nodes((tree or {}).get("nodes") or [])}


# ---- the variables a branch condition sees ---------------------------------------------------------

def _num(v):
    if isinstance(v, bool):
        return 0.0
    try:
        return float(v)
    except (TypeError, ValueError):
        return 0.0


def condition_context(*, wo=None, data: dict | None = None, action: str = "", requester=None) -> dict:
    data = dict(data or {})
    ctx = conditions.work_order_context(wo, actor=requester) if wo is not None else conditions.sample_context()
    ctx.update({
        "amount": _num(data.get("amount", 0)),
        "impact": str(data.get("impact", "") or ""),
        "safety": str(data.get("safety", "") or ""),
        "data": data,
        "action": action,
        "requester": {"username": getattr(requester, "username", ""), "role": getattr(requester, "role", ""),
                      "team": requester.team.code if requester is not None and requester.team_id else ""},
    })
    return ctx


# ---- validation -------------------------------------------------------------------------------------

def _problem(node_id, message, code="invalid", **extra) -> dict:
    return {"node": node_id, "message": str(message), "code": code, **extra}


def _check_condition(node_id, branch, source: str, out: list) -> None:
    try:
        conditions.compile_condition(source)
        conditions.evaluate(source, condition_context(), strict=False)
    except conditions.ConditionError as exc:
        if exc.kind == "missing":
            return
        pos = exc.as_dict()
        label = branch.get("name") or branch.get("id")
        msg = _("Branch %(b)s: %(m)s") % {"b": label, "m": exc.message}
        if exc.line is not None:
            msg += " " + _("(line %(l)d, column %(c)d)") % {"l": exc.line, "c": exc.column}
        out.append(_problem(node_id, msg, "condition", branch=branch.get("id"), position=pos))


def _check_spec(node, out: list, *, static: bool) -> None:
    nid = node.get("id")
    spec = node.get("approvers")
    if not isinstance(spec, dict) or spec.get("kind") not in APPROVER_KINDS:
        out.append(_problem(nid, _("Choose who approves: a user, a role, the supervisor chain or a department head."),
                            "approvers"))
        return
    kind = spec["kind"]
    if kind == "user":
        names = spec.get("users") or []
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            out.append(_problem(nid, _("Name at least one user."), "approvers"))
            return
        if static:
            found = set(User.objects.filter(username__in=names, is_active=True).values_list("username", flat=True))
            missing = [n for n in names if n not in found]
            if missing:
                out.append(_problem(nid, _("No active user %(u)s: nobody could approve (dead end).")
                                    % {"u": ", ".join(missing)}, "dead_end"))
    elif kind == "role":
        role = spec.get("role")
        if role not in Role.values or role == Role.CUSTOMER:
            out.append(_problem(nid, _("Unknown role %(r)s.") % {"r": role}, "approvers"))
        elif static and not User.objects.filter(role=role, is_active=True).exists():
            out.append(_problem(nid, _("Nobody has the role %(r)s: nobody could approve (dead end).") % {"r": role},
                                "dead_end"))
    elif kind == "supervisor":
        levels = spec.get("levels", 1)
        if not isinstance(levels, int) or isinstance(levels, bool) or not 1 <= levels <= MAX_LEVELS:
            out.append(_problem(nid, _("Levels must be a whole number from 1 to %(n)d.") % {"n": MAX_LEVELS},
                                "approvers"))
    elif kind == "department_head" and spec.get("team"):
        team = Team.objects.filter(code=spec["team"]).first() if static else None
        if static and team is None:
            out.append(_problem(nid, _("No team %(t)s.") % {"t": spec["team"]}, "approvers"))
        elif static and (team.supervisor_id is None or not team.supervisor.is_active):
            out.append(_problem(nid, _("Team %(t)s has no supervisor: nobody could approve (dead end).")
                                % {"t": spec["team"]}, "dead_end"))


def validate(tree, *, static: bool = True) -> list[dict]:
    """Problems that stop a publish, each naming the node: shape, dead ends (a condition
    without a default branch, an empty parallel, approvers nobody could be), unreachable
    branches (after the default, after `true`, a repeated condition, `false`) and
    conditions that do not compile (with their position)."""
    out: list[dict] = []
    if not isinstance(tree, dict):
        return [_problem(None, _("The flow must be an object with nodes."), "shape")]
    nodes = tree.get("nodes")
    if not isinstance(nodes, list):
        return [_problem(None, _("The flow must have a list of nodes."), "shape")]
    s = tree.get("settings") or {}
    if not isinstance(s, dict):
        out.append(_problem(None, _("Settings must be an object."), "shape"))
        s = {}
    hours = s.get("justify_hours", 24)
    if not isinstance(hours, int | float) or isinstance(hours, bool) or not 0 < hours <= MAX_HOURS:
        out.append(_problem(None, _("The justification deadline must be between 0 and %(n)d hours.")
                            % {"n": MAX_HOURS}, "settings"))
    roles = s.get("bypass_roles", [])
    if not isinstance(roles, list) or any(r not in Role.values or r == Role.CUSTOMER for r in roles):
        out.append(_problem(None, _("Bypass roles must be staff roles."), "settings"))
    autos = tree.get("auto_approve") or []
    if not isinstance(autos, list):
        out.append(_problem(None, _("Auto-approval rules must be a list."), "shape"))
        autos = []
    for i, rule in enumerate(autos):
        src = rule.get("condition", "") if isinstance(rule, dict) else ""
        if not (src or "").strip():
            out.append(_problem(None, _("Auto-approval rule %(n)d has no condition.") % {"n": i + 1}, "condition"))
        else:
            _check_condition(None, {"id": f"auto-{i + 1}", "name": rule.get("name") or f"#{i + 1}"}, src, out)
    seen: set = set()
    count = 0
    approvers = 0
    for node, _path in iter_nodes(nodes):
        count += 1
        nid = node.get("id")
        if not isinstance(nid, str) or not _ID.match(nid):
            out.append(_problem(nid, _("Each node needs an id (letters, digits, - or _)."), "shape"))
        elif nid in seen:
            out.append(_problem(nid, _("Two nodes have the id %(id)s.") % {"id": nid}, "shape"))
        seen.add(nid)
        ntype = node.get("type")
        if ntype not in NODE_TYPES:
            out.append(_problem(nid, _("Unknown node type %(t)s.") % {"t": ntype}, "shape"))
            continue
        if ntype == "approver":
            approvers += 1
            _check_spec(node, out, static=static)
            mode = node.get("mode", "any")
            if mode not in MODES:
                out.append(_problem(nid, _("Mode must be any, all or percent."), "mode"))
            if mode == "percent":
                p = node.get("percent")
                if not isinstance(p, int) or isinstance(p, bool) or not 1 <= p <= 100:
                    out.append(_problem(nid, _("The percentage must be a whole number from 1 to 100."), "mode"))
            timer = node.get("timer")
            if timer:
                h = timer.get("hours") if isinstance(timer, dict) else None
                if not isinstance(h, int | float) or isinstance(h, bool) or not 0 < h <= MAX_HOURS:
                    out.append(_problem(nid, _("The timer needs a duration in hours, more than 0."), "timer"))
                if not isinstance(timer, dict) or timer.get("action") not in TIMER_ACTIONS:
                    out.append(_problem(nid, _("The timer action must be remind, approve or escalate."), "timer"))
        elif ntype == "cc":
            _check_spec(node, out, static=static)
        else:
            branches = node.get("branches")
            if not isinstance(branches, list) or not branches:
                out.append(_problem(nid, _("Add at least one branch: a node without branches is a dead end."),
                                    "dead_end"))
                continue
            if ntype == "parallel":
                continue
            default_at = None
            conds: dict[str, str] = {}
            for i, br in enumerate(branches):
                if not isinstance(br, dict):
                    out.append(_problem(nid, _("Each branch must be an object."), "shape"))
                    continue
                label = br.get("name") or br.get("id") or f"#{i + 1}"
                if default_at is not None:
                    out.append(_problem(nid, _("Branch %(b)s comes after the default branch: unreachable.")
                                        % {"b": label}, "unreachable", branch=br.get("id")))
                    continue
                if br.get("default"):
                    default_at = i
                    continue
                src = " ".join((br.get("condition") or "").split())
                if not src:
                    out.append(_problem(nid, _("Branch %(b)s has no condition (mark it as the default branch).")
                                        % {"b": label}, "condition", branch=br.get("id")))
                    continue
                if src == "false":
                    out.append(_problem(nid, _("Branch %(b)s can never be taken (false): unreachable.")
                                        % {"b": label}, "unreachable", branch=br.get("id")))
                if src in conds:
                    out.append(_problem(nid, _("Branch %(b)s repeats the condition of branch %(o)s: unreachable.")
                                        % {"b": label, "o": conds[src]}, "unreachable", branch=br.get("id")))
                conds.setdefault(src, label)
                if src == "true" and i < len(branches) - 1:
                    out.append(_problem(nid, _("Branch %(b)s is always taken, so the branches after it are "
                                               "unreachable.") % {"b": label}, "unreachable", branch=br.get("id")))
                _check_condition(nid, br, br.get("condition"), out)
            if default_at is None and "true" not in conds:
                out.append(_problem(nid, _("No default branch: when no condition holds the request has nowhere to "
                                           "go (dead end). Add a default branch."), "dead_end"))
    if count > MAX_NODES:
        out.append(_problem(None, _("At most %(n)d nodes.") % {"n": MAX_NODES}, "shape"))
    if approvers == 0:
        out.append(_problem(None, _("The flow has no approver node."), "dead_end"))
    return out


# ---- who approves ---------------------------------------------------------------------------------

def _team_chain(team):
    seen = set()
    while team is not None and team.pk not in seen:
        seen.add(team.pk)
        yield team
        team = team.parent


def supervisor_chain(requester, wo=None, levels: int = 1) -> list:
    """The requester's supervisors, nearest first: their team's supervisor, then the parent
    department's, ... (the requester themself is skipped: nobody approves their own request)."""
    team = (requester.team if requester is not None and requester.team_id else None) or \
        (wo.team if wo is not None and wo.team_id else None)
    out: list = []
    for t in _team_chain(team):
        sup = t.supervisor
        if sup is not None and sup.is_active and sup != requester and sup not in out:
            out.append(sup)
            if len(out) >= levels:
                break
    return out


def department_head(spec: dict, requester, wo=None):
    if spec.get("team"):
        team = Team.objects.filter(code=spec["team"]).select_related("supervisor").first()
        return team.supervisor if team and team.supervisor_id and team.supervisor.is_active else None
    team = (requester.team if requester is not None and requester.team_id else None) or \
        (wo.team if wo is not None and wo.team_id else None)
    chain = list(_team_chain(team))
    for t in reversed(chain):  # the top department first
        if t.supervisor_id and t.supervisor.is_active:
            return t.supervisor
    return None


def resolve(spec: dict, requester, wo=None) -> list:
    kind = (spec or {}).get("kind")
    if kind == "user":
        names = spec.get("users") or []
        users = {u.username: u for u in User.objects.filter(username__in=names, is_active=True)}
        return [users[n] for n in names if n in users]
    if kind == "role":
        return list(User.objects.filter(role=spec.get("role"), is_active=True).order_by("id"))
    if kind == "department_head":
        head = department_head(spec, requester, wo)
        return [head] if head else []
    return []


def fallback_approvers() -> list:
    """When a node names nobody at run time (e.g. no supervisor above the requester)."""
    return list(User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id"))


# ---- the path -------------------------------------------------------------------------------------

def plan(tree: dict, ctx: dict, *, requester, wo=None) -> list[dict]:
    """The resolved path: condition branches chosen, approvers named (ids). Items:
    {"t": "step", "key", "node", "name", "kind", "mode", "percent", "users", "timer", "fallback"},
    {"t": "branch", "node", "branch", "name"} (which branch was taken) and
    {"t": "par", "node", "name", "branches": [[items], ...]}."""
    cctx = conditions.make_context(ctx)
    return _plan_nodes(tree.get("nodes") or [], cctx, requester, wo)


def _step(node, key, users, name=None) -> dict:
    fallback = not users
    if fallback:
        users = fallback_approvers()
    timer = node.get("timer") if node.get("type") == "approver" else None
    return {"t": "step", "key": key, "node": node["id"], "name": name or node.get("name") or node["id"],
            "kind": node["type"], "mode": node.get("mode", "any") if node["type"] == "approver" else "any",
            "percent": int(node.get("percent") or 100), "users": [u.pk for u in users],
            "timer": timer or None, "fallback": fallback}


def _plan_nodes(nodes, cctx, requester, wo) -> list[dict]:
    items: list[dict] = []
    for node in nodes:
        t = node.get("type")
        if t in ("approver", "cc"):
            spec = node.get("approvers") or {}
            if spec.get("kind") == "supervisor" and t == "approver":
                levels = int(spec.get("levels") or 1)
                chain = supervisor_chain(requester, wo, levels)
                if not chain:
                    items.append(_step(node, f"{node['id']}#1", []))
                for i, sup in enumerate(chain, start=1):
                    # Language-neutral (stored): "Management · 2/3".
                    name = f"{node.get('name') or node['id']} · {i}/{levels}"
                    items.append(_step(node, f"{node['id']}#{i}", [sup], name=name))
            elif spec.get("kind") == "supervisor":
                items.append(_step(node, node["id"], supervisor_chain(requester, wo, int(spec.get("levels") or 1))))
            else:
                items.append(_step(node, node["id"], resolve(spec, requester, wo)))
        elif t == "condition":
            chosen = None
            for br in node.get("branches") or []:
                if br.get("default"):
                    continue
                if conditions.matches(br.get("condition") or "", cctx):
                    chosen = br
                    break
            if chosen is None:
                chosen = next((b for b in node.get("branches") or [] if b.get("default")), None)
            if chosen is None:
                continue
            items.append({"t": "branch", "node": node["id"], "branch": chosen.get("id"),
                          "name": chosen.get("name") or chosen.get("id") or ""})
            items.extend(_plan_nodes(chosen.get("nodes") or [], cctx, requester, wo))
        elif t == "parallel":
            items.append({"t": "par", "node": node["id"], "name": node.get("name") or node["id"],
                          "branches": [_plan_nodes(br.get("nodes") or [], cctx, requester, wo)
                                       for br in node.get("branches") or []]})
    return items


def plan_steps(items: list[dict]):
    for it in items:
        if it["t"] == "step":
            yield it
        elif it["t"] == "par":
            for br in it["branches"]:
                yield from plan_steps(br)
