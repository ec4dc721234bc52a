"""WeCom (企业微信) group robot: POST {webhook with ?key=} {"msgtype": "markdown",
"markdown": {"content"}}; HTTP 200 with {"errcode": 0} on success."""

from django.utils.translation import gettext_lazy

from ..base import Permanent, Retryable, check_url, done, request, require

KIND = "wecom"
MEDIUM = "wecom"
LABEL = gettext_lazy("WeCom group robot")
FIELDS = [("url", gettext_lazy("webhook URL (with key)"), True, False)]
RETRY_CODES = {45009, -1}
MAX_BYTES = 4096


def validate(config: dict) -> dict:
    problems: list = []
    clean = require(config, FIELDS, problems)
    check_url(problems, "url", clean.get("url"))
    return done(problems, clean)


def send(channel, msg) -> str:
    content = msg.markdown or msg.body
    while len(content.encode()) > MAX_BYTES:
        content = content[: len(content) - 50]
    if msg.address:
        content += f"\n<@{msg.address}>"
    r = request("POST", channel.config["url"], json={"msgtype": "markdown", "markdown": {"content": content}},
                headers={"X-Closeloop-Delivery": msg.key})
    data = r.json() or {}
    code = data.get("errcode")
    if code == 0:
        return ""
    if code in RETRY_CODES:
        raise Retryable(f"WeCom errcode {code}: {data.get('errmsg', '')}", retry_after=60)
    raise Permanent(f"WeCom errcode {code}: {data.get('errmsg', '')}")
