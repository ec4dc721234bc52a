from django.urls import path

from . import views

app_name = "telemetry"
urlpatterns = [
    path("settings/telemetry/", views.gateways_page, name="gateways"),
    path("settings/telemetry/meters/", views.meters_page, name="meters"),
    path("settings/telemetry/conditions/", views.conditions_page, name="conditions"),
    path("settings/telemetry/assets/<path:serial>/", views.asset_page, name="asset"),
]
