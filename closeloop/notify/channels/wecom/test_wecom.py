import json

import pytest

from closeloop.notify.channels import wecom
from closeloop.notify.channels.base import Permanent, Retryable
from closeloop.notify.conftest import make_delivery
from closeloop.notify.models import Channel

pytestmark = pytest.mark.django_db


def test_markdown_with_key_in_url(sink):
    from closeloop.core.clock import now

    ch = Channel.objects.create(kind="wecom", name="wc", created_at=now(),
                                config={"url": sink.url + "/cgi-bin/webhook/send?key=KEY1"})
    wecom.send(ch, make_delivery(ch, markdown="### 紧急\n**WD1**"))
    req = sink.requests[0]
    assert req["path"] == "/cgi-bin/webhook/send?key=KEY1"
    assert json.loads(req["body"]) == {"msgtype": "markdown", "markdown": {"content": "### 紧急\n**WD1**"}}
    sink.responses = [(200, {}, {"errcode": 93000, "errmsg": "invalid webhook url"})]
    with pytest.raises(Permanent):
        wecom.send(ch, make_delivery(ch, key="k2"))
    sink.responses = [(200, {}, {"errcode": 45009, "errmsg": "api freq out of limit"})]
    with pytest.raises(Retryable):
        wecom.send(ch, make_delivery(ch, key="k3"))
