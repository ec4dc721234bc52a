import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from closeloop.notify.channels import sms_tencent
from closeloop.notify.channels.base import Permanent
from closeloop.notify.conftest import make_delivery
from closeloop.notify.models import Channel

pytestmark = pytest.mark.django_db


def _expected_auth(headers, body, secret_id, secret_key):
    """Recompute TC3-HMAC-SHA256 the way Tencent Cloud's documentation describes it."""
    ts = int(headers["X-TC-Timestamp"])
    date = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
    canonical = ("POST\n/\n\n" f"content-type:{headers['Content-Type']}\nhost:{headers['Host']}\n\n"
                 "content-type;host\n" + hashlib.sha256(body).hexdigest())
    scope = f"{date}/sms/tc3_request"
    sts = f"TC3-HMAC-SHA256\n{ts}\n{scope}\n" + hashlib.sha256(canonical.encode()).hexdigest()

    def h(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    key = h(h(h(("TC3" + secret_key).encode(), date), "sms"), "tc3_request")
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    return f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={sig}"


def test_tc3_signed_send_sms(sink):
    from closeloop.core.clock import now

    ch = Channel.objects.create(kind="sms_tencent", name="tc", created_at=now(), config={
        "secret_id": "AKID1", "secret_key": "KEY1", "sdk_app_id": "1400000000", "sign_name": "腾讯云",
        "template_id": "449739", "endpoint": sink.url + "/"})
    sink.responses = [(200, {}, {"Response": {"SendStatusSet": [{"Code": "Ok", "SerialNo": "2028:1"}],
                                              "RequestId": "r1"}})]
    assert sms_tencent.send(ch, make_delivery(ch, address="13800000001")) == "2028:1"
    req = sink.requests[0]
    assert req["headers"]["Authorization"] == _expected_auth(req["headers"], req["body"], "AKID1", "KEY1")
    assert req["headers"]["X-TC-Action"] == "SendSms" and req["headers"]["X-TC-Version"] == "2021-01-11"
    body = json.loads(req["body"])
    assert body["PhoneNumberSet"] == ["+8613800000001"] and body["TemplateParamSet"][1] == "冷却报警 WD1"
    sink.responses = [(200, {}, {"Response": {"SendStatusSet": [
        {"Code": "InvalidParameterValue.IncorrectPhoneNumber", "Message": "bad"}], "RequestId": "r2"}})]
    with pytest.raises(Permanent) as e:
        sms_tencent.send(ch, make_delivery(ch, address="1", key="k2"))
    assert e.value.address
