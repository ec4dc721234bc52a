"""Settings → Templates: the gallery, one template's preview and install, export and import."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from closeloop.core.errors import ValidationFailed
from closeloop.workorders.types_services import may_manage_types

from . import services


def _require(request):
    if not may_manage_types(request.user):
        raise Http404()


@login_required
def index(request):
    _require(request)
    cards = [{"bundle": b, "plan": services.plan(b)} for b in services.gallery()]
    for c in cards:
        c["new"] = sum(1 for i in c["plan"] if i.action == "create")
        c["installed"] = all(i.action == "exists" for i in c["plan"] if i.kind == "type")
    return render(request, "gallery/index.html", {"cards": cards})


@login_required
def detail(request, key: str):
    _require(request)
    try:
        bundle = services.load(key)
    except KeyError:
        raise Http404() from None
    return _preview_or_install(request, bundle, source=None)


@login_required
def import_file(request):
    """Upload a template file → the same preview → install (the file travels in the form)."""
    _require(request)
    if request.method != "POST":
        return render(request, "gallery/import.html", {})
    raw = request.FILES["file"].read(services.MAX_BYTES + 1) if "file" in request.FILES else \
        request.POST.get("source", "").encode("utf-8")
    if not raw:
        return render(request, "gallery/import.html", {"errors": [_("Choose a template file (.json).")]}, status=422)
    try:
        bundle = services.parse(raw)
    except ValidationFailed as e:
        return render(request, "gallery/import.html", {"errors": [_problem(p) for p in e.problems]}, status=422)
    return _preview_or_install(request, bundle, source=bundle.source())


def _preview_or_install(request, bundle, *, source):
    errors = []
    if request.method == "POST" and request.POST.get("install"):
        try:
            services.do_install(actor=request.user, bundle=bundle)
        except ValidationFailed as e:
            errors = [_problem(p) for p in e.problems]
        else:
            messages.success(request, _("Template “%(n)s” installed.") % {"n": bundle.name})
            return redirect("gallery:index")
    items = services.plan(bundle)
    return render(request, "gallery/detail.html", {
        "bundle": bundle, "items": items, "source": source, "errors": errors,
        "conflicts": [i for i in items if i.action == "conflict"],
        "new": [i for i in items if i.action == "create"],
    }, status=422 if errors else 200)


def _problem(p) -> str:
    return f"{p.field}: {p.message}" if p.field else str(p.message)


@login_required
def export_file(request):
    _require(request)
    data = services.export()
    response = HttpResponse(json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="closeloop-template.json"'
    return response
