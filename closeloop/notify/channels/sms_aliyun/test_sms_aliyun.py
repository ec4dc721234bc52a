import json
from urllib.parse import parse_qsl

import pytest

from closeloop.notify.channels import sms_aliyun, voice_aliyun
from closeloop.notify.channels.base import Permanent, Retryable
from closeloop.notify.conftest import make_delivery
from closeloop.notify.models import Channel

pytestmark = pytest.mark.django_db
CFG = {"access_key_id": "testid", "access_key_secret": "testsecret", "sign_name": "阿里云", "template_code": "SMS_1"}


def test_documented_signature_example():
    # Aliyun's RPC signature over a canonicalized query (the documented algorithm, recomputed by hand).
    params = {"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML", "SignatureMethod": "HMAC-SHA1",
              "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "SignatureVersion": "1.0",
              "Timestamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26"}
    assert sms_aliyun.signature(params, "testsecret", "GET") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def _verify(req):
    form = dict(parse_qsl(req["body"].decode()))
    sig = form.pop("Signature")
    assert sms_aliyun.signature(form, "testsecret") == sig
    return form


def test_send_sms_signed_and_template_param(sink):
    from closeloop.core.clock import now

    ch = Channel.objects.create(kind="sms_aliyun", name="ali", config={**CFG, "endpoint": sink.url + "/"},
                                created_at=now())
    sink.responses = [(200, {}, {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0"})]
    assert sms_aliyun.send(ch, make_delivery(ch, address="13800000001")) == "900619746936498440^0"
    form = _verify(sink.requests[0])
    assert form["Action"] == "SendSms" and form["PhoneNumbers"] == "13800000001" and form["SignName"] == "阿里云"
    assert json.loads(form["TemplateParam"])["content"] == "冷却报警 WD1"


def test_bad_number_is_permanent_and_throttling_retries(sink):
    from closeloop.core.clock import now

    ch = Channel.objects.create(kind="sms_aliyun", name="ali", config={**CFG, "endpoint": sink.url + "/"},
                                created_at=now())
    sink.responses = [(400, {}, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"})]
    with pytest.raises(Permanent) as e:
        sms_aliyun.send(ch, make_delivery(ch, address="123"))
    assert e.value.address
    sink.responses = [(200, {}, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发流控"})]
    with pytest.raises(Retryable):
        sms_aliyun.send(ch, make_delivery(ch, address="13800000001", key="k2"))


def test_voice_call_by_tts(sink):
    from closeloop.core.clock import now

    ch = Channel.objects.create(kind="voice_aliyun", name="call", created_at=now(), config={
        "access_key_id": "testid", "access_key_secret": "testsecret", "called_show_number": "05710000000",
        "tts_code": "TTS_1", "endpoint": sink.url + "/"})
    sink.responses = [(200, {}, {"Code": "OK", "CallId": "116012354148^10281378"})]
    assert voice_aliyun.send(ch, make_delivery(ch, address="13800000001")) == "116012354148^10281378"
    form = _verify(sink.requests[0])
    assert form["Action"] == "SingleCallByTts" and form["CalledNumber"] == "13800000001" and form["TtsCode"] == "TTS_1"
