import base64
import hashlib
import hmac
import json

import pytest

from closeloop.notify.channels import feishu
from closeloop.notify.channels.base import Permanent
from closeloop.notify.conftest import make_delivery
from closeloop.notify.models import Channel

pytestmark = pytest.mark.django_db


def test_signed_card_with_markdown(sink):
    from closeloop.core.clock import now

    ch = Channel.objects.create(kind="feishu", name="fs", created_at=now(),
                                config={"url": sink.url + "/open-apis/bot/v2/hook/xyz", "secret": "s3cr3t"})
    feishu.send(ch, make_delivery(ch, markdown="**WD1** 冷却报警"))
    body = json.loads(sink.requests[0]["body"])
    ts = body["timestamp"]
    key = f"{ts}\ns3cr3t".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["msg_type"] == "interactive"
    assert body["card"]["elements"][0] == {"tag": "markdown", "content": "**WD1** 冷却报警"}
    sink.responses = [(200, {}, {"code": 19021, "msg": "sign match fail"})]
    with pytest.raises(Permanent, match="19021"):
        feishu.send(ch, make_delivery(ch, key="k2"))
