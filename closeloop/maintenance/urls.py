from django.urls import path

from . import views

app_name = "maintenance"
urlpatterns = [
    path("maintenance/", views.plan_list, name="list"),
    path("maintenance/new", views.edit, name="new"),
    path("maintenance/<int:pk>/", views.detail, name="detail"),
    path("maintenance/<int:pk>/edit", views.edit, name="edit"),
    path("maintenance/<int:pk>/delete", views.delete, name="delete"),
    path("maintenance/<int:pk>/run", views.run_now, name="run"),
]
