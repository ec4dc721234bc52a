"""Signed JSON webhooks to a URL of another app's own (not a configured channel): the
public API every other app uses for an outgoing HTTP call, so each goes through the same
SSRF guard, the same Delivery log and the same retries and redeliver as notifications.

    from closeloop.notify import webhooks
    problems = webhooks.url_problems(url, field="actions[0].url")    # when saving the URL
    webhooks.do_queue_webhook(key=delivery_id, url=url, secret=secret, body={...},
                              event="rule.webhook", work_order=wo, label="rule 3")   # in your transaction

Used by rules' webhook action. The POST carries `body` as JSON, exactly, with the headers
and signatures of the webhook channel (channels/webhook: X-Closeloop-Delivery and
webhook-id = `key`, stable across retries; HMAC-SHA256 with `secret`). It is sent by the
worker ("notify.deliver"), never inside the caller's request: retried on 5xx, 408, 429 and
network errors (Retry-After honoured) up to services.MAX_ATTEMPTS, given up on a 4xx, a
redirect or a refused address. The outcome goes on the work order's timeline as every
delivery's does, and an administrator can redeliver it from the delivery log.
"""

import json
import time
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from closeloop.core.clock import now
from closeloop.core.errors import FieldProblem
from closeloop.outbox import services as outbox

from .channels import base
from .channels.webhook import headers
from .models import Delivery, Medium


def url_problems(url: str, *, field: str = "url") -> list[FieldProblem]:
    """Why `url` may not receive webhooks (problems named `field`): not http(s), credentials
    in it, a private or loopback address (unless CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS). The
    address is checked again when connecting (DNS may change in between)."""
    found: list[FieldProblem] = []
    base.check_url(found, "url", url)
    return [FieldProblem(field, p.message, p.code) for p in found]


def host(url: str) -> str:
    return urlsplit(str(url or "")).hostname or "-"


def do_queue_webhook(*, key: str, url: str, secret: str, body: dict, event: str, work_order=None,
                     label: str = "", outbox_key: str | None = None) -> Delivery:
    """Record one webhook and queue its delivery (call inside your own transaction). `key`
    is the delivery id the receiver deduplicates on; queuing the same key twice keeps the
    first. `label` names the sender ("rule 3") in the delivery log and on the timeline,
    followed by the receiving host. `outbox_key` (default: `key`) names the delivery's
    outbox row when `key` is already taken by an outbox row of the caller's own."""
    t = now()
    d = Delivery(key=key[:200], cause=key[:200], event=event[:60], work_order=work_order, medium=Medium.WEBHOOK,
                 channel=None, address=str(url)[:300], recipient=(f"{label} ({host(url)})" if label else host(url))[:200],
                 subject=(label or event)[:300], webhook={"url": url, "secret": secret or "", "body": body},
                 created_at=t, scheduled_at=t, updated_at=t)
    try:
        with transaction.atomic():
            d.save()
    except IntegrityError:
        return Delivery.objects.get(key=key[:200])
    outbox.enqueue("notify.deliver", (outbox_key or d.key)[:200], {"delivery": d.pk}, at=t)
    return d


def send(d: Delivery) -> str:
    """The transport of a direct webhook (services._send): the stored body, signed."""
    w = d.webhook or {}
    raw = json.dumps(w.get("body") or {}, ensure_ascii=False, separators=(",", ":")).encode()
    base.request("POST", w.get("url") or "", content=raw,
                 headers=headers(w.get("secret") or "", d.key, raw, int(time.time())))
    return ""
