from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "closeloop.telemetry"
    label = "telemetry"
    verbose_name = "Telemetry"

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from closeloop.core import nav

        from . import services

        nav.register("telemetry-gateways", _("Meters and alarms"), "telemetry:gateways", icon="broadcast",
                     visible=services.may_manage, order=48, group="settings", namespace="telemetry")
