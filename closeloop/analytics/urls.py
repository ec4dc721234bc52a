from django.urls import path

from . import views

app_name = "analytics"
urlpatterns = [
    path("analytics/", views.overview, name="overview"),
    path("analytics/heatmap/", views.heatmap, name="heatmap"),
    path("portal/figures/", views.own_figures, name="own_figures"),
    path("analytics/export/<str:chart>.<str:fmt>", views.export, name="export"),
]
