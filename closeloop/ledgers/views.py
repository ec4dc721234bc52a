"""Console pages: Settings → Import ledgers (upload, map columns, preview, confirm, roll back)
and the list exports. Thin: services and selectors do the work. Anyone who may not import
gets a 404 page."""

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from closeloop.core.errors import DomainError, NotFound

from . import exports, fields, reader, selectors, services
from .models import Action, Kind, Status

PREVIEW_ROWS = 50


def _batch_or_404(request, batch_id):
    try:
        return selectors.access_batch(request.user, batch_id)
    except NotFound:
        raise Http404()


def _importer(request):
    if not selectors.may_import(request.user):
        raise Http404()


@login_required
def batch_list(request):
    _importer(request)
    if request.method == "POST":
        upload = request.FILES.get("file")
        kind = request.POST.get("kind", "")
        if upload is None:
            messages.error(request, _("Choose a file to upload."))
        elif upload.size > reader.max_upload():
            messages.error(request, _("The file is too large (at most %(max)d MB).")
                           % {"max": reader.max_upload() // (1024 * 1024)})
        else:
            try:
                batch = services.do_upload(request.user, kind=kind, filename=upload.name, data=upload.read())
            except reader.FileRefused as e:
                messages.error(request, str(e))
            except DomainError as e:
                messages.error(request, "; ".join(p.message for p in e.problems) or str(e))
            else:
                return redirect("ledgers:detail", batch_id=batch.id)
    batches = list(selectors.visible_batches(request.user)[:50])
    return render(request, "ledgers/list.html", {
        "batches": batches, "kinds": Kind.choices, "kind": request.POST.get("kind") or request.GET.get("kind", ""),
        "max_mb": reader.max_upload() // (1024 * 1024)})


@login_required
def batch_detail(request, batch_id: int):
    batch = _batch_or_404(request, batch_id)
    problems = {}
    if request.method == "POST":
        mapping = {f.name: request.POST.get(f"map_{f.name}") or None for f in fields.fields_for(batch.kind)}
        try:
            services.do_set_mapping(request.user, batch, mapping)
        except DomainError as e:
            if not e.problems:
                messages.error(request, str(e))
            problems = {p.field: p.message for p in e.problems}
            batch.mapping = {k: int(v) for k, v in mapping.items() if v and str(v).isdigit()}
        else:
            return redirect("ledgers:detail", batch_id=batch.id)
    field_rows = [{"field": f, "column": batch.mapping.get(f.name), "problem": problems.get(f.name)}
                  for f in fields.fields_for(batch.kind)]
    ctx = {"batch": batch, "field_rows": field_rows, "Status": Status, "headers": list(enumerate(batch.headers))}
    if batch.status in (Status.PREVIEW, Status.COMMITTED, Status.ROLLED_BACK, Status.COMMITTING):
        ctx["errors"] = list(selectors.error_rows(batch)[:PREVIEW_ROWS])
        ctx["creates"] = _shown(batch, selectors.rows_by_action(batch, Action.CREATE)[:PREVIEW_ROWS // 2])
        ctx["updates"] = _shown(batch, selectors.rows_by_action(batch, Action.UPDATE)[:PREVIEW_ROWS // 2])
        ctx["mapped"] = [(h, batch.mapping.get(f.name)) for f in fields.fields_for(batch.kind)
                         for h in [f.label] if batch.mapping.get(f.name) is not None]
    return render(request, "ledgers/detail.html", ctx)


def _shown(batch, rows) -> list:
    """Rows with what people recognise: each mapped column's label and the cell's text (not
    the ids and field names the import writes)."""
    columns = [(f.label, batch.mapping[f.name]) for f in fields.fields_for(batch.kind) if f.name in batch.mapping]
    rows = list(rows)
    for r in rows:
        r.shown = [(label, r.values[i]) for label, i in columns if i < len(r.values) and r.values[i]]
    return rows


def _act(request, batch_id, fn, done_msg):
    batch = _batch_or_404(request, batch_id)
    try:
        fn(request.user, batch)
    except DomainError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, done_msg)
    return redirect("ledgers:detail", batch_id=batch.id)


@login_required
@require_POST
def batch_confirm(request, batch_id: int):
    return _act(request, batch_id, services.do_confirm, _("Importing: the rows are being written."))


@login_required
@require_POST
def batch_rollback(request, batch_id: int):
    return _act(request, batch_id, services.do_rollback, _("Rolling back the import."))


@login_required
@require_POST
def batch_discard(request, batch_id: int):
    return _act(request, batch_id, services.do_discard, _("The import was discarded; nothing was written."))


class _Echo:
    def write(self, value):
        return value


@login_required
@require_GET
def batch_rejected(request, batch_id: int):
    """The rejected rows as CSV: the row number, the problems, then the file's own cells."""
    batch = _batch_or_404(request, batch_id)
    w = csv.writer(_Echo())

    def lines():
        yield "\ufeff" + w.writerow([_("Row"), _("Problems"), *batch.headers])
        for r in selectors.error_rows(batch).iterator(chunk_size=1000):
            reason = "; ".join(f"{e['column']}: {e['message']}" if e.get("column") else e["message"] for e in r.errors)
            yield w.writerow([r.row_number, reason, *[exports.safe(v) for v in r.values]])

    resp = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="rejected-rows-{batch.id}.csv"'
    return resp


@login_required
@require_GET
def export_list(request, kind: str, fmt: str):
    try:
        return exports.export(request.user, kind, fmt, request.GET)
    except DomainError as e:
        if e.status in (403, 404):
            raise Http404()
        return HttpResponse(str(e), status=400, content_type="text/plain; charset=utf-8")


@login_required
@require_GET
def work_order_export_xlsx(request):
    """Beside the list's export.csv: the same filters and visibility, as .xlsx."""
    return export_list(request, "work-orders", "xlsx")
