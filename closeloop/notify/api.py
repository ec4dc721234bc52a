"""Notifications API (/api/v1/notifications/...): inbox, preferences, channels, delivery
log, acknowledge-or-escalate policies and acknowledgements. Thin over services."""

from django.utils.translation import gettext as _
from ninja import Router, Status
from pydantic import Field

from closeloop.core.apikit import StrictSchema, require_role, require_scope
from closeloop.core.errors import DomainError, NotFound

from . import ack, messages, selectors, serializers, services
from .models import AckPolicy, Medium, UserSettings
from .models import Status as DStatus

router = Router(tags=["notifications"])
ADMINS = ("admin", "manager")


@router.get("/notifications/inbox", response=dict, summary="My in-app messages, newest first")
def inbox(request, unread: bool = False, limit: int = 50):
    require_scope(request, "read")
    qs = selectors.inbox(request.auth)
    if unread:
        qs = qs.filter(read_at__isnull=True)
    return {"unread": services.unread_count(request.auth),
            "items": [serializers.inbox_item(i)
                      for i in messages.for_reader(list(qs[: max(1, min(limit, 200))]))]}


class ReadIn(StrictSchema):
    id: int | None = Field(None, description="One message; absent = all")


@router.post("/notifications/inbox/read", response=dict, summary="Mark my messages read")
def mark_read(request, body: ReadIn):
    require_scope(request, "write")
    return {"marked": services.do_mark_read(actor=request.auth, item_id=body.id)}


class PrefIn(StrictSchema):
    event: str = Field("*", max_length=60)
    medium: str
    enabled: bool = True


class PrefsIn(StrictSchema):
    preferences: list[PrefIn] = []
    quiet_start: str | None = Field(None, description="HH:MM in my time zone; null with quiet_end clears")
    quiet_end: str | None = None
    weekly_digest: bool | None = Field(None, description="The weekly analytics digest on or off (managers, "
                                                         "administrators); absent = unchanged")


def _prefs(user) -> dict:
    from .selectors import digest_offered, wants_digest

    s = UserSettings.objects.filter(user=user).first()
    return {"preferences": [{"event": p.event, "medium": p.medium, "enabled": p.enabled}
                            for p in user.notify_prefs.order_by("event", "medium")],
            "quiet_start": s.quiet_start.strftime("%H:%M") if s and s.quiet_start else None,
            "quiet_end": s.quiet_end.strftime("%H:%M") if s and s.quiet_end else None,
            "time_zone": user.time_zone or None, "media": list(Medium.values),
            # null: not offered to this role (selectors.digest_offered)
            "weekly_digest": wants_digest(user) if digest_offered(user) else None}


@router.get("/notifications/preferences", response=dict, summary="My notification preferences")
def get_prefs(request):
    require_scope(request, "read")
    return _prefs(request.auth)


@router.put("/notifications/preferences", response=dict, summary="Set my notification preferences")
def put_prefs(request, body: PrefsIn):
    require_scope(request, "write")
    from datetime import time

    from closeloop.core.errors import FieldProblem, ValidationFailed

    times = {}
    for k in ("quiet_start", "quiet_end"):
        v = getattr(body, k)
        try:
            times[k] = time.fromisoformat(v) if v else None
        except ValueError:
            raise ValidationFailed(FieldProblem(k, _("A time of day, HH:MM.")))
    if (times["quiet_start"] is None) != (times["quiet_end"] is None):
        raise ValidationFailed(FieldProblem("quiet_end", _("Give both ends of the quiet hours, or neither.")))
    services.do_set_preferences(actor=request.auth, prefs=[p.model_dump() for p in body.preferences],
                                set_quiet=True, digest=body.weekly_digest, **times)
    return _prefs(request.auth)


# ---- channels (admin, manager) ---------------------------------------------------------------

class ChannelIn(StrictSchema):
    kind: str
    name: str = Field(max_length=100)
    config: dict = {}
    enabled: bool = True
    events: list[str] = []
    team: str | None = None
    owner: str | None = None


class ChannelPatch(StrictSchema):
    name: str | None = Field(None, max_length=100)
    config: dict | None = None
    enabled: bool | None = None
    events: list[str] | None = None
    team: str | None = None
    owner: str | None = None


@router.get("/notifications/channels", response=list[dict], summary="Configured channels (secrets masked)")
def list_channels(request):
    require_scope(request, "read")
    require_role(request, *ADMINS)
    return [serializers.channel(c) for c in selectors.channels(request.auth)]


@router.post("/notifications/channels", response={201: dict}, summary="Add a channel (config validated per kind)")
def create_channel(request, body: ChannelIn):
    require_scope(request, "write")
    require_role(request, *ADMINS)
    ch = services.do_create_channel(actor=request.auth, data=body.model_dump())
    return Status(201, serializers.channel(ch))


