import json

import pytest

from closeloop.core.clock import now
from closeloop.core.errors import ValidationFailed
from closeloop.notify.channels import apprise_url
from closeloop.notify.channels.base import Refused, Retryable
from closeloop.notify.conftest import make_delivery
from closeloop.notify.models import Channel

pytestmark = pytest.mark.django_db


def test_apprise_json_to_a_local_server(sink):
    ch = Channel.objects.create(kind="apprise_url", name="ap", created_at=now(),
                                config={"url": sink.url.replace("http://", "json://") + "/hook"})
    apprise_url.send(ch, make_delivery(ch))
    body = json.loads(sink.requests[0]["body"])
    assert body["title"] == "紧急 WD1" and "紧急 WD1" in body["message"]
    sink.responses = [(500, {}, b"no")]
    with pytest.raises(Retryable):
        apprise_url.send(ch, make_delivery(ch, key="k2"))


def test_bad_url_and_private_host(sink, settings):
    with pytest.raises(ValidationFailed):
        Channel.objects.create(kind="apprise_url", name="x", created_at=now(), config={"url": "nonsense://"})
    ch = Channel.objects.create(kind="apprise_url", name="ap", created_at=now(),
                                config={"url": sink.url.replace("http://", "json://")})
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = False
    with pytest.raises(Refused):
        apprise_url.send(ch, make_delivery(ch))
    assert sink.requests == []
