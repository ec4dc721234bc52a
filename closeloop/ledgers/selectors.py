"""Who may import and export, and permission-checked reads of import batches.

Imports: administrators and managers (and superusers); everyone else gets a 404 page and
a 403 from the API. Exports follow each list's own visibility (customers.selectors,
workorders.selectors); the people list is for administrators and managers only.
"""

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from closeloop.core.errors import NotFound

from .models import Action, ImportBatch, StagedRow

IMPORTERS = {"admin", "manager"}


def may_import(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active
                and (user.is_superuser or getattr(user, "role", "") in IMPORTERS))


may_export_people = may_import


def visible_batches(user) -> QuerySet[ImportBatch]:
    if not may_import(user):
        return ImportBatch.objects.none()
    return ImportBatch.objects.select_related("created_by").defer("content")


def access_batch(user, batch_id: int) -> ImportBatch:
    b = visible_batches(user).filter(id=batch_id).first()
    if b is None:
        raise NotFound(_("No such import."))
    return b


def error_rows(batch: ImportBatch) -> QuerySet[StagedRow]:
    return StagedRow.objects.filter(batch=batch, action=Action.ERROR).order_by("id")


def rows_by_action(batch: ImportBatch, action: str) -> QuerySet[StagedRow]:
    return StagedRow.objects.filter(batch=batch, action=action).order_by("id")
