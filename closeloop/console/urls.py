"""The staff console's pages. The paths are the ones users know (/dashboard/, /board/,
/lookup/, /console/...); the names live in the "console" namespace."""

from django.urls import path

from . import views

app_name = "console"
urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("board/", views.board, name="board"),
    path("lookup/", views.lookup, name="lookup"),
    path("console/changes", views.changes, name="changes"),
    path("console/bulk", views.bulk, name="bulk"),
    path("console/queues", views.queue_save, name="queue_save"),
    path("console/queues/<int:queue_id>/delete", views.queue_delete, name="queue_delete"),
]
