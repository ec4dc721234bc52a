from django.urls import path

from . import views

app_name = "administration"
urlpatterns = [
    path("setup/", views.first_run, name="first_run"),
    path("settings/setup/", views.checklist, name="checklist"),
    path("settings/customers/", views.customers, name="customers"),
    path("settings/customers/new", views.customer_edit, name="customer_new"),
    path("settings/customers/<slug:code>/", views.customer_edit, name="customer_edit"),
    path("settings/pick/customers", views.pick_customers, name="pick_customers"),
]
