from django.urls import path

from . import views

app_name = "mailin"
urlpatterns = [
    path("settings/mailboxes/", views.mailboxes, name="mailboxes"),
    path("settings/mailboxes/<int:mid>", views.mailbox, name="mailbox"),
    path("settings/mailboxes/<int:mid>/poll", views.mailbox_poll, name="mailbox_poll"),
    path("settings/mailboxes/<int:mid>/delete", views.mailbox_delete, name="mailbox_delete"),
    path("mail/held/", views.held, name="held"),
    path("mail/held/<int:pk>/accept", views.held_accept, name="held_accept"),
    path("mail/held/<int:pk>/discard", views.held_discard, name="held_discard"),
]
