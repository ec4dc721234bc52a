from django.urls import path

from . import views

app_name = "notify"
urlpatterns = [
    path("notifications/", views.inbox, name="inbox"),
    path("notifications/read", views.inbox_read, name="inbox_read"),
    path("notifications/unread-badge", views.unread_badge, name="unread_badge"),
    path("notifications/preferences", views.preferences, name="preferences"),
    path("notifications/ack/<str:token>", views.ack_link, name="ack_link"),
    path("notifications/chains/<int:cid>/ack", views.chain_ack, name="chain_ack"),
    path("notifications/channels/", views.channels, name="channels"),
    path("notifications/channels/<int:cid>", views.channel, name="channel"),
    path("notifications/channels/<int:cid>/test", views.channel_test, name="channel_test"),
    path("notifications/channels/<int:cid>/resume", views.channel_resume, name="channel_resume"),
    path("notifications/flags/<int:fid>/clear", views.flag_clear, name="flag_clear"),
    path("notifications/deliveries/", views.deliveries, name="deliveries"),
    path("notifications/deliveries/<int:did>/redeliver", views.redeliver, name="redeliver"),
    path("notifications/policies/", views.policies, name="policies"),
]