@router.get("/notifications/channels/{cid}", response=dict)
def get_channel(request, cid: int):
    require_scope(request, "read")
    require_role(request, *ADMINS)
    return serializers.channel(selectors.channel(request.auth, cid))


@router.patch("/notifications/channels/{cid}", response=dict, summary="Edit a channel (blank secrets are kept)")
def patch_channel(request, cid: int, body: ChannelPatch):
    require_scope(request, "write")
    require_role(request, *ADMINS)
    ch = selectors.channel(request.auth, cid)
    return serializers.channel(services.do_update_channel(actor=request.auth, channel=ch,
                                                          data=body.model_dump(exclude_unset=True)))


class TestIn(StrictSchema):
    address: str = Field("", max_length=300, description="Phone or email for SMS/voice/email channels")


@router.post("/notifications/channels/{cid}/test", response=dict, summary="Send a test message now")
def test_channel(request, cid: int, body: TestIn):
    require_scope(request, "write")
    require_role(request, *ADMINS)
    d = services.do_send_test(actor=request.auth, channel=selectors.channel(request.auth, cid), address=body.address)
    return serializers.delivery(d)


@router.post("/notifications/channels/{cid}/resume", response=dict, summary="Resume a paused channel")
def resume_channel(request, cid: int):
    require_scope(request, "write")
    require_role(request, *ADMINS)
    return serializers.channel(services.do_resume_channel(actor=request.auth,
                                                          channel=selectors.channel(request.auth, cid)))


# ---- delivery log ------------------------------------------------------------------------------

@router.get("/notifications/deliveries", response=list[dict], summary="Delivery log with filters")
def list_deliveries(request, status: str | None = None, medium: str | None = None, work_order: str | None = None,
                    channel: int | None = None, event: str | None = None, limit: int = 100):
    require_scope(request, "read")
    require_role(request, *ADMINS)
    if status and status not in DStatus.values:
        raise DomainError(_("Unknown status."), 422, "validation")
    qs = selectors.deliveries(request.auth, status=status, medium=medium, work_order=work_order, channel=channel,
                              event=event)
    return [serializers.delivery(d) for d in qs[: max(1, min(limit, 500))]]


@router.post("/notifications/deliveries/{did}/redeliver", response=dict, summary="Send again (same delivery id)")
def redeliver(request, did: int):
    require_scope(request, "write")
    require_role(request, *ADMINS)
    return serializers.delivery(services.do_redeliver(actor=request.auth,
                                                      delivery=selectors.delivery(request.auth, did)))


# ---- acknowledge-or-escalate ---------------------------------------------------------------------

class PolicyIn(StrictSchema):
    name: str = Field(max_length=100)
    enabled: bool = True
    priorities: list[str] = ["urgent"]
    team: str | None = None
    calendar: str | None = None
    work_start: str = "08:30"
    work_end: str = "18:00"
    weekdays: list[int] = [0, 1, 2, 3, 4]
    always: bool = False
    steps: list[dict] = Field(default_factory=lambda: list(ack.DEFAULT_STEPS))
    order: int = 0


class PolicyPatch(StrictSchema):
    name: str | None = Field(None, max_length=100)
    enabled: bool | None = None
    priorities: list[str] | None = None
    team: str | None = None
    calendar: str | None = None
    work_start: str | None = None
    work_end: str | None = None
    weekdays: list[int] | None = None
    always: bool | None = None
    steps: list[dict] | None = None
    order: int | None = None


@router.get("/notifications/ack-policies", response=list[dict], summary="Acknowledge-or-escalate policies")
def list_policies(request):
    require_scope(request, "read")
    require_role(request, *ADMINS, "dispatcher")
    return [serializers.policy(p) for p in AckPolicy.objects.select_related("team")]


@router.post("/notifications/ack-policies", response={201: dict})
def create_policy(request, body: PolicyIn):
    require_scope(request, "write")
    require_role(request, *ADMINS)
    return Status(201, serializers.policy(ack.do_save_policy(actor=request.auth, data=body.model_dump())))


@router.patch("/notifications/ack-policies/{pid}", response=dict)
def patch_policy(request, pid: int, body: PolicyPatch):
    require_scope(request, "write")
    require_role(request, *ADMINS)
    p = AckPolicy.objects.filter(pk=pid).first()
    if p is None:
        raise NotFound(_("No such policy."))
    return serializers.policy(ack.do_save_policy(actor=request.auth, data=body.model_dump(exclude_unset=True),
                                                 policy=p))


@router.post("/notifications/chains/{cid}/ack", response=dict, summary="Acknowledge an urgent work order")
def ack_chain(request, cid: int):
    require_scope(request, "write")
    c = selectors.chain(request.auth, cid)
    ack.do_ack(actor=request.auth, chain=c)
    c.refresh_from_db()
    return {"chain": c.pk, "work_order": c.work_order.code, "acked_at": c.acked_at.isoformat(), "via": c.acked_via}
