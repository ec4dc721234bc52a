import io

from PIL import Image, ImageDraw

from closeloop.fieldwork.models import ClosurePolicy


def png(seed: int = 0, size=(300, 120)) -> bytes:
    im = Image.new("RGBA", size, (255, 255, 255, 0))
    d = ImageDraw.Draw(im)
    d.line([(10, 60), (100 + seed % 150, 20 + seed % 80), (290, 90)], fill=(0, 0, 0, 255), width=3)
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def jpeg(size=(800, 600), exif=None, color=(120, 160, 200)) -> bytes:
    im = Image.new("RGB", size, color)
    out = io.BytesIO()
    kw = {"exif": exif} if exif is not None else {}
    im.save(out, "JPEG", quality=85, **kw)
    return out.getvalue()


def gate_policy(wo_type, **kw) -> ClosurePolicy:
    defaults = dict(required_photos=["nameplate"], checklist=["断电检查", "功能测试"],
                    form_fields=[{"key": "temperature", "label": "模温", "kind": "number", "unit": "°C", "min": 0,
                                  "max": 400, "required": True},
                                 {"key": "pressure", "label": "压力", "kind": "number", "unit": "MPa", "required": True}],
                    require_signature=True, require_invoice=True, auto_close=False)
    defaults.update(kw)
    return ClosurePolicy.objects.create(wo_type=wo_type, **defaults)
