"""Tencent Cloud SMS (SendSms, API 2021-01-11) signed with TC3-HMAC-SHA256.

The template's parameters are [work order code, message]."""

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.utils.translation import gettext_lazy

from ..base import Permanent, Retryable, check_url, done, request, require

KIND = "sms_tencent"
MEDIUM = "sms"
LABEL = gettext_lazy("SMS: Tencent Cloud")
FIELDS = [("secret_id", gettext_lazy("SecretId"), True, False), ("secret_key", gettext_lazy("SecretKey"), True, True),
          ("sdk_app_id", gettext_lazy("SmsSdkAppId"), True, False), ("sign_name", gettext_lazy("signature name"), True, False),
          ("template_id", gettext_lazy("template ID"), True, False), ("region", gettext_lazy("region"), False, False),
          ("endpoint", gettext_lazy("endpoint"), False, False)]
ENDPOINT = "https://sms.tencentcloudapi.com/"
SERVICE = "sms"
VERSION = "2021-01-11"
ADDRESS_CODES = {"InvalidParameterValue.IncorrectPhoneNumber", "FailedOperation.PhoneNumberInBlacklist",
                 "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber"}


def validate(config: dict) -> dict:
    problems: list = []
    clean = require(config, FIELDS, problems)
    check_url(problems, "endpoint", clean.get("endpoint"))
    return done(problems, clean)


def _h(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def authorization(secret_id: str, secret_key: str, host: str, payload: str, timestamp: int) -> str:
    ct = "application/json; charset=utf-8"
    canonical = f"POST\n/\n\ncontent-type:{ct}\nhost:{host}\n\ncontent-type;host\n" + \
        hashlib.sha256(payload.encode()).hexdigest()
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{SERVICE}/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n" + hashlib.sha256(canonical.encode()).hexdigest()
    key = _h(_h(_h(("TC3" + secret_key).encode(), date), SERVICE), "tc3_request")
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={sig}"


def send(channel, msg) -> str:
    c = channel.config
    if not msg.address:
        raise Permanent("No phone number.", address=True)
    phone = msg.address if msg.address.startswith("+") else "+86" + msg.address
    endpoint = c.get("endpoint") or ENDPOINT
    host = urlsplit(endpoint).netloc
    payload = json.dumps({"PhoneNumberSet": [phone], "SmsSdkAppId": c["sdk_app_id"], "SignName": c["sign_name"],
                          "TemplateId": c["template_id"], "TemplateParamSet": [msg.work_order_code or "-", msg.body],
                          "SessionContext": msg.key}, ensure_ascii=False, separators=(",", ":"))
    ts = int(time.time())
    r = request("POST", endpoint, content=payload.encode(), headers={
        "Authorization": authorization(c["secret_id"], c["secret_key"], host, payload, ts),
        "Content-Type": "application/json; charset=utf-8", "Host": host, "X-TC-Action": "SendSms",
        "X-TC-Timestamp": str(ts), "X-TC-Version": VERSION, "X-TC-Region": c.get("region") or "ap-guangzhou"})
    resp = (r.json() or {}).get("Response") or {}
    err = resp.get("Error")
    if err:
        code = err.get("Code", "")
        if code in ADDRESS_CODES:
            raise Permanent(f"{code}: {err.get('Message', '')}", address=True)
        if code.startswith(("LimitExceeded", "InternalError", "RequestLimitExceeded")):
            raise Retryable(f"{code}: {err.get('Message', '')}", retry_after=60)
        raise Permanent(f"{code}: {err.get('Message', '')}")
    status = (resp.get("SendStatusSet") or [{}])[0]
    code = status.get("Code", "")
    if code == "Ok":
        return status.get("SerialNo", "")
    if code in ADDRESS_CODES:
        raise Permanent(f"{code}: {status.get('Message', '')}", address=True)
    if code.startswith("LimitExceeded"):
        raise Retryable(f"{code}: {status.get('Message', '')}", retry_after=60)
    raise Permanent(f"{code}: {status.get('Message', '')}")
