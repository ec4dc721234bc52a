"""The inbound SMTP server (`closeloop mail_inbound`): aiosmtpd accepting mail only for the
addresses of active inbound-SMTP mailboxes, each message handed to
`services.do_receive_message` in a worker thread (the ORM is synchronous)."""

import logging

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections

from . import services
from .models import Kind, Mailbox

log = logging.getLogger("closeloop.mailin")


def _mailbox_for(address: str) -> Mailbox | None:
    close_old_connections()
    try:
        return Mailbox.objects.filter(kind=Kind.SMTP, active=True, address=address.lower()).first()
    finally:
        connections.close_all()  # a pool thread holds no connection between messages


def _receive(raw: bytes, addresses: list[str]) -> None:
    close_old_connections()
    try:
        for address in addresses:
            mb = Mailbox.objects.filter(kind=Kind.SMTP, active=True, address=address.lower()).first()
            if mb is not None:
                services.do_receive_message(raw, mb)
                return  # one message is one request, whichever of our addresses it was sent to
    finally:
        connections.close_all()


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if await sync_to_async(_mailbox_for, thread_sensitive=False)(address) is None:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            await sync_to_async(_receive, thread_sensitive=False)(raw, list(envelope.rcpt_tos))
        except Exception:
            log.exception("mailin: inbound SMTP message could not be taken")
            return "451 4.3.0 Try again later"
        return "250 Message accepted"


def controller(host: str, port: int, data_size_limit: int):
    from aiosmtpd.controller import Controller

    return Controller(Handler(), hostname=host, port=port, data_size_limit=data_size_limit)
