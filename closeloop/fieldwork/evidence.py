"""Evidence you can trust: signed QR codes, check-ins, server-side photo processing.

Suspicious things (far from the site, device clock off, photo EXIF that disagrees with
its upload) are flagged for review on the timeline, never rejected: the engineer may
have a good reason, and a reviewer decides. Forged or foreign QR codes are refused.
"""

import hashlib
import io
import math
import warnings
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from closeloop.core.clock import now
from closeloop.core.errors import FieldProblem, ValidationFailed
from closeloop.customers import stickers
from closeloop.customers.models import Site
from closeloop.workorders import services as wo_services
from closeloop.workorders import timeline
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import TimelineEvent

from . import gates
from .models import CheckIn, Photo

# ---- signed QR codes (the one scheme lives in customers.stickers) -----------------------

CLOCK_SKEW_LIMIT = timedelta(minutes=5)
PHOTO_TIME_LIMIT = timedelta(hours=24)


def qr_payload(obj) -> str:
    """The code a site's or an asset's sticker carries, e.g. CL:S:site-a:ABCD… (also typed as the fallback)."""
    return stickers.code_for(obj)


def parse_qr(text: str):
    """The Site or Asset a scanned or typed code (or the portal link printed on newer
    stickers) names; ValidationFailed ('qr') when forged or unknown."""
    obj = stickers.target_from_code(text)
    if obj is None:
        raise ValidationFailed(FieldProblem("qr", _("This is not a valid closeloop site or asset code."), "forged"))
    return obj


def qr_image(obj, fmt: str = "svg", scale: int = 8) -> bytes:
    import segno

    out = io.BytesIO()
    segno.make(stickers.printed_text(obj), error="m").save(out, kind=fmt, scale=scale, border=2)
    return out.getvalue()


# ---- check-in ------------------------------------------------------------------------------

def distance_m(lat1, lon1, lat2, lon2) -> float:
    r = 6371000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def _float(problems, name, value, lo, hi):
    if value in (None, ""):
        return None
    try:
        v = float(value)
        if not (lo <= v <= hi) or math.isnan(v):
            raise ValueError
        return v
    except (TypeError, ValueError):
        problems.append(FieldProblem(name, _("A number from %(lo)s to %(hi)s.") % {"lo": lo, "hi": hi}))
        return None


def _parse_time(problems, name, value):
    if value in (None, ""):
        return None
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        if t.tzinfo is None:
            raise ValueError
        return t
    except ValueError:
        problems.append(FieldProblem(name, _("An ISO 8601 time with a time zone.")))
        return None


def do_check_in(*, actor, wo, qr: str, latitude=None, longitude=None, accuracy=None, device_time=None) -> CheckIn:
    """Arrive on site by scanning (or typing) the site's or asset's code. Records GPS, the
    server time and the device clock; takes the "arrive" step when the work order is on its way."""
    from .services import _require_field_work

    _require_field_work(actor, wo)
    problems: list[FieldProblem] = []
    lat = _float(problems, "latitude", latitude, -90, 90)
    lon = _float(problems, "longitude", longitude, -180, 180)
    acc = _float(problems, "accuracy", accuracy, 0, 1e6)
    dev = _parse_time(problems, "device_time", device_time)
    if (lat is None) != (lon is None):
        problems.append(FieldProblem("longitude" if lon is None else "latitude", _("Send both coordinates.")))
    if problems:
        raise ValidationFailed(problems)
    scanned = parse_qr(qr)
    if isinstance(scanned, Site):
        ok = wo.site_id == scanned.pk
        site, label = scanned, f"site:{scanned.code}"
    else:
        ok = wo.asset_id == scanned.pk or (wo.asset_id is None and scanned.site_id and scanned.site_id == wo.site_id)
        site, label = scanned.site or wo.site, f"asset:{scanned.serial_number}"
    if not ok:
        raise ValidationFailed(FieldProblem("qr", _("This code belongs to another site or asset than this work "
                                                    "order's."), "foreign"))
    policy = gates.policy_for(wo)
    radius = policy.checkin_radius_m if policy else 500
    t = now()
    flags: list[str] = []
    dist = None
    if lat is None:
        flags.append(_("No GPS position was sent."))
    elif site is not None and site.latitude is not None and site.longitude is not None:
        dist = distance_m(lat, lon, float(site.latitude), float(site.longitude))
        if dist > radius:
            flags.append(_("Checked in %(d)d m from the site (allowed radius %(r)d m).") % {"d": dist, "r": radius})
        if acc is not None and acc > radius:
            flags.append(_("GPS accuracy %(a)d m is coarser than the radius.") % {"a": acc})
    if dev is not None and abs(dev - t) > CLOCK_SKEW_LIMIT:
        flags.append(_("Device clock differs from the server by %(s)d s.") % {"s": abs((dev - t).total_seconds())})
    with transaction.atomic():
        if wo.status in (S.ACCEPTED, S.EN_ROUTE):
            data = {"note": _("Checked in with %(c)s") % {"c": label}}
            if lat is not None:
                data.update(latitude=lat, longitude=lon)
            wo_services.do_transition(actor=actor, wo=wo, action="arrive", data=data)
        ci = CheckIn.objects.create(work_order=wo, actor=actor, at=t, device_time=dev, latitude=lat, longitude=lon,
                                    accuracy_m=acc, scanned=label[:150],
                                    distance_m=dist, flags=flags)
        timeline.append_event(wo, TimelineEvent.Kind.CHECKIN, actor=actor, at=t, data={
            "checkin_id": ci.pk, "scanned": label, "latitude": lat, "longitude": lon, "accuracy": acc,
            "distance_m": round(dist) if dist is not None else None,
            "device_time": dev.isoformat() if dev else None, "server_time": t.isoformat(),
            "flags": flags, "review": bool(flags)})
    return ci


