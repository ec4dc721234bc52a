from django.urls import path

from . import views

app_name = "parts"
urlpatterns = [
    path("stock/parts/", views.catalogue, name="catalogue"),
    path("stock/parts/<str:number>/", views.part_page, name="part"),
    path("stock/locations/", views.locations, name="locations"),
    path("stock/locations/<slug:code>/", views.location_page, name="location"),
    path("stock/move", views.move, name="move"),
    path("stock/reorder/", views.reorder, name="reorder"),
    path("stock/fleet/", views.fleet, name="fleet"),
    path("stock/work-orders/<str:code>/reserve", views.reserve, name="reserve"),
]
