from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The staff console: dashboard, board, lookup, saved queues, bulk actions and live updates
    (built on workorders; plugs into its list page through workorders.listing)."""

    name = "closeloop.console"
    label = "console"
    verbose_name = "Staff console"

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from closeloop.core import nav
        from closeloop.workorders import listing

        from . import selectors, views
        from .templatetags import console_cards

        nav.register("dashboard", _("Dashboard"), "console:dashboard", icon="layout-dashboard",
                     visible=selectors.is_staff, order=5, namespace="console:dashboard")
        nav.register("board", _("Board"), "console:board", icon="layout-kanban",
                     visible=lambda user: user.role != "customer", order=6, namespace="console:board")
        # Managers (and admins) watch the dashboard; dispatchers work the list (the default).
        nav.register_landing("console:dashboard", when=selectors.watches_the_dashboard, order=10)
        # Finance: the queue of work waiting for an invoice (confirmed by the customer).
        nav.register_landing("workorders:list", when=lambda user: user.role == "finance", order=30,
                             query="status=confirmed")
        listing.register("console", context=views.list_context, saved_filter=selectors.saved_queue_filter,
                         decorate=selectors.decorate, row_html=console_cards.sla_badge_html,
                         templates={"toolbar": "console/_toolbar.html", "before_rows": "console/_bulk.html",
                                    "row": "console/_sla.html", "after": "console/_list_live.html"})
