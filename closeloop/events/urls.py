from django.urls import path

from . import views

app_name = "events"
urlpatterns = [
    path("settings/events/", views.subscriptions, name="subscriptions"),
    path("settings/events/<int:pk>/", views.subscription, name="subscription"),
    path("settings/events/<int:pk>/rotate", views.subscription_rotate, name="subscription_rotate"),
    path("settings/events/<int:pk>/resume", views.subscription_resume, name="subscription_resume"),
    path("settings/events/<int:pk>/delete", views.subscription_delete, name="subscription_delete"),
    path("settings/events/deliveries/<int:pk>/redeliver", views.redeliver, name="redeliver"),
    path("settings/systems/", views.systems, name="systems"),
    path("settings/systems/<int:pk>/", views.system, name="system"),
    path("settings/systems/<int:pk>/rotate", views.system_rotate, name="system_rotate"),
    path("settings/systems/<int:pk>/delete", views.system_delete, name="system_delete"),
]
