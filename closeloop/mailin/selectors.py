"""Permission-checked reads of the mail intake."""

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from closeloop.core.errors import Forbidden, NotFound

from .models import InboundMessage, Mailbox, Outcome
from .services import may_decide, may_manage_mailboxes


def mailboxes(user) -> QuerySet:
    if not may_manage_mailboxes(user):
        raise Forbidden(_("Only administrators configure mailboxes."))
    return Mailbox.objects.select_related("wo_type", "team")


def mailbox(user, pk) -> Mailbox:
    mb = mailboxes(user).filter(pk=pk).first()
    if mb is None:
        raise NotFound()
    return mb


def recent_messages(user, mb: Mailbox, limit: int = 30) -> list[InboundMessage]:
    mailboxes(user)
    return list(InboundMessage.objects.filter(mailbox=mb).select_related("work_order").defer("raw")[:limit])


def held(user) -> QuerySet:
    if not may_decide(user):
        raise Forbidden(_("Only dispatchers decide on held mail."))
    return InboundMessage.objects.filter(outcome=Outcome.HELD).select_related("mailbox", "mailbox__wo_type") \
        .defer("raw")


def held_message(user, pk) -> InboundMessage:
    m = InboundMessage.objects.filter(pk=pk).select_related("mailbox").first() if may_decide(user) else None
    if m is None:
        if not may_decide(user):
            raise Forbidden(_("Only dispatchers decide on held mail."))
        raise NotFound()
    return m


def held_preview(m: InboundMessage) -> dict:
    from . import parsing

    p = parsing.parse(bytes(m.raw or b""))
    return {"text": p.text[:2000], "attachments": [name for name, _d in p.attachments]}
