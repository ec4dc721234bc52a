from django.urls import path, register_converter

from . import designer, holidays, views
from .kinds import KINDS


class KindConverter:
    regex = "|".join(KINDS)

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(KindConverter, "kind")

app_name = "administration"
urlpatterns = [
    path("setup/", views.first_run, name="first_run"),
    path("settings/setup/", views.checklist, name="checklist"),
    # no-argument names for the Settings menu (core.nav reverses without arguments)
    path("settings/customers/", views.object_list, {"kind": "customers"}, name="customers"),
    path("settings/users/", views.object_list, {"kind": "users"}, name="users"),
    path("settings/types/", views.object_list, {"kind": "types"}, name="types"),
    path("settings/types/<str:ref>/fields/new", designer.field_add, name="type_field_add"),
    path("settings/types/<str:ref>/fields/order", designer.fields_order, name="type_fields_order"),
    path("settings/types/<str:ref>/fields/<str:field>/", designer.field_edit, name="type_field_edit"),
    path("settings/types/<str:ref>/fields/<str:field>/remove", designer.field_remove, name="type_field_remove"),
    path("settings/types/<str:ref>/preview", designer.preview, name="type_preview"),
    path("settings/types/<str:ref>/main-line", designer.main_line_save, name="type_main_line"),
    path("settings/types/<str:ref>/main-line/preview", designer.main_line_preview, name="type_main_line_preview"),
    path("settings/sla-policies/", views.object_list, {"kind": "sla-policies"}, name="sla"),
    path("settings/calendars/<str:ref>/holidays", holidays.save_year, name="calendar_year"),
    path("settings/calendars/<str:ref>/holidays/import", holidays.import_dates, name="calendar_import"),
    path("settings/<kind:kind>/", views.object_list, name="list"),
    path("settings/<kind:kind>/new", views.object_edit, name="new"),
    path("settings/<kind:kind>/<str:ref>/", views.object_edit, name="edit"),
    path("settings/<kind:kind>/<str:ref>/active", views.object_active, name="active"),
    path("settings/<kind:kind>/<str:ref>/delete", views.object_delete, name="delete"),
    path("pick/<str:kind>", views.pick, name="pick"),
]
