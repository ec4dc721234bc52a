from django.urls import include, path

from closeloop.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("closeloop.core.urls")),
    path("", include("closeloop.ops.urls")),
    path("", include("closeloop.accounts.urls")),
    path("", include("closeloop.workorders.urls")),
    path("", include("closeloop.console.urls")),
    path("", include("closeloop.notify.urls")),
    path("", include("closeloop.fieldwork.urls")),
    path("", include("closeloop.portal.urls")),
    path("", include("closeloop.approvals.urls")),
    path("", include("closeloop.rules.urls")),
    path("", include("closeloop.maintenance.urls")),
    path("", include("closeloop.dispatch.urls")),
    path("", include("closeloop.audit.urls")),
    path("", include("closeloop.ledgers.urls")),
    path("", include("closeloop.analytics.urls")),
    path("", include("closeloop.administration.urls")),
    path("", include("closeloop.gallery.urls")),
    path("", include("closeloop.parts.urls")),
    path("", include("closeloop.events.urls")),
    path("", include("closeloop.mailin.urls")),
    path("", include("closeloop.purchasing.urls")),
    path("", include("closeloop.telemetry.urls")),
    path("", include("closeloop.connectors.urls")),
]

# A 500 that is really the database going away (or an unreadable body met outside a view) answers
# 503 / 4xx as problem+json; anything else is the usual 500 page.
handler500 = "closeloop.core.edges.server_error"
