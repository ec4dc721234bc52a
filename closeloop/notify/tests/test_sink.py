"""`closeloop notify_sink` accepts what our transports send and checks the DingTalk signature."""

import io
import threading
from http.server import ThreadingHTTPServer

import pytest

from closeloop.core.clock import now
from closeloop.notify.channels import dingtalk, sms_twilio
from closeloop.notify.conftest import make_delivery
from closeloop.notify.management.commands import notify_sink
from closeloop.notify.models import Channel

pytestmark = pytest.mark.django_db


def test_sink_receives_robot_and_sms(settings):
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), notify_sink.make_handler("SECdemo", io.StringIO()))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        notify_sink.RECEIVED.clear()
        good = Channel.objects.create(kind="dingtalk", name="a", created_at=now(),
                                      config={"url": base + "/robot/send?access_token=x", "secret": "SECdemo"})
        bad = Channel.objects.create(kind="dingtalk", name="b", created_at=now(),
                                     config={"url": base + "/robot/send?access_token=x", "secret": "SECother"})
        dingtalk.send(good, make_delivery(good))
        dingtalk.send(bad, make_delivery(bad, key="k2"))
        sms = Channel.objects.create(kind="sms_twilio", name="s", created_at=now(), config={
            "account_sid": "AC1", "auth_token": "t", "from_number": "+1", "endpoint": base})
        assert sms_twilio.send(sms, make_delivery(sms, address="+8613800000001", key="k3")).startswith("SM")
        kinds = [(k, s) for _t, k, s, _d in reversed(notify_sink.RECEIVED)]
        assert kinds[0] == ("DingTalk", "紧急 WD1 (signature ok)")
        assert kinds[1] == ("DingTalk", "紧急 WD1 (BAD SIGNATURE)")
        assert kinds[2] == ("SMS", "to +8613800000001")
    finally:
        server.shutdown()
        server.server_close()
