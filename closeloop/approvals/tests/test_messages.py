"""Approval and handoff notifications are stored as a key and parameters and rendered for
each reader: in their language, with the flow's name instead of its action key."""

import re

from django.conf import settings
from django.utils import translation

from closeloop.notify.models import Delivery, InboxItem
from closeloop.workorders.lifecycle import S
from closeloop.workorders.tests.factories import make_wo

from .. import services
from .conftest import run_outbox

CJK = re.compile(r"[\u4e00-\u9fff]")


def _page(world, user, lang):
    c = world.browser_client(user)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    return c.get("/notifications/").content.decode()


def test_each_reader_gets_the_message_in_their_language_with_names(world, org, purchase_flow):
    world.dispatcher.language = "en"  # the CC node's recipient reads English
    world.dispatcher.save()
    wo = make_wo(world, status=S.IN_PROGRESS)
    with translation.override("zh-hans"):  # whoever caused it works in Chinese (the default deployment)
        req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 120})
        services.do_decide(actor=world.manager, req=req, decision="approve", comment="ok")
        run_outbox()
    cc = InboxItem.objects.get(user=world.dispatcher, event="approval.cc")
    # Delivered in the recipient's language (English), naming the flow, not its key.
    assert cc.body == f"For your information: Part purchase on {wo.code}"
    assert "purchase_part" not in cc.body and not CJK.search(cc.body) and cc.subject == f"{wo.code} {wo.title}"
    assert Delivery.objects.get(user=world.dispatcher, event="approval.cc", medium="inbox").language == "en"
    # The requester has no language of their own: the site's default (Chinese), status label included.
    done = InboxItem.objects.get(user=world.eng_x, event="approval.approved")
    assert done.body == f"你在 {wo.code} 发起的 Part purchase 审批：已通过" and "purchase_part" not in done.body
    # Read again later in another language: the inbox renders the stored key and parameters for the reader.
    assert "For your information: Part purchase" in _page(world, world.dispatcher, "en")
    world.eng_x.language = "en"
    world.eng_x.save()
    html = _page(world, world.eng_x, "en")
    assert f"Your approval request for Part purchase on {wo.code}: Approved" in html and "已通过" not in html
    r = world.api(world.eng_x).get("/api/v1/notifications/inbox", headers={"Accept-Language": "en"}).json()
    approved = next(i for i in r["items"] if i["event"] == "approval.approved")
    assert approved["body"] == f"Your approval request for Part purchase on {wo.code}: Approved"


def test_rows_stored_before_keys_and_parameters_show_as_stored(world):
    from closeloop.core.clock import now

    InboxItem.objects.create(user=world.dispatcher, event="approval.cc", subject="旧主题", body="抄送：旧的 purchase_part",
                             created_at=now())
    html = _page(world, world.dispatcher, "en")
    assert "旧主题" in html and "抄送：旧的 purchase_part" in html
