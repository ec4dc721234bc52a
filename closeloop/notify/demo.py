"""Demo: notifications (a scenario, demo/scenarios.py).

Channels point at the message sink that `closeloop serve` starts in a demo (`closeloop notify_sink`: a local DingTalk robot, Twilio-style SMS and
call API, and an SMTP server): an SLA breach of the live 30-second work order goes to the
robot in DingTalk format and by email to the supervisor, both on its timeline; an urgent
work order walks the acknowledge-or-escalate chain every 30 seconds.

The channels reach loopback addresses, which the SSRF guard refuses unless they are
allowed explicitly: `make demo` sets CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST for the sink's
ports (docs/configuration.md)."""

from django.db import transaction
from django.utils.translation import gettext as _

ORDER = 60
SINK = "http://127.0.0.1:8025"
STEPS = [{"after": 0, "do": "im"}, {"after": 0.5, "do": "sms"}, {"after": 1, "do": "voice"},
         {"after": 1.5, "do": "backup"}, {"after": 2, "do": "supervisor"}]


TITLE = "演示: 凌晨 3 点机房空调告警, 等待工程师确认"


def file_urgent_work_order(msg=None) -> None:
    """Outbox handler "notify.demo": file the urgent work order whose chain the demo shows."""
    from closeloop.accounts.models import User
    from closeloop.customers.models import Customer
    from closeloop.workorders.models import WorkOrder
    from closeloop.workorders.services import do_create_work_order

    if WorkOrder.objects.filter(title=TITLE).exists():
        return
    customer = Customer.objects.filter(sites__isnull=False).order_by("id").first()
    dispatcher = User.objects.get(username="dispatcher")
    do_create_work_order(actor=dispatcher, data={
        "type": "repair", "title": TITLE, "priority": "urgent", "customer": customer.code,
        "site": customer.sites.order_by("id").first().code, "assignee": "engineer", "custom": {"symptom": "报警"}})


def seed() -> str:
    from closeloop.accounts.models import Role, User
    from closeloop.core.clock import now
    from closeloop.notify.models import AckPolicy, Channel, UserPreference

    t = now()
    engineer = User.objects.get(username="engineer")
    with transaction.atomic():
        admin = User.objects.filter(username="admin").first()
        # bulk_create skips Channel.save's config check, which refuses these loopback addresses
        # unless CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST lists them: `make demo` does, a bare
        # `closeloop demo` may not. The configs are written as that check leaves them, and every
        # connection is still checked against the allow-list when sending.
        channels = [Channel(kind="dingtalk", name="演示: 钉钉群机器人", owner=admin, created_at=t,
                            config={"url": f"{SINK}/robot/send?access_token=demo", "secret": "SECdemo"},
                            events=["sla.escalation", "ack.request"]),
                    Channel(kind="email", name="演示: 邮件 (SMTP)", owner=admin, created_at=t,
                            config={"host": "127.0.0.1", "port": 1025, "from_email": "closeloop@demo.test",
                                    "security": "none"})]
        for kind, name in (("sms_twilio", "演示: 短信"), ("voice_twilio", "演示: 语音电话")):
            channels.append(Channel(kind=kind, name=name, owner=admin, created_at=t, config={
                "account_sid": "ACdemo", "auth_token": "demo", "from_number": "+8610000000", "endpoint": SINK}))
        Channel.objects.bulk_create(channels)
        # Supervisors and managers want SLA escalations by email too.
        people = set(User.objects.filter(role=Role.MANAGER)) | {
            tm.supervisor for tm in [engineer.team] if tm and tm.supervisor_id}
        from closeloop.accounts.models import Team

        people |= {tm.supervisor for tm in Team.objects.filter(supervisor__isnull=False).select_related("supervisor")}
        for u in people:
            if not u.email:
                User.objects.filter(pk=u.pk).update(email=f"{u.username}@demo.closeloop.test")
            UserPreference.objects.get_or_create(user=u, event="sla.escalation", medium="email")
        for u in User.objects.filter(role=Role.ENGINEER, phone=""):
            User.objects.filter(pk=u.pk).update(phone=f"138{u.pk:08d}")
        AckPolicy.objects.create(name="演示: 紧急工单无人确认即升级 (30 秒一步)", priorities=["urgent"],
                                 team=engineer.team, always=True, steps=STEPS)
        # The urgent work order is filed by the worker shortly after it starts (a delayed outbox
        # row), so its chain runs live and `closeloop demo` itself adds no work order.
        from datetime import timedelta

        from closeloop.outbox.services import enqueue

        enqueue("notify.demo", "demo:notify:urgent-night", {}, at=t + timedelta(seconds=20))
    return _("Notifications: `make demo` starts the message sink itself; watch the messages arrive at "
             "http://127.0.0.1:8025/ (robot, SMS, calls; email on SMTP 127.0.0.1:1025). The live SLA breach goes to the DingTalk "
             "robot and by email; once the worker runs, the urgent work order “%(c)s” is filed and walks "
             "acknowledge-or-escalate (IM → SMS → call → backup → supervisor, 30 s apart) until someone "
             "acknowledges it in the inbox or accepts it.") % {"c": TITLE}
