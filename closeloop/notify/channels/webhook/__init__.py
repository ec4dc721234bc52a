"""Generic webhook: POST JSON with the delivery id (X-Closeloop-Delivery, also Standard
Webhooks `webhook-id`) and an HMAC-SHA256 signature of f"{timestamp}.{body}" in
X-Closeloop-Signature: sha256=<hex> (and `webhook-signature: v1,<base64>` over
f"{id}.{timestamp}.{body}")."""

import base64
import hashlib
import hmac
import json
import time

from django.utils.translation import gettext_lazy

from ..base import check_url, done, request, require

KIND = "webhook"
MEDIUM = "webhook"
LABEL = gettext_lazy("Webhook")
FIELDS = [("url", gettext_lazy("URL"), True, False), ("secret", gettext_lazy("signing secret"), False, True)]


def validate(config: dict) -> dict:
    problems: list = []
    clean = require(config, FIELDS, problems)
    check_url(problems, "url", clean.get("url"))
    return done(problems, clean)


def payload(msg) -> dict:
    return {"id": msg.key, "event": msg.event, "work_order": msg.work_order_code or None, "recipient": msg.recipient,
            "subject": msg.subject, "text": msg.body, "url": msg.url or None}


def headers(secret: str, delivery_id: str, body: bytes, ts: int) -> dict:
    h = {"Content-Type": "application/json", "X-Closeloop-Delivery": delivery_id, "X-Closeloop-Timestamp": str(ts),
         "webhook-id": delivery_id, "webhook-timestamp": str(ts)}
    if secret:
        mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        h["X-Closeloop-Signature"] = "sha256=" + mac
        sw = hmac.new(secret.encode(), f"{delivery_id}.{ts}.".encode() + body, hashlib.sha256).digest()
        h["webhook-signature"] = "v1," + base64.b64encode(sw).decode()
    return h


def send(channel, msg) -> str:
    body = json.dumps(payload(msg), ensure_ascii=False, separators=(",", ":")).encode()
    ts = int(time.time())
    request("POST", channel.config["url"], content=body,
            headers=headers(channel.config.get("secret", ""), msg.key, body, ts))
    return ""
