from django.urls import path

from . import views

app_name = "portal"
urlpatterns = [
    path("portal/", views.home, name="home"),
    path("portal/new", views.report, name="report"),
    path("portal/w/<str:code>/", views.work_order, name="work_order"),
    path("portal/w/<str:code>/live", views.work_order_live, name="work_order_live"),
    path("portal/w/<str:code>/confirm", views.work_order_confirm, name="work_order_confirm"),
    path("portal/w/<str:code>/reopen", views.work_order_reopen, name="work_order_reopen"),
    path("portal/q/<str:token>/", views.qr, name="qr"),
    path("portal/q/<str:token>/report", views.qr_report, name="qr_report"),
    path("portal/t/<str:token>/", views.track, name="track"),
    path("portal/t/<str:token>/live", views.track_live, name="track_live"),
    path("portal/t/<str:token>/attachments/<int:attachment_id>", views.track_attachment, name="track_attachment"),
    path("portal/t/<str:token>/confirm", views.track_confirm, name="track_confirm"),
    path("portal/t/<str:token>/reopen", views.track_reopen, name="track_reopen"),
]
