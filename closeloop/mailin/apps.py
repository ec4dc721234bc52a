from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailinConfig(AppConfig):
    name = "closeloop.mailin"
    verbose_name = _("Email in")

    def ready(self):
        from closeloop.core import jobs, nav
        from closeloop.workorders import panels

        from . import imap, services

        jobs.register("mailin.poll", step=imap.step, next_at=imap.next_at, order=25)
        panels.register_event(services.EVENT_KIND, "mailin/_timeline_event.html")
        nav.register("mailin-held", _("Held mail"), "mailin:held", icon="mail", order=92,
                     visible=services.may_decide, namespace="mailin-held")
        nav.register("mailin", _("Mailboxes"), "mailin:mailboxes", icon="mail", order=96,
                     visible=services.may_manage_mailboxes, namespace="mailin", group="settings")
