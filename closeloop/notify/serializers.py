from .channels import kind_module


def channel(ch, *, secrets: bool = False) -> dict:
    mod = kind_module(ch.kind)
    secret_names = {f[0] for f in mod.FIELDS if f[3]}
    cfg = {k: ("••••" if k in secret_names and v and not secrets else v) for k, v in ch.config.items()}
    return {"id": ch.pk, "kind": ch.kind, "medium": mod.MEDIUM, "name": ch.name, "config": cfg, "enabled": ch.enabled,
            "events": ch.events, "team": ch.team.code if ch.team_id else None,
            "owner": ch.owner.username if ch.owner_id else None,
            "paused_at": ch.paused_at.isoformat() if ch.paused_at else None,
            "consecutive_failures": ch.consecutive_failures, "last_error": ch.last_error}


def delivery(d) -> dict:
    return {"id": d.pk, "delivery_id": d.key, "event": d.event, "work_order": d.work_order_code or None,
            "recipient": d.recipient, "medium": d.medium, "channel": d.channel.name if d.channel_id else None,
            "address": d.address, "status": d.status, "error": d.error, "attempts": d.attempts,
            "subject": d.subject, "created_at": d.created_at.isoformat(),
            "scheduled_at": d.scheduled_at.isoformat(), "sent_at": d.sent_at.isoformat() if d.sent_at else None}


def inbox_item(i) -> dict:
    return {"id": i.pk, "event": i.event, "subject": i.subject, "body": i.body, "url": i.url or None,
            "work_order": i.work_order.code if i.work_order_id else None,
            "ack_chain": i.chain_id if i.chain_id and i.chain and i.chain.acked_at is None else None,
            "created_at": i.created_at.isoformat(), "read": i.read_at is not None}


def policy(p) -> dict:
    return {"id": p.pk, "name": p.name, "enabled": p.enabled, "priorities": p.priorities,
            "team": p.team.code if p.team_id else None, "calendar": p.calendar or None,
            "work_start": p.work_start.strftime("%H:%M") if hasattr(p.work_start, "strftime") else p.work_start,
            "work_end": p.work_end.strftime("%H:%M") if hasattr(p.work_end, "strftime") else p.work_end,
            "weekdays": p.weekdays, "always": p.always, "steps": p.steps, "order": p.order}
