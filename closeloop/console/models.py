"""The staff console's own data: saved queues. Work orders stay in closeloop.workorders."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Queue(models.Model):
    """A saved filter of the staff console: per team (shared with its members) or personal.

    Moved here from the portal app with its rows (portal 0002 renames the table, console
    0001 takes the model over in the migration state only)."""

    name = models.CharField(_("name"), max_length=100)
    team = models.ForeignKey("accounts.Team", verbose_name=_("team"), null=True, blank=True,
                             on_delete=models.CASCADE, related_name="queues")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="queues")
    #: query-string style filters: {"status": [...], "priority": [...], "team": "x", "assignee": "none", "q": "..."}
    filters = models.JSONField(default=dict, blank=True)
    order = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["order", "name", "id"]

    def __str__(self) -> str:
        return self.name
