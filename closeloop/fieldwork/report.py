"""The service report PDF (fpdf2), with a Chinese font embedded (subset).

It renders only our own data: text through multi_cell (no markup, no links), images
only from our own storage (photos we re-encoded, the signature PNG we re-encoded).
Nothing in the content can make the renderer open a file or a URL.
"""

import copy
import io
import os
from functools import lru_cache

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role
from closeloop.workorders.models import TimelineEvent

from . import gates
from .models import ClosureForm, PartUsed, Photo, Signature, StepResult


def _packaged_font() -> str:
    """Noto Sans SC (OTF) from the pylopdf-fonts-zh-cn wheel, a dependency in pyproject.toml:
    the report needs no system font."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:  # pragma: no cover - a broken install; the system fonts may still do
        return ""
    return str(pylopdf_fonts_zh_cn.sans_path())


# (path, face in a collection), first found wins. CLOSELOOP_REPORT_FONT overrides; the
# packaged font is the default; the system fonts only back up a broken install.
SYSTEM_FONTS = [
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # face 2 = Simplified Chinese
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
]


def font_candidates() -> list[tuple[str, int]]:
    return [(os.environ.get("CLOSELOOP_REPORT_FONT", ""), 0), (_packaged_font(), 0), *SYSTEM_FONTS]


@lru_cache(maxsize=1)
def font_path() -> tuple[str, int]:
    for path, face in font_candidates():
        if path and os.path.exists(path):
            return path, face
    raise RuntimeError("No CJK font for the service report: reinstall closeloop (it depends on "
                       "pylopdf-fonts-zh-cn) or set CLOSELOOP_REPORT_FONT")


_LOADED: dict = {}


def _add_report_font(pdf, family: str = "cjk") -> None:
    """Add the report font to `pdf`, parsing the font file once per process.

    Parsing the 8 MB font (character widths, cmap) took most of a render. fpdf2 subsets the
    font's tables in place when it writes a document, so each document gets a fresh lazily
    opened copy of the font's tables (cheap) while the parsed metrics are shared, read-only.
    The font's bounding boxes are not recomputed for the subset (the whole font's box still
    bounds it), which halves the time to write the embedded subset.
    """
    from fontTools import ttLib
    from fpdf.fonts import SubsetMap

    path, face = font_path()
    key = (path, face, os.path.getmtime(path))
    cached = _LOADED.get(key)
    if cached is None:
        pdf.add_font(family, "", path, collection_font_number=face)
        loaded = pdf.fonts[family]
        loaded.ttfont.recalcBBoxes = False
        # Subsetting replaces a metrics table's dict (it does not change it): share them.
        metrics = {tag: loaded.ttfont[tag].metrics for tag in ("hmtx", "vmtx") if tag in loaded.ttfont}
        with open(path, "rb") as fh:
            data = fh.read()
        _LOADED.clear()
        _LOADED[key] = (copy.copy(loaded), data, metrics)
        return
    template, data, metrics = cached
    font = copy.copy(template)
    font.i = len(pdf.fonts) + 1
    font.ttfont = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, recalcBBoxes=False,
                               fontNumber=face, lazy=True)
    for tag, table_metrics in metrics.items():
        table = ttLib.newTable(tag)
        table.metrics = table_metrics
        font.ttfont[tag] = table
    font._hbfont = None
    font.biggest_size_pt = 0
    font.missing_glyphs = []
    font.subset = SubsetMap(font)
    pdf.fonts[family] = font
    if font.is_cff and font.is_cid_keyed:
        pdf._set_min_pdf_version("1.6")


def _fmt(dt) -> str:
    return timezone.localtime(dt, timezone.get_default_timezone()).strftime("%Y-%m-%d %H:%M") if dt else "—"


def _event_text(e: TimelineEvent) -> str:
    d = e.data or {}
    if e.kind == "transition":
        return f"{e.action}: {e.from_state} → {e.to_state}" + (f" · {d['note']}" if d.get("note") else "")
    if e.kind == "comment":
        return str(d.get("body", ""))[:300]
    if e.kind == "checkin":
        flags = "; ".join(d.get("flags") or [])
        return _("Check-in %(s)s") % {"s": d.get("scanned", "")} + (f" · {flags}" if flags else "")
    if e.kind == "signature":
        return _("Signed by %(n)s") % {"n": d.get("signer", "")} if d.get("signer") else _("Signing link sent")
    if e.kind == "evidence":
        return _("Photo (%(k)s)") % {"k": d.get("kind", "")}
    keys = ("step", "result", "part", "quantity", "kind", "target", "source", "title")
    return " · ".join(f"{k}: {d[k]}" for k in keys if d.get(k) not in (None, "")) or e.get_kind_display()


def render(wo, user) -> bytes:
    from fpdf import FPDF

    customer_view = user.role == Role.CUSTOMER
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    _add_report_font(pdf)
    pdf.set_title(f"{wo.code} {_('Service report')}")
    pdf.set_creator("closeloop")
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def heading(text):
        pdf.ln(3)
        pdf.set_font("cjk", size=13)
        pdf.cell(width, 8, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_draw_color(180, 180, 180)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
        pdf.ln(1)
        pdf.set_font("cjk", size=10)

    def row(label, value):
        pdf.set_font("cjk", size=10)
        pdf.multi_cell(width, 6, f"{label}: {value if value not in (None, '') else '—'}", new_x="LMARGIN",
                       new_y="NEXT", markdown=False)

    pdf.set_font("cjk", size=18)
    pdf.cell(width, 10, _("Service report"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=11)
    pdf.multi_cell(width, 6, f"{wo.code} · {wo.title}", new_x="LMARGIN", new_y="NEXT", markdown=False)

    heading(_("Summary"))
    row(_("Type"), wo.wo_type.name)
    row(_("Status"), str(wo.status_label))
    row(_("Customer"), wo.customer.name if wo.customer_id else "")
    row(_("Site"), f"{wo.site.name} {wo.site.address}".strip() if wo.site_id else "")
    row(_("Asset"), str(wo.asset) if wo.asset_id else "")
    row(_("Engineer"), (wo.assignee.display_name or wo.assignee.username) if wo.assignee_id else "")
    row(_("Created"), _fmt(wo.created_at))
    row(_("Arrived"), _fmt(wo.arrived_at))
    row(_("Technically complete"), _fmt(wo.resolved_at))
    row(_("Resolution"), wo.resolution)
    if wo.invoice_number:
        row(_("Invoice number"), wo.invoice_number)

    items = gates.evaluate(wo)
    if items:
        heading(_("Closure gates"))
        for g in items:
            state = _("passed") if g.passed else _("open") + ": " + "; ".join(g.missing)
            row(str(g.label), f"{state}" + (f" · {g.by} {_fmt(g.at)}" if g.passed else ""))

    form = ClosureForm.objects.filter(work_order=wo).first()
    if form and form.data:
        heading(_("Closure form"))
        policy = gates.policy_for(wo)
        defs = {f["key"]: f for f in (policy.form_fields if policy else [])}
        for k, v in form.data.items():
            f = defs.get(k, {})
            row(f.get("label") or k, f"{v} {f.get('unit', '')}".strip())

    steps = list(StepResult.objects.filter(work_order=wo))
    if steps:
        heading(_("Steps"))
        for s in steps:
            row(f"{s.index + 1}. {s.label}", f"{s.get_result_display()}" + (f" · {s.note}" if s.note else "")
                + (f" · {_('follow-up')} {s.followup.code}" if s.followup_id else ""))

    parts = list(PartUsed.objects.filter(work_order=wo))
    if parts:
        heading(_("Parts used"))
        for p in parts:
            row(f"{p.part_number} {p.name}".strip(), f"× {p.quantity.normalize()}")

    events = TimelineEvent.objects.filter(work_order=wo).select_related("actor").order_by("id")
    if customer_view:
        events = events.filter(public=True)
    heading(_("Timeline"))
    for e in events[:200]:
        who = (e.actor.display_name or e.actor.username) if e.actor_id else "system"
        pdf.multi_cell(width, 5, f"{_fmt(e.at)}  {who}  {_event_text(e)}", new_x="LMARGIN", new_y="NEXT",
                       markdown=False)

    if not customer_view:
        photos = list(Photo.objects.filter(work_order=wo)[:12])
        if photos:
            heading(_("Photos"))
            col_w = (width - 6) / 3
            x0 = pdf.l_margin
            for i, p in enumerate(photos):
                h = col_w * p.height / max(p.width, 1)
                if i % 3 == 0:
                    if pdf.get_y() + h + 8 > pdf.h - 15:
                        pdf.add_page()
                    y = pdf.get_y()
                try:
                    with p.file.open("rb") as fh:
                        data = io.BytesIO(fh.read())
                except OSError:
                    continue
                pdf.image(data, x=x0 + (i % 3) * (col_w + 3), y=y, w=col_w)
                pdf.set_xy(x0 + (i % 3) * (col_w + 3), y + h)
                pdf.cell(col_w, 5, p.kind_label)
                if i % 3 == 2 or i == len(photos) - 1:
                    pdf.set_xy(x0, y + h + 6)

    sig = Signature.objects.filter(work_order=wo).order_by("-id").first()
    heading(_("Customer signature"))
    if sig is None:
        row(_("Signature"), _("not signed"))
    else:
        if pdf.get_y() + 40 > pdf.h - 15:
            pdf.add_page()
        pdf.image(io.BytesIO(bytes(sig.image_png)), w=70)
        row(_("Signed by"), f"{sig.signer_name} · {_fmt(sig.created_at)} · v{sig.version} · {sig.via}")
        row(_("Content hash"), sig.content_hash)
    return bytes(pdf.output())


def pdf_response(wo, user) -> HttpResponse:
    resp = HttpResponse(render(wo, user), content_type="application/pdf")
    resp["Content-Disposition"] = f'attachment; filename="{wo.code}-report.pdf"'
    return resp
