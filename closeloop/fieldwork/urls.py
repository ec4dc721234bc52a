from django.urls import path

from . import views

app_name = "fieldwork"
urlpatterns = [
    path("m/", views.phone_home, name="phone"),
    path("m/manifest.webmanifest", views.manifest, name="manifest"),
    path("m/sw.js", views.service_worker, name="sw"),
    path("m/icon-<int:size>.png", views.icon, name="icon"),
    path("m/wo/<str:code>/", views.phone_work_order, name="phone_wo"),
    path("fieldwork/photos/<int:photo_id>", views.photo, name="photo"),
    path("fieldwork/work-orders/<str:code>/report.pdf", views.report_pdf, name="report"),
    path("fieldwork/qr/<str:kind>/<str:code>/", views.qr_page, name="qr"),
    path("fieldwork/work-orders/<str:code>/signature-link", views.send_signature_link, name="signature_link"),
    path("fieldwork/work-orders/<str:code>/review", views.review_evidence, name="review"),
    path("fieldwork/gates/", views.gate_policies, name="gate_policies"),
    path("sign/<str:token>/", views.sign_by_link, name="sign"),
]
