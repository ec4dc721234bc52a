from django.urls import path

from . import views

app_name = "dispatch"
urlpatterns = [
    path("dispatch/settings/", views.settings_page, name="settings"),
    path("dispatch/roster/", views.roster_page, name="roster"),
    path("dispatch/work-orders/<str:code>/assign", views.dispatch_from_card, name="assign"),
]
