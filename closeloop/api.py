"""The REST API: /api/v1, OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs."""

from ninja import NinjaAPI

from closeloop.accounts.api import router as accounts_router
from closeloop.accounts.auth import AUTH
from closeloop.core.apikit import RENDERER, install_handlers
from closeloop.customers.api import router as customers_router
from closeloop.sla.api import router as sla_router
from closeloop.workorders.api import router as workorders_router

api = NinjaAPI(
    renderer=RENDERER,
    title="closeloop API",
    version="1",
    description="Work orders from request to closed. Auth: `Authorization: Bearer <token>` "
    "(create one with `closeloop token create USERNAME`). Errors are application/problem+json. "
    "POSTs accept an `Idempotency-Key` header. Lists use cursor pagination.",
    auth=AUTH,
    urls_namespace="api",
)
install_handlers(api)
api.add_router("/", workorders_router)
# Before customers: its /assets/{path:serial_number} would swallow /assets/<serial>/qr.
api.add_router("/", "closeloop.fieldwork.api.router")
api.add_router("/", customers_router)
api.add_router("/", accounts_router)
api.add_router("/", sla_router)
api.add_router("/", "closeloop.workorders.api_types.router")
api.add_router("/", "closeloop.dispatch.api.router")
api.add_router("/", "closeloop.rules.api.router")
api.add_router("/", "closeloop.maintenance.api.router")
api.add_router("/", "closeloop.notify.api.router")
api.add_router("/", "closeloop.portal.api.router")
api.add_router("/", "closeloop.approvals.api.router")
api.add_router("/", "closeloop.audit.api.router")
api.add_router("/", "closeloop.ledgers.api.router")
api.add_router("/", "closeloop.telemetry.api.router")
api.add_router("/", "closeloop.parts.api.router")
api.add_router("/", "closeloop.events.api.router")
api.add_router("/", "closeloop.mailin.api.router")
api.add_router("/", "closeloop.purchasing.api.router")
api.add_router("/", "closeloop.connectors.api.router")
