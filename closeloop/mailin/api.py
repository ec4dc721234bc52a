"""Mail intake API: mailboxes (administrators) and held mail (dispatchers). Thin over services."""

from ninja import Router, Status
from pydantic import Field

from closeloop.core.apikit import StrictSchema, require_scope

from . import imap, selectors, serializers, services

router = Router(tags=["email"])


class MailboxIn(StrictSchema):
    name: str = Field(max_length=100)
    kind: str = "imap"
    address: str = Field(max_length=254)
    type: str
    team: str | None = None
    host: str = ""
    port: int | None = None
    security: str = "ssl"
    username: str = ""
    password: str = Field("", max_length=500)
    folder: str = "INBOX"
    poll_seconds: int = 60
    active: bool = True


class MailboxPatch(StrictSchema):
    name: str | None = Field(None, max_length=100)
    kind: str | None = None
    address: str | None = Field(None, max_length=254)
    type: str | None = None
    team: str | None = None
    host: str | None = None
    port: int | None = None
    security: str | None = None
    username: str | None = None
    password: str | None = Field(None, max_length=500)
    folder: str | None = None
    poll_seconds: int | None = None
    active: bool | None = None


class AcceptIn(StrictSchema):
    customer: str
    type: str | None = None


def _admin(request):
    require_scope(request, "read" if request.method == "GET" else "write")
    selectors.mailboxes(request.auth)


@router.get("/mailboxes", response=list[dict], summary="Inbound mailboxes (passwords never shown)")
def list_mailboxes(request):
    _admin(request)
    return [serializers.mailbox(m) for m in selectors.mailboxes(request.auth)]


@router.post("/mailboxes", response={201: dict}, summary="Add a mailbox (IMAP or inbound SMTP)")
def create_mailbox(request, body: MailboxIn):
    _admin(request)
    return Status(201, serializers.mailbox(services.do_create_mailbox(actor=request.auth, data=body.model_dump())))


@router.get("/mailboxes/{mid}", response=dict)
def get_mailbox(request, mid: int):
    _admin(request)
    return serializers.mailbox(selectors.mailbox(request.auth, mid))


@router.patch("/mailboxes/{mid}", response=dict, summary="Edit a mailbox (a blank password is kept)")
def patch_mailbox(request, mid: int, body: MailboxPatch):
    _admin(request)
    mb = selectors.mailbox(request.auth, mid)
    data = {k: v for k, v in body.model_dump(exclude_unset=True).items() if not (k == "password" and not v)}
    return serializers.mailbox(services.do_update_mailbox(actor=request.auth, mailbox=mb, data=data))


@router.delete("/mailboxes/{mid}", response={204: None})
def delete_mailbox(request, mid: int):
    _admin(request)
    services.do_delete_mailbox(actor=request.auth, mailbox=selectors.mailbox(request.auth, mid))
    return Status(204, None)


@router.post("/mailboxes/{mid}/poll", response=dict, summary="Poll an IMAP mailbox now")
def poll_mailbox(request, mid: int):
    _admin(request)
    mb = selectors.mailbox(request.auth, mid)
    taken, error = imap.poll(mb) if mb.kind == "imap" else (0, None)
    mb.refresh_from_db()
    return {"taken": taken, "error": error, "mailbox": serializers.mailbox(mb)}


@router.get("/mailboxes/{mid}/messages", response=list[dict], summary="What a mailbox received lately")
def mailbox_messages(request, mid: int):
    _admin(request)
    mb = selectors.mailbox(request.auth, mid)
    return [serializers.message(m) for m in selectors.recent_messages(request.auth, mb, 100)]


@router.get("/mail/held", response=list[dict], summary="Mail from unknown senders waiting for a dispatcher")
def list_held(request):
    require_scope(request, "read")
    return [serializers.message(m) for m in selectors.held(request.auth)[:200]]


@router.post("/mail/held/{pk}/accept", response=dict, summary="Open a work order from a held mail")
def accept_held(request, pk: int, body: AcceptIn):
    require_scope(request, "write")
    m = selectors.held_message(request.auth, pk)
    return serializers.message(services.do_accept_message(actor=request.auth, message=m,
                                                          data=body.model_dump(exclude_none=True)))


@router.post("/mail/held/{pk}/discard", response=dict, summary="Discard a held mail")
def discard_held(request, pk: int):
    require_scope(request, "write")
    m = selectors.held_message(request.auth, pk)
    return serializers.message(services.do_discard_message(actor=request.auth, message=m))
