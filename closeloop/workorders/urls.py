from django.urls import path

from . import views

app_name = "workorders"
urlpatterns = [
    path("", views.home, name="home"),
    path("work-orders/", views.work_order_list, name="list"),
    path("work-orders/new", views.work_order_create, name="create"),
    path("work-orders/export.csv", views.work_order_export, name="export"),
    path("work-orders/new/fields", views.custom_fields_partial, name="create_fields"),
    path("work-orders/<str:code>/", views.work_order_detail, name="detail"),
    path("work-orders/<str:code>/actions/<str:action>", views.work_order_action, name="action"),
    path("work-orders/<str:code>/comments", views.work_order_comment, name="comment"),
    path("work-orders/<str:code>/tags", views.work_order_tags, name="tags"),
    path("work-orders/<str:code>/watch", views.work_order_watch, name="watch"),
    path("work-orders/<str:code>/attachments", views.work_order_upload, name="upload"),
    path("work-orders/<str:code>/attachments/<int:attachment_id>", views.attachment_download, name="attachment"),
]
