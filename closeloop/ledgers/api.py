"""List exports for API clients: GET /api/v1/exports/{name} with name one of
work-orders, customers, sites, contacts, assets, people followed by .csv or .xlsx.
The same filters (query string) and the same visibility as the lists; people are for
administrators and managers only (403)."""

from ninja import Router

from closeloop.core.apikit import require_scope
from closeloop.core.errors import DomainError

from . import exports

router = Router(tags=["exports"])


@router.get("/exports/{name}", summary="Export a list as .xlsx or CSV",
            description="`name`: work-orders, customers, sites, contacts, assets or people, then `.csv` or `.xlsx`. "
                        "Query parameters filter as the list does (work orders: the list's filters; others: `q`).",
            response={200: None})
def export_list(request, name: str):
    require_scope(request, "read")
    kind, _dot, fmt = name.rpartition(".")
    if kind not in exports.KINDS or fmt not in ("csv", "xlsx"):
        raise DomainError("No such export.", 404, "not_found")
    return exports.export(request.auth, kind, fmt, request.GET)
