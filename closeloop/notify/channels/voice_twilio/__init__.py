"""Twilio voice call: POST …/Calls.json with To, From and inline TwiML that says the message."""

from xml.sax.saxutils import escape

from django.utils.translation import gettext_lazy

from ..base import Permanent, check_url, done, require
from ..sms_twilio import e164, post

KIND = "voice_twilio"
MEDIUM = "voice"
LABEL = gettext_lazy("Voice call: Twilio")
FIELDS = [("account_sid", gettext_lazy("account SID"), True, False),
          ("auth_token", gettext_lazy("auth token"), True, True),
          ("from_number", gettext_lazy("from number"), True, False),
          ("endpoint", gettext_lazy("endpoint"), False, False)]


def validate(config: dict) -> dict:
    problems: list = []
    clean = require(config, FIELDS, problems)
    check_url(problems, "endpoint", clean.get("endpoint"))
    return done(problems, clean)


def send(channel, msg) -> str:
    if not msg.address:
        raise Permanent("No phone number.", address=True)
    lang = "zh-CN" if (msg.language or "").startswith("zh") else "en-US"
    twiml = f'<Response><Say language="{lang}">{escape(msg.body)}</Say></Response>'
    data = post(channel.config, "Calls.json", {"To": e164(msg.address), "From": channel.config["from_number"],
                                               "Twiml": twiml})
    return data.get("sid", "")
