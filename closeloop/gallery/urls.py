from django.urls import path

from . import views

app_name = "gallery"
urlpatterns = [
    path("settings/templates/", views.index, name="index"),
    path("settings/templates/export.json", views.export_file, name="export"),
    path("settings/templates/import", views.import_file, name="import"),
    path("settings/templates/<str:key>/", views.detail, name="detail"),
]
