import base64
from urllib.parse import parse_qs

import pytest

from closeloop.notify.channels import sms_twilio, voice_twilio
from closeloop.notify.channels.base import Permanent, Retryable
from closeloop.notify.conftest import make_delivery
from closeloop.notify.models import Channel

pytestmark = pytest.mark.django_db


def _ch(sink, kind="sms_twilio"):
    from closeloop.core.clock import now

    return Channel.objects.create(kind=kind, name=kind, created_at=now(), config={
        "account_sid": "AC123", "auth_token": "tok", "from_number": "+15005550006", "endpoint": sink.url})


def test_basic_auth_form_post(sink):
    ch = _ch(sink)
    sink.responses = [(201, {}, {"sid": "SM1", "status": "queued"})]
    assert sms_twilio.send(ch, make_delivery(ch, address="+14155550100")) == "SM1"
    req = sink.requests[0]
    assert req["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert req["headers"]["Authorization"] == "Basic " + base64.b64encode(b"AC123:tok").decode()
    form = parse_qs(req["body"].decode())
    assert form == {"To": ["+14155550100"], "From": ["+15005550006"], "Body": ["冷却报警 WD1"]}


def test_invalid_number_and_rate_limit(sink):
    ch = _ch(sink)
    sink.responses = [(400, {}, {"code": 21211, "message": "The 'To' number is not a valid phone number."})]
    with pytest.raises(Permanent) as e:
        sms_twilio.send(ch, make_delivery(ch, address="+1"))
    assert e.value.address
    sink.responses = [(429, {"Retry-After": "7"}, {"code": 20429, "message": "Too Many Requests"})]
    with pytest.raises(Retryable) as e:
        sms_twilio.send(ch, make_delivery(ch, address="+14155550100", key="k2"))
    assert e.value.retry_after == 7


def test_voice_call_says_the_message(sink):
    ch = _ch(sink, "voice_twilio")
    sink.responses = [(201, {}, {"sid": "CA1"})]
    assert voice_twilio.send(ch, make_delivery(ch, address="+14155550100", language="zh-hans")) == "CA1"
    req = sink.requests[0]
    assert req["path"] == "/2010-04-01/Accounts/AC123/Calls.json"
    twiml = parse_qs(req["body"].decode())["Twiml"][0]
    assert twiml == '<Response><Say language="zh-CN">冷却报警 WD1</Say></Response>'
