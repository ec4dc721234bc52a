"""DingTalk group robot (custom robot with the "加签" signing secret).

POST {webhook}&timestamp={ms}&sign={urlencode(base64(HMAC-SHA256(key=secret, msg=f"{ms}\\n{secret}")))}
with {"msgtype": "markdown", "markdown": {"title", "text"}, "at": {"atMobiles": [...]}}.
The robot answers HTTP 200 with {"errcode": 0}; anything else is an error."""

import base64
import hashlib
import hmac
import time
from urllib.parse import quote_plus

from django.utils.translation import gettext_lazy

from ..base import Permanent, Retryable, check_url, done, request, require

KIND = "dingtalk"
MEDIUM = "dingtalk"
LABEL = gettext_lazy("DingTalk group robot")
FIELDS = [("url", gettext_lazy("webhook URL (with access_token)"), True, False),
          ("secret", gettext_lazy("signing secret (SEC…)"), False, True)]
#: Sent too fast / system busy: try again later.
RETRY_CODES = {130101, -1, 130102}


def validate(config: dict) -> dict:
    problems: list = []
    clean = require(config, FIELDS, problems)
    check_url(problems, "url", clean.get("url"))
    return done(problems, clean)


def sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def signed_url(config: dict, timestamp_ms: int | None = None) -> str:
    url = config["url"]
    if config.get("secret"):
        ts = timestamp_ms or int(time.time() * 1000)
        url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={sign(config['secret'], ts)}"
    return url


def send(channel, msg) -> str:
    text = msg.markdown or msg.body
    mobiles = [msg.address] if msg.address else []
    if mobiles:
        text += "\n\n" + " ".join("@" + m for m in mobiles)
    body = {"msgtype": "markdown", "markdown": {"title": msg.subject[:60], "text": text},
            "at": {"atMobiles": mobiles, "isAtAll": False}}
    r = request("POST", signed_url(channel.config), json=body, headers={"X-Closeloop-Delivery": msg.key})
    data = r.json() or {}
    code = data.get("errcode")
    if code == 0:
        return ""
    if code in RETRY_CODES:
        raise Retryable(f"DingTalk errcode {code}: {data.get('errmsg', '')}", retry_after=60)
    raise Permanent(f"DingTalk errcode {code}: {data.get('errmsg', '')}")
