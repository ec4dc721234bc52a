"""Feishu / Lark custom bot with signature verification.

sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")), timestamp in seconds, both in
the JSON body beside an interactive card whose body is markdown. Success: {"code": 0}."""

import base64
import hashlib
import hmac
import time

from django.utils.translation import gettext_lazy

from ..base import Permanent, Retryable, check_url, done, request, require

KIND = "feishu"
MEDIUM = "feishu"
LABEL = gettext_lazy("Feishu / Lark bot")
FIELDS = [("url", gettext_lazy("webhook URL"), True, False), ("secret", gettext_lazy("signing secret"), False, True)]
RETRY_CODES = {11232, 9499}


def validate(config: dict) -> dict:
    problems: list = []
    clean = require(config, FIELDS, problems)
    check_url(problems, "url", clean.get("url"))
    return done(problems, clean)


def sign(secret: str, timestamp: int) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def send(channel, msg) -> str:
    body: dict = {"msg_type": "interactive", "card": {
        "header": {"title": {"tag": "plain_text", "content": msg.subject[:100]}},
        "elements": [{"tag": "markdown", "content": msg.markdown or msg.body}]}}
    if channel.config.get("secret"):
        ts = int(time.time())
        body.update(timestamp=str(ts), sign=sign(channel.config["secret"], ts))
    r = request("POST", channel.config["url"], json=body, headers={"X-Closeloop-Delivery": msg.key})
    data = r.json() or {}
    code = data.get("code", data.get("StatusCode"))
    if code == 0:
        return ""
    if code in RETRY_CODES:
        raise Retryable(f"Feishu code {code}: {data.get('msg', '')}", retry_after=60)
    raise Permanent(f"Feishu code {code}: {data.get('msg', data.get('StatusMessage', ''))}")
