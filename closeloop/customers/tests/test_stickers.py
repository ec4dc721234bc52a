"""One signing scheme for a sticker: the code the engineer scans, the portal link a
customer's camera opens, and stickers printed before (bare codes, former portal tokens)."""

import base64

from django.core import signing
from django.utils.crypto import salted_hmac

from closeloop.customers import stickers
from closeloop.customers.models import Asset
from closeloop.fieldwork import evidence
from closeloop.portal import services as portal


def _old_fieldwork_code(kind, code):
    """How stickers were printed before (fieldwork.evidence, salt v1): must still verify."""
    mac = salted_hmac("closeloop.fieldwork.qr.v1", f"{kind}:{code}", algorithm="sha256").digest()
    return f"CL:{kind}:{code}:{base64.b32encode(mac[:10]).decode()}"


def test_it_reads_codes_printed_before_and_refuses_forgeries(world):
    old = _old_fieldwork_code("S", "site-a")
    assert stickers.code_for(world.site_a) == old
    assert stickers.target_from_code(old) == world.site_a
    assert stickers.target_from_code(old.lower()) == world.site_a  # typed in lower case
    assert stickers.target_from_code(stickers.code_for(world.asset_a)) == world.asset_a
    forged = old[:-2] + ("AA" if not old.endswith("AA") else "BB")
    assert stickers.target_from_code(forged) is None
    assert stickers.target_from_code("CL:S:site-b:" + old.rsplit(":", 1)[1]) is None  # another site's signature
    assert stickers.target_from_code("hello") is None and stickers.target_from_code("") is None


def test_the_portal_link_carries_the_same_code(world, client, settings):
    settings.SITE_URL = "https://service.example"
    link = stickers.printed_text(world.asset_a)
    assert link.startswith("https://service.example/portal/q/") and link.endswith("/")
    assert stickers.target_from_code(link) == world.asset_a  # the engineer's app reads it
    assert evidence.parse_qr(link) == world.asset_a
    assert client.get(portal.qr_path(world.asset_a)).status_code == 200  # the customer's camera opens it
    settings.SITE_URL = ""
    assert stickers.printed_text(world.asset_a) == stickers.code_for(world.asset_a)


def test_former_portal_tokens_still_open_the_portal(world, client):
    legacy = signing.dumps({"k": "a", "id": world.asset_a.pk}, salt="closeloop.portal.qr", compress=True)
    assert portal.unsign_qr(legacy) == world.asset_a
    assert client.get(f"/portal/q/{legacy}/").status_code == 200
    tampered = legacy[:-3] + "xyz"
    assert portal.unsign_qr(tampered) is None
    assert client.get(f"/portal/q/{tampered}/").status_code == 404


def test_any_serial_number_fits_in_the_link(world, client):
    odd = Asset.objects.create(customer=world.org_a, site=world.site_a, name="泵", serial_number="AB/12 ?#3")
    assert portal.unsign_qr(portal.sign_qr(odd)) == odd
    assert client.get(portal.qr_path(odd)).status_code == 200
    assert stickers.target_from_code(stickers.code_for(odd)) == odd
