"""Keyset pages and their cursors: the one implementation every list uses (the API's
reference data, work orders, the timeline, approvals, and the console's list page).

A page is `items` plus `next_cursor`, the opaque token of the last row shown; the next
page starts after it. No OFFSET: a page stays cheap at any depth and stable while rows
are added. Cursors are `base64url("id:<last id>")` without padding; anything else is a
422 naming the `cursor` field (a client must only send back what it was given).

    from closeloop.core.paging import page_by_id
    page = page_by_id(qs, cursor=params.cursor, limit=params.limit)              # oldest first
    page = page_by_id(qs, cursor=cursor, limit=25, newest_first=True)            # newest first
"""

import base64
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from .errors import FieldProblem, ValidationFailed


@dataclass
class Page:
    items: list
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor of ours carries; ValidationFailed (field `cursor`) for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, value = raw.split(":", 1)
        if kind != "id":
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(FieldProblem("cursor", _("Not a cursor this API gave out."))) from None


def page_by_id(qs: QuerySet, *, cursor: str | None = None, limit: int = 25, newest_first: bool = False) -> Page:
    """One keyset page of `qs` in id order (descending with `newest_first`). Reads
    limit + 1 rows: the extra one only tells whether there is a next page. Rows may be
    model instances or dicts (`.values()` with "id")."""
    qs = qs.order_by("-id" if newest_first else "id")
    if cursor:
        last = decode_cursor(cursor)
        qs = qs.filter(id__lt=last) if newest_first else qs.filter(id__gt=last)
    items = list(qs[: limit + 1])
    if len(items) <= limit:
        return Page(items, None)
    last = items[limit - 1]
    return Page(items[:limit], encode_cursor(last["id"] if isinstance(last, dict) else last.pk))
