"""The console's audit log page (Settings → Audit log), administrators only."""

import json
from datetime import datetime, time, timedelta

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from closeloop.core.access import ADMINS, refuse
from closeloop.core.errors import DomainError

from . import selectors, services
from .models import KIND_LABELS, KIND_MODELS, Action

PAGE_SIZE = 50


def _day(value: str, *, end: bool = False) -> datetime | None:
    d = parse_date(value or "")
    if d is None:
        return None
    if end:
        d = d + timedelta(days=1)
    return timezone.make_aware(datetime.combine(d, time.min))  # the viewer's zone (the middleware activated it)


def _display(value) -> dict:
    """One side of a change as the page shows it: hidden secrets as a marker, nothing as —,
    lists and objects as compact JSON."""
    if isinstance(value, str) and services.REDACTED_CHANGED in value:
        return {"secret": True, "changed": True}
    if isinstance(value, str) and services.REDACTED in value:
        return {"secret": True, "changed": False}
    if value is None or value == "":
        return {"empty": True}
    if isinstance(value, bool):
        return {"text": _("yes") if value else _("no")}
    if isinstance(value, str):
        return {"text": value}
    return {"text": json.dumps(value, ensure_ascii=False)}


def _field_label(kind: str, field: str) -> str:
    """A changed field by its model's verbose name ("区域" for a team's region); "" when
    there is none to give (the page then shows the key alone)."""
    from django.apps import apps
    from django.core.exceptions import FieldDoesNotExist

    name = KIND_MODELS.get(kind)
    if not name:
        return ""
    try:
        f = apps.get_model(name)._meta.get_field(field.split(".", 1)[0])
    except (LookupError, FieldDoesNotExist):
        return ""
    label = str(getattr(f, "verbose_name", "") or "")
    if not label or label.replace(" ", "_") == f.name:
        return ""
    return label[:1].upper() + label[1:]


@login_required
def audit_list(request):
    if not selectors.may_read(request.user):
        refuse(ADMINS)
    g = request.GET
    f = selectors.AuditFilter(kind=g.get("kind") or None, object=(g.get("object") or "").strip() or None,
                              actor=(g.get("actor") or "").strip() or None, action=g.get("action") or None,
                              since=_day(g.get("since")), until=_day(g.get("until"), end=True))
    error = None
    try:
        page = selectors.page(selectors.filter_records(request.user, f), cursor=g.get("cursor") or None,
                              limit=PAGE_SIZE)
    except DomainError as e:
        error, page = str(e), selectors.Page([], None)
    rows = []
    for r in page.items:
        rows.append({"r": r, "kind_label": KIND_LABELS.get(r.kind, r.kind),
                     "changes": [{"field": c["field"], "label": _field_label(r.kind, c["field"]),
                                  "before": _display(c["before"]), "after": _display(c["after"])}
                                 for c in services.changes(r.before, r.after)]})
    kinds = sorted({*KIND_LABELS, *selectors.kinds_in_use()}, key=lambda k: str(KIND_LABELS.get(k, k)))
    query = g.copy()
    query.pop("cursor", None)
    ctx = {
        "rows": rows, "next_cursor": page.next_cursor, "error": error,
        "kinds": [(k, KIND_LABELS.get(k, k)) for k in kinds], "actions": Action.choices,
        "f": {k: g.get(k, "") for k in ("kind", "object", "actor", "action", "since", "until")},
        "query": query.urlencode(), "filtered": any(g.get(k) for k in ("kind", "object", "actor", "action", "since",
                                                                         "until")),
        "title": _("Audit log"),
    }
    return render(request, "audit/list.html", ctx)
