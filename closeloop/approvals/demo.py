"""Approvals part of the demo (a scenario, demo/scenarios.py):
a part purchase flow (under 500 only the team lead, over 5,000 three supervisor levels
and finance), a management chain above the service centres, a handoff to finance on
technical completion, and three requests on open work orders: one approved without
finance, one waiting at the second level, one bypassed in an emergency whose
justification escalates a few minutes after `closeloop demo` starts unless filed."""

from datetime import timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, Team, User
from closeloop.core.clock import now
from closeloop.outbox.models import OutboxMessage
from closeloop.workorders.models import WorkOrder

from . import handoffs, services
from .models import ApprovalFlow, HandoffRequirement, Justification

ORDER = 60
JUSTIFY_DEMO_MINUTES = 3


def purchase_tree() -> dict:
    return {
        "settings": {"bypass_roles": ["admin", "manager"], "justify_hours": 4},
        "auto_approve": [{"name": "常用耗材 50 元以下", "condition": "amount < 50"}],
        "nodes": [
            {"id": "tier", "type": "condition", "name": "金额分级", "branches": [
                {"id": "small", "name": "500 元以下", "condition": "amount < 500", "nodes": [
                    {"id": "lead", "type": "approver", "name": "组长审批",
                     "approvers": {"kind": "supervisor", "levels": 1}, "timer": {"hours": 8, "action": "remind"}}]},
                {"id": "large", "name": "5000 元以上", "condition": "amount > 5000", "nodes": [
                    {"id": "chain", "type": "approver", "name": "三级主管审批",
                     "approvers": {"kind": "supervisor", "levels": 3}, "timer": {"hours": 24, "action": "escalate"}},
                    {"id": "fin-large", "type": "approver", "name": "财务审批",
                     "approvers": {"kind": "role", "role": "finance"}}]},
                {"id": "normal", "name": "其他", "default": True, "nodes": [
                    {"id": "lead2", "type": "approver", "name": "组长审批",
                     "approvers": {"kind": "supervisor", "levels": 1}, "timer": {"hours": 8, "action": "remind"}},
                    {"id": "fin", "type": "approver", "name": "财务审批",
                     "approvers": {"kind": "role", "role": "finance"}}]},
            ]},
            {"id": "cc-store", "type": "cc", "name": "抄送库房", "approvers": {"kind": "role", "role": "dispatcher"}},
        ],
    }


def _user(username, role, name, team=None):
    u = User.objects.filter(username=username).first()
    if u is None:
        u = User(username=username, role=role, display_name=name, team=team)
        template = User.objects.filter(username="manager").first()
        if template is not None:
            u.password = template.password  # the demo password
        else:
            u.set_password("demo")
        u.save()
    return u


def seed() -> str:
    with transaction.atomic():
        admin = User.objects.filter(username="admin").first() or User.objects.filter(role=Role.ADMIN).first()
        manager = User.objects.filter(username="manager").first()
        engineer = User.objects.filter(username="engineer").first()
        if admin is None or manager is None or engineer is None or not engineer.team_id:
            return _("Approvals: the demo company is missing; nothing seeded.")
        gm = _user("gm", Role.MANAGER, "总经理 周总")
        director = _user("director", Role.MANAGER, "服务部总监 钱总监")
        hq, _c = Team.objects.get_or_create(code="hq", defaults={"name": "总部", "supervisor": gm})
        dept, _c = Team.objects.get_or_create(code="service-dept", defaults={"name": "服务部", "parent": hq,
                                                                             "supervisor": director})
        gm.team, director.team = hq, dept
        gm.save(update_fields=["team"])
        director.save(update_fields=["team"])
        Team.objects.filter(parent__isnull=True).exclude(pk__in=[hq.pk, dept.pk]).exclude(code="finance-dept") \
            .update(parent=dept)
        fin_user = User.objects.filter(role=Role.FINANCE, is_active=True).order_by("id").first()
        fin_team, _c = Team.objects.get_or_create(code="finance-dept", defaults={"name": "财务部",
                                                                                "supervisor": fin_user})
        User.objects.filter(role=Role.FINANCE).update(team=fin_team)
        if not HandoffRequirement.objects.filter(action="complete").exists():
            handoffs.do_save_handoff_requirement(actor=admin, data={
                "action": "complete", "to_team": "finance-dept", "fields": ["customer", "resolution"]})

        flow = ApprovalFlow.objects.filter(action="purchase_part", wo_type__isnull=True).first()
        if flow is None:
            flow = services.do_create_flow(actor=manager, data={
                "name": "配件采购审批", "action": "purchase_part", "tree": purchase_tree(),
                "description": "500 元以下组长审批；5000 元以上三级主管 + 财务；紧急时可越级，事后补说明"})
            services.do_publish(actor=manager, flow=flow, note="v1")
        open_wos = list(WorkOrder.objects.filter(team=engineer.team, status__in=["in_progress", "on_site",
                                                                                   "accepted", "waiting_parts"])
                        .order_by("-id")[:3])
        if len(open_wos) < 3:
            return _("Approvals: flow %(f)s published; no open work orders for sample requests.") % {"f": flow.name}
        small, large, urgent = open_wos
        r1 = services.do_start_request(actor=engineer, wo=small, action="purchase_part",
                                       data={"amount": 320, "part": "血氧探头"})
        services.do_decide(actor=manager, req=r1, decision="approve", comment="同意，库存不足")
        r2 = services.do_start_request(actor=engineer, wo=large, action="purchase_part",
                                       data={"amount": 8600, "part": "呼吸机涡轮风机"})
        services.do_decide(actor=manager, req=r2, decision="approve", comment="属实，请总监审批")
        r3 = services.do_start_request(actor=engineer, wo=urgent, action="purchase_part",
                                       data={"amount": 1800, "part": "ICU 呼吸机主板", "safety": "high"})
        j = services.do_bypass(actor=manager, req=r3, reason="ICU 呼吸机停机，患者转床风险，先采购后补审批")
        due = now() + timedelta(minutes=JUSTIFY_DEMO_MINUTES)
        Justification.objects.filter(pk=j.pk).update(due_at=due)
        OutboxMessage.objects.filter(key=f"approval-justify:{j.pk}").update(available_at=due)
    return _("Approvals: part purchase on %(a)s approved by the team lead only (320, finance skipped); "
             "%(b)s (8,600) waits at level 2 of 3 (log in as director, then gm, then finance); "
             "manager bypassed %(c)s — unless filed at /approvals/ within %(m)d minutes the justification "
             "escalates to the supervisor; change the flow at /approvals/flows/%(f)d/designer and the next "
             "request follows the new version.") % {
        "a": small.code, "b": large.code, "c": urgent.code, "m": JUSTIFY_DEMO_MINUTES, "f": flow.pk}
