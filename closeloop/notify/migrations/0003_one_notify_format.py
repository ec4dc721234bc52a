"""Pending notification requests written in the older per-app formats become "notify" rows in
the one format `notify.services.notify` writes (the fan-out no longer reads the others):

- kind "notification" (the SLA ladder): {event, channel, to, work_order, milestone, level,
  action, due_at, title, priority};
- kind "notify" without "recipients" (the rules): {channel, to, phone, work_order, rule, message}.

Rows already done stay as they were (history). Keys are kept (the stable delivery ids).
"""

from django.db import migrations


def _sla(p: dict) -> dict:
    out = {"event": p.get("event") or "sla.escalation", "work_order": p.get("work_order"),
           "recipients": [{"user": p["to"]}] if p.get("to") else [],
           "context": {k: p.get(k) for k in ("milestone", "level", "action", "due_at", "title", "priority")}}
    if p.get("channel") and p["channel"] != "inbox":
        out["also"] = [p["channel"]]
    if p.get("channel") == "voice" or p.get("priority") == "urgent":
        out["urgent"] = True
    return out


def _rule(p: dict) -> dict:
    out = {"event": "rule.notify", "work_order": p.get("work_order"),
           "recipients": [{"user": p["to"]}] if p.get("to") else [], "context": {"rule": p.get("rule", "")}}
    if p.get("channel"):
        out["channels"] = [p["channel"]]
    if p.get("message"):
        out["message"] = p["message"]
    return out


def forwards(apps, schema_editor):
    OutboxMessage = apps.get_model("outbox", "OutboxMessage")
    pending = OutboxMessage.objects.filter(done_at__isnull=True, kind__in=["notification", "notify"])
    for row in pending.iterator():
        p = dict(row.payload or {})
        if "recipients" in p:
            if row.kind != "notify":
                OutboxMessage.objects.filter(pk=row.pk).update(kind="notify")
            continue
        if row.kind == "notification" or p.get("event") == "sla.escalation":
            new = _sla(p)
        else:
            new = _rule(p)
        OutboxMessage.objects.filter(pk=row.pk).update(kind="notify", payload=new)


class Migration(migrations.Migration):
    dependencies = [
        ("notify", "0002_delivery_webhook"),
        ("outbox", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
