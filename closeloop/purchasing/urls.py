from django.urls import path

from . import views

app_name = "purchasing"
urlpatterns = [
    path("purchasing/", views.request_list, name="list"),
    path("purchasing/consolidate", views.consolidate, name="consolidate"),
    path("purchasing/rules/", views.rules, name="rules"),
    path("purchasing/settings/", views.settings_page, name="settings"),
    path("purchasing/requests/<str:code>/send", views.send, name="send"),
    path("purchasing/requests/<str:code>/purchase-order", views.purchase_order, name="purchase_order"),
]
