import pytest

from closeloop.notify.channels import email
from closeloop.notify.channels.base import Permanent, Refused, Retryable
from closeloop.notify.conftest import make_delivery
from closeloop.notify.models import Channel

pytestmark = pytest.mark.django_db


def _ch(port):
    from closeloop.core.clock import now

    return Channel.objects.create(kind="email", name="mail", created_at=now(), config={
        "host": "127.0.0.1", "port": port, "from_email": "noreply@closeloop.test"})


def test_real_smtp_delivery_with_stable_message_id(smtp):
    ch = _ch(smtp.port)
    d = make_delivery(ch, address="zhang@example.com", key="cause:u1:email", url="http://x/work-orders/WD1")
    mid = email.send(ch, d)
    assert email.send(ch, d) == mid  # a retry is the same message
    assert len(smtp.messages) == 2
    m = smtp.messages[0]
    assert m["to"] == ["zhang@example.com"]
    assert f"Message-ID: {mid}" in m["data"] and "X-Closeloop-Delivery: cause:u1:email" in m["data"]


def test_refused_recipient_is_permanent(smtp):
    smtp.refuse.add("nobody@example.com")
    ch = _ch(smtp.port)
    with pytest.raises(Permanent) as e:
        email.send(ch, make_delivery(ch, address="nobody@example.com"))
    assert e.value.address


def test_no_server_is_retryable_and_private_host_refused(smtp, settings):
    ch = _ch(smtp.port)
    smtp.close()
    with pytest.raises(Retryable):
        email.send(ch, make_delivery(ch, address="a@example.com"))
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = False
    with pytest.raises(Refused):
        email.send(ch, make_delivery(ch, address="a@example.com", key="k2"))


def test_the_address_is_checked_when_connecting_and_used_as_checked(smtp, settings, monkeypatch):
    """A host name is resolved once, at connect time, and the connection goes to that checked
    address (a name that later re-resolves elsewhere cannot slip past the guard)."""
    import socket

    real = socket.getaddrinfo
    answers = []

    def fake(host, port, *a, **kw):
        if host == "mail.rebind.test":
            answers.append(host)
            return real("127.0.0.1", port, *a, **kw)
        return real(host, port, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    ch = _ch(smtp.port)
    ch.config = {**ch.config, "host": "mail.rebind.test"}
    email.send(ch, make_delivery(ch, address="a@example.com", key="k-rebind"))
    assert answers == ["mail.rebind.test"] and len(smtp.messages) == 1
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = False
    with pytest.raises(Refused):
        email.send(ch, make_delivery(ch, address="a@example.com", key="k-rebind-2"))
    assert len(smtp.messages) == 1
