from django.urls import path

from . import views

app_name = "approvals"
urlpatterns = [
    path("approvals/", views.inbox, name="inbox"),
    path("approvals/requests/<int:pk>/", views.request_detail, name="request"),
    path("approvals/requests/<int:pk>/decide", views.decide, name="decide"),
    path("approvals/requests/<int:pk>/bypass", views.bypass, name="bypass"),
    path("approvals/requests/<int:pk>/cancel", views.cancel, name="cancel"),
    path("approvals/justifications/<int:pk>", views.justify, name="justify"),
    path("approvals/handoffs/<int:pk>/rate", views.rate_handoff, name="rate_handoff"),
    path("approvals/flows/", views.flows, name="flows"),
    path("approvals/flows/<int:pk>/designer", views.designer, name="designer"),
    path("approvals/reports/", views.reports, name="reports"),
    path("approvals/handoffs/", views.handoffs, name="handoffs"),
    path("work-orders/<str:code>/approvals", views.start, name="start"),
]