# ---- photos ---------------------------------------------------------------------------------

PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}
MAX_PHOTO_BYTES = 15 * 1024 * 1024
MAX_PHOTO_PIXELS = 40_000_000  # 40 MP: any phone camera, well short of a decompression bomb
MAX_OUTPUT_SIDE = 2560


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith((b"<", b"<?xml", b"<svg")):
        return "markup"
    return None


def _exif_claim(im) -> dict:
    """What the uploader's EXIF claims (time taken, GPS, device). Kept, never trusted."""
    claim: dict = {}
    try:
        exif = im.getexif()
    except Exception:
        return claim
    if not exif:
        return claim
    make, model = exif.get(0x010F), exif.get(0x0110)
    if make or model:
        claim["device"] = f"{make or ''} {model or ''}".strip()[:100]
    try:
        sub = exif.get_ifd(0x8769)
        taken = sub.get(0x9003) or exif.get(0x0132)
        if taken:
            claim["taken_at"] = str(taken)[:19]
        gps = exif.get_ifd(0x8825)
        if gps and 2 in gps and 4 in gps:
            def deg(v):
                return float(v[0]) + float(v[1]) / 60 + float(v[2]) / 3600

            lat, lon = deg(gps[2]), deg(gps[4])
            if gps.get(1) == "S":
                lat = -lat
            if gps.get(3) == "W":
                lon = -lon
            if -90 <= lat <= 90 and -180 <= lon <= 180:
                claim["latitude"], claim["longitude"] = round(lat, 6), round(lon, 6)
    except Exception:  # malformed EXIF is just no claim
        pass
    return claim


