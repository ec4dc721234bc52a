from django.apps import AppConfig


class SLAConfig(AppConfig):
    name = "closeloop.sla"
    label = "sla"
    verbose_name = "SLA"

    def ready(self):
        # Plug the ledger into the work order lifecycle (create, every transition, update).
        from . import hooks

        hooks.install()

        from django.core import checks

        from closeloop.core import jobs, worktime
        from closeloop.workorders import panels
        from closeloop.workorders import selectors as wo_selectors
        from closeloop.workorders import serializers as wo_serializers

        from . import selectors, serializers
        from .checks import check_holiday_data

        checks.register(check_holiday_data, "closeloop")
        from .worker import handle_one_sla_check, next_sla_check_at

        worktime.register(selectors.working_time_test)
        wo_serializers.register_detail("sla", lambda wo, user: serializers.ledger(selectors.ledger_for(wo)))
        wo_selectors.register_filter(selectors.narrow_work_orders)
        panels.register_page_context(selectors.page_context)
        panels.register_event("escalation", "sla/_timeline_event.html")  # the ladder's and the rules' escalations
        jobs.register("sla.timers", step=lambda worker_id: handle_one_sla_check(
            worker_id, batch=jobs.OPTIONS["batch"]), next_at=next_sla_check_at, order=10)
