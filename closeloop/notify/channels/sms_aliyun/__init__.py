"""Aliyun SMS (dysmsapi, SendSms) with the RPC signature v1: HMAC-SHA1 over
"POST&%2F&" + percent-encoded canonicalized query, key = AccessKeySecret + "&".

The message goes into the approved template as TemplateParam {"code": …, "content": …}
(name the template's variables in `params` if yours differ)."""

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

from django.utils.translation import gettext_lazy

from ..base import Permanent, Retryable, check_url, done, request, require

KIND = "sms_aliyun"
MEDIUM = "sms"
LABEL = gettext_lazy("SMS: Aliyun")
FIELDS = [("access_key_id", gettext_lazy("AccessKey ID"), True, False),
          ("access_key_secret", gettext_lazy("AccessKey secret"), True, True),
          ("sign_name", gettext_lazy("signature name"), True, False),
          ("template_code", gettext_lazy("template code"), True, False),
          ("endpoint", gettext_lazy("endpoint"), False, False)]
ENDPOINT = "https://dysmsapi.aliyuncs.com/"
ADDRESS_CODES = {"isv.MOBILE_NUMBER_ILLEGAL", "isv.MOBILE_COUNT_OVER_LIMIT", "isv.BLACK_KEY_CONTROL_LIMIT"}
RETRY_CODES = {"isv.BUSINESS_LIMIT_CONTROL", "Throttling", "Throttling.User", "isp.SYSTEM_ERROR",
               "ServiceUnavailable", "isv.DAY_LIMIT_CONTROL"}


def validate(config: dict) -> dict:
    problems: list = []
    clean = require(config, FIELDS, problems)
    check_url(problems, "endpoint", clean.get("endpoint"))
    return done(problems, clean)


def pct(s: str) -> str:
    return quote(str(s), safe="~")


def signature(params: dict, secret: str, method: str = "POST") -> str:
    canonical = "&".join(f"{pct(k)}={pct(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{pct('/')}&{pct(canonical)}"
    return base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


def rpc(config: dict, action: str, version: str, params: dict, default_endpoint: str) -> dict:
    p = {"AccessKeyId": config["access_key_id"], "Action": action, "Format": "JSON", "RegionId": "cn-hangzhou",
         "SignatureMethod": "HMAC-SHA1", "SignatureNonce": uuid.uuid4().hex, "SignatureVersion": "1.0",
         "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": version, **params}
    p["Signature"] = signature(p, config["access_key_secret"])
    r = request("POST", config.get("endpoint") or default_endpoint, data=p, check=False)
    data = r.json() or {}
    code = data.get("Code")
    if r.status_code < 300 and code == "OK":
        return data
    message = f"{code}: {data.get('Message', r.text[:200])}"
    if code in ADDRESS_CODES:
        raise Permanent(message, address=True)
    if code in RETRY_CODES or r.status_code >= 500 or r.status_code == 429:
        raise Retryable(message, retry_after=60 if r.status_code < 500 else None)
    raise Permanent(message)


def send(channel, msg) -> str:
    if not msg.address:
        raise Permanent("No phone number.", address=True)
    data = rpc(channel.config, "SendSms", "2017-05-25", {
        "PhoneNumbers": msg.address, "SignName": channel.config["sign_name"],
        "TemplateCode": channel.config["template_code"],
        "TemplateParam": json.dumps({"code": msg.work_order_code, "content": msg.body}, ensure_ascii=False),
    }, ENDPOINT)
    return data.get("BizId", "")
