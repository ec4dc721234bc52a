import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest

from closeloop.notify.channels.base import Permanent, Retryable
from closeloop.notify.conftest import make_delivery
from closeloop.notify.models import Channel

pytestmark = pytest.mark.django_db


def _channel(sink, secret="SECtest"):
    from closeloop.core.clock import now

    return Channel.objects.create(kind="dingtalk", name="dt", created_at=now(),
                                  config={"url": sink.url + "/robot/send?access_token=abc", "secret": secret})


def test_signed_markdown_message(sink):
    ch = _channel(sink)
    from closeloop.notify.channels import dingtalk

    dingtalk.send(ch, make_delivery(ch, address="13800000001"))
    req = sink.requests[0]
    q = parse_qs(urlsplit(req["path"]).query)
    assert q["access_token"] == ["abc"]
    ts = q["timestamp"][0]
    expected = base64.b64encode(hmac.new(b"SECtest", f"{ts}\nSECtest".encode(), hashlib.sha256).digest()).decode()
    assert unquote_plus(urlsplit(req["path"]).query.split("sign=")[1]) == expected
    body = json.loads(req["body"])
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "紧急 WD1"
    assert body["at"]["atMobiles"] == ["13800000001"] and "@13800000001" in body["markdown"]["text"]
    assert req["headers"]["X-Closeloop-Delivery"] == "k1"


def test_errcode_is_an_error(sink):
    ch = _channel(sink)
    from closeloop.notify.channels import dingtalk

    sink.responses = [(200, {}, {"errcode": 310000, "errmsg": "sign not match"})]
    with pytest.raises(Permanent, match="310000"):
        dingtalk.send(ch, make_delivery(ch))
    sink.responses = [(200, {}, {"errcode": 130101, "errmsg": "send too fast"})]
    with pytest.raises(Retryable):
        dingtalk.send(ch, make_delivery(ch, key="k2"))


def test_config_is_validated():
    from closeloop.core.clock import now
    from closeloop.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as e:
        Channel.objects.create(kind="dingtalk", name="x", config={"secret": "s", "bogus": 1}, created_at=now())
    fields = {p.field for p in e.value.problems}
    assert fields == {"config.url", "config.bogus"}
