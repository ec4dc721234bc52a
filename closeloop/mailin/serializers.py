from .models import InboundMessage, Mailbox


def mailbox(mb: Mailbox) -> dict:
    return {"id": mb.pk, "name": mb.name, "kind": mb.kind, "address": mb.address, "type": mb.wo_type.key,
            "team": mb.team.code if mb.team_id else None, "host": mb.host, "port": mb.port,
            "security": mb.security, "username": mb.username, "password_set": bool(mb.password_encrypted),
            "folder": mb.folder, "poll_seconds": mb.poll_seconds, "active": mb.active,
            "last_polled_at": mb.last_polled_at, "last_ok_at": mb.last_ok_at, "last_error": mb.last_error,
            "last_error_at": mb.last_error_at}


def message(m: InboundMessage) -> dict:
    return {"id": m.pk, "mailbox": m.mailbox_id, "message_id": m.message_id, "from": m.sender,
            "name": m.sender_name, "subject": m.subject, "outcome": m.outcome, "reason": m.reason,
            "detail": m.detail, "work_order": m.work_order.code if m.work_order_id else None,
            "refused": m.refused, "received_at": m.received_at}
