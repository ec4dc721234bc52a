"""What the maintenance app plugs into (from MaintenanceConfig.ready())."""

from django.utils.translation import gettext_lazy


def install() -> None:
    from closeloop.core import jobs, nav

    from . import engine, services, sources

    jobs.register("maintenance.plans", step=engine.run_due_plans, next_at=engine.next_plan_at, order=45)
    sources.register_ingest_listener(engine.on_ingest)
    nav.register(
        "maintenance",
        gettext_lazy("Maintenance"),
        "maintenance:list",
        icon="calendar",
        visible=services.may_read,
        order=46,
    )
