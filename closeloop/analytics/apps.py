from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Measures over the timeline (docs/analytics.md): facts per work order and per state
    interval, rollups per day kept by the worker, the manager's analytics and heat map pages."""

    name = "closeloop.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from closeloop.core import jobs, nav
        from closeloop.workorders import listing
        from closeloop.workorders import selectors as wo_selectors

        from . import digest, drill, refresh, selectors

        jobs.register("analytics.refresh", step=refresh.worker_step, next_at=refresh.next_at, order=60)
        # after the refresh: the digest waits until last week's events are folded in
        jobs.register("analytics.digest", step=digest.step, next_at=digest.next_at, order=65)
        # One top-bar entry for both pages (the bar is full); the page's tabs lead to the heat map.
        nav.register("analytics", _("Analytics"), "analytics:overview", icon="chart-bar",
                     visible=selectors.may_view, order=7, namespace="analytics")
        # A customer's own figures: a tab of the portal (its "portal" group), not the staff top bar.
        nav.register("portal-figures", _("Service figures"), "analytics:own_figures", icon="chart-bar",
                     visible=selectors.may_view_own_figures, order=20, group="portal")
        wo_selectors.register_filter(drill.narrow_work_orders, params=("drill",))
        listing.register("analytics", context=drill.list_context,
                         templates={"toolbar": "analytics/_drill_banner.html"})
