from django.urls import path

from . import views

app_name = "connectors"
urlpatterns = [
    path("connectors/context/<str:code>/", views.context_fragment, name="context"),
    path("settings/connectors/", views.connector_list, name="list"),
    path("settings/connectors/new", views.connector_new, name="new"),
    path("settings/connectors/<int:cid>/", views.connector_edit, name="edit"),
    path("settings/connectors/<int:cid>/delete", views.connector_delete, name="delete"),
]
