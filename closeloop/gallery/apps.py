from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GalleryConfig(AppConfig):
    name = "closeloop.gallery"
    verbose_name = _("Templates")

    def ready(self):
        from closeloop.core import nav
        from closeloop.workorders.types_services import may_manage_types

        nav.register("gallery", _("Templates"), "gallery:index", icon="template", order=23,
                     visible=may_manage_types, group="settings", namespace="gallery")