@lru_cache(maxsize=16)
def _font(size: int):
    from PIL import ImageFont

    for path in ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                 "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def process_photo(data: bytes, *, watermark: str) -> tuple[bytes, int, int, dict]:
    """Validate, decode, re-encode (JPEG, no metadata) and watermark. Returns (jpeg, w, h, exif claim)."""
    from PIL import Image, ImageDraw, ImageOps

    kind = _sniff(data[:64])
    if kind == "markup":
        raise ValidationFailed(FieldProblem("file", _("SVG and other markup images are not accepted; send a JPEG, "
                                                      "PNG or WebP photo."), "type"))
    if kind not in PHOTO_TYPES:
        raise ValidationFailed(FieldProblem("file", _("Only JPEG, PNG or WebP photos are accepted."), "type"))
    bad = ValidationFailed(FieldProblem("file", _("The photo is damaged or incomplete."), "invalid"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                if im.format not in ("JPEG", "PNG", "WEBP"):
                    raise bad
                if im.width * im.height > MAX_PHOTO_PIXELS:
                    raise ValidationFailed(FieldProblem("file", _("At most %(n)d megapixels.")
                                                        % {"n": MAX_PHOTO_PIXELS // 1_000_000}, "too_large"))
                im.verify()
            with Image.open(io.BytesIO(data)) as im:
                claim = _exif_claim(im)
                im.load()
                im = ImageOps.exif_transpose(im)
                im = im.convert("RGB")
    except ValidationFailed:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationFailed(FieldProblem("file", _("At most %(n)d megapixels.")
                                            % {"n": MAX_PHOTO_PIXELS // 1_000_000}, "too_large"))
    except Exception:
        raise bad
    im.thumbnail((MAX_OUTPUT_SIDE, MAX_OUTPUT_SIDE))
    w, h = im.size
    size = max(12, min(w, h) // 30)
    font = _font(size)
    draw = ImageDraw.Draw(im, "RGBA")
    band = size * 2
    draw.rectangle([0, h - band, w, h], fill=(0, 0, 0, 150))
    draw.text((size // 2, h - band + size // 2), watermark, fill=(255, 255, 255, 255), font=font)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85, optimize=True)  # no exif= : metadata is not copied
    return out.getvalue(), w, h, claim


def do_add_photo(*, actor, wo, upload, kind: str = "other", latitude=None, longitude=None) -> Photo:
    from .services import _require_field_work

    _require_field_work(actor, wo)
    problems: list[FieldProblem] = []
    kind = (kind or "other").strip().lower()
    if not kind.replace("_", "").replace("-", "").isalnum() or len(kind) > 40:
        problems.append(FieldProblem("kind", _("A short name such as nameplate, before, after.")))
    lat = _float(problems, "latitude", latitude, -90, 90)
    lon = _float(problems, "longitude", longitude, -180, 180)
    limit = min(MAX_PHOTO_BYTES, settings.MAX_UPLOAD_BYTES)
    if upload is None or not upload.size:
        problems.append(FieldProblem("file", _("The file is empty."), "required"))
    elif upload.size > limit:
        problems.append(FieldProblem("file", _("At most %(n)d MB.") % {"n": limit // 2**20}, "too_large"))
    if problems:
        raise ValidationFailed(problems)
    upload.seek(0)
    data = upload.read(limit + 1)
    # A retry of the same upload (the answer was lost) returns the photo already stored: uploads
    # are idempotent by content, since large multipart bodies cannot carry an Idempotency-Key.
    original = hashlib.sha256(data).hexdigest()
    again = Photo.objects.filter(work_order=wo, kind=kind, original_sha256=original).first()
    if again is not None:
        return again
    t = now()
    local = timezone.localtime(t, timezone.get_default_timezone())
    gps = f" · {lat:.5f},{lon:.5f}" if lat is not None and lon is not None else ""
    mark = f"{wo.code} · {local:%Y-%m-%d %H:%M:%S %Z}{gps}"
    jpeg, w, h, claim = process_photo(data, watermark=mark)
    flags: list[str] = []
    if claim.get("taken_at"):
        try:
            taken = datetime.strptime(claim["taken_at"], "%Y:%m:%d %H:%M:%S").replace(
                tzinfo=timezone.get_default_timezone())
            if abs(taken - t) > PHOTO_TIME_LIMIT:
                flags.append(_("The photo says it was taken at %(a)s, uploaded %(b)s.")
                             % {"a": claim["taken_at"], "b": f"{local:%Y-%m-%d %H:%M}"})
        except ValueError:
            flags.append(_("The photo's EXIF time is unreadable."))
    site = wo.site
    policy = gates.policy_for(wo)
    radius = policy.checkin_radius_m if policy else 500
    if "latitude" in claim and site is not None and site.latitude is not None:
        d = distance_m(claim["latitude"], claim["longitude"], float(site.latitude), float(site.longitude))
        if d > radius:
            flags.append(_("The photo's EXIF position is %(d)d m from the site.") % {"d": d})
    with transaction.atomic():
        photo = Photo(work_order=wo, kind=kind, width=w, height=h, size=len(jpeg),
                      sha256=hashlib.sha256(jpeg).hexdigest(), original_sha256=original,
                      claimed=claim, latitude=lat, longitude=lon, flags=flags, uploaded_by=actor, created_at=t)
        photo.file.save("photo.jpg", ContentFile(jpeg), save=False)
        try:
            photo.save()
            timeline.append_event(wo, TimelineEvent.Kind.EVIDENCE, actor=actor, at=t, data={
                "photo_id": photo.pk, "kind": kind, "claimed": claim, "flags": flags, "review": bool(flags),
                "server_time": t.isoformat()})
            from .services import _touch

            _touch(wo, t)
        except Exception:
            photo.file.delete(save=False)
            raise
    return photo

