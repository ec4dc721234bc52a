"""Aliyun voice service (dyvmsapi, SingleCallByTts): a call that reads the message
through an approved TTS template, signed like every Aliyun RPC API (see sms_aliyun)."""

import json

from django.utils.translation import gettext_lazy

from ..base import Permanent, check_url, done, require
from ..sms_aliyun import rpc

KIND = "voice_aliyun"
MEDIUM = "voice"
LABEL = gettext_lazy("Voice call: Aliyun")
FIELDS = [("access_key_id", gettext_lazy("AccessKey ID"), True, False),
          ("access_key_secret", gettext_lazy("AccessKey secret"), True, True),
          ("called_show_number", gettext_lazy("caller number shown"), True, False),
          ("tts_code", gettext_lazy("TTS template code"), True, False),
          ("endpoint", gettext_lazy("endpoint"), False, False)]
ENDPOINT = "https://dyvmsapi.aliyuncs.com/"


def validate(config: dict) -> dict:
    problems: list = []
    clean = require(config, FIELDS, problems)
    check_url(problems, "endpoint", clean.get("endpoint"))
    return done(problems, clean)


def send(channel, msg) -> str:
    if not msg.address:
        raise Permanent("No phone number.", address=True)
    data = rpc(channel.config, "SingleCallByTts", "2017-05-25", {
        "CalledShowNumber": channel.config["called_show_number"], "CalledNumber": msg.address,
        "TtsCode": channel.config["tts_code"],
        "TtsParam": json.dumps({"code": msg.work_order_code, "content": msg.body}, ensure_ascii=False),
    }, ENDPOINT)
    return data.get("CallId", "")
