from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Running closeloop for real: liveness/readiness, Prometheus metrics, the worker heartbeat,
    backup and restore, the project's own `closeloop check` checks (docs/deployment.md)."""

    name = "closeloop.ops"
    label = "ops"
    verbose_name = "operations"

    def ready(self):
        from closeloop.core import jobs

        from . import checks  # noqa: F401  (registers the project checks)
        from .heartbeat import beat, stopped

        jobs.register("ops.heartbeat", step=beat, order=0, on_stop=stopped)
