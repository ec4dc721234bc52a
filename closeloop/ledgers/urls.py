from django.urls import path

from . import views

app_name = "ledgers"
urlpatterns = [
    path("settings/imports/", views.batch_list, name="list"),
    path("settings/imports/<int:batch_id>/", views.batch_detail, name="detail"),
    path("settings/imports/<int:batch_id>/confirm", views.batch_confirm, name="confirm"),
    path("settings/imports/<int:batch_id>/rollback", views.batch_rollback, name="rollback"),
    path("settings/imports/<int:batch_id>/discard", views.batch_discard, name="discard"),
    path("settings/imports/<int:batch_id>/rejected.csv", views.batch_rejected, name="rejected"),
    path("exports/<slug:kind>.<slug:fmt>", views.export_list, name="export"),
    path("work-orders/export.xlsx", views.work_order_export_xlsx, name="work_orders_xlsx"),
]
