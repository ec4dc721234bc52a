from django.urls import include, path

from closeloop.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("closeloop.core.urls")),
    path("", include("closeloop.accounts.urls")),
    path("", include("closeloop.workorders.urls")),
]
