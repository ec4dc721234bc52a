"""The demo marker: one row saying "this database holds the demo company"."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DemoMarker(models.Model):
    """Present (a single row, pk=1) once `closeloop demo` has loaded the demo company.

    The UI shows a DEMO badge when it exists (see core.demo_database.is_demo_database);
    `closeloop demo` uses it to stay idempotent and to know whether `--reset` may wipe
    the database (only when nothing but the demo was ever loaded into it).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    loaded_at = models.DateTimeField(_("loaded at"))
    seed = models.IntegerField(_("random seed"))
    scale = models.FloatField(_("scale"))
    data_version = models.PositiveSmallIntegerField(_("data version"))
    #: Loaded with --force into a database that already held other data: --reset refuses.
    mixed = models.BooleanField(_("loaded next to other data"), default=False)
    #: Row counts and load time, for the command's report and the about page.
    summary = models.JSONField(_("summary"), default=dict, blank=True)

    class Meta:
        verbose_name = _("demo marker")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="demo_marker_singleton")]

    def __str__(self) -> str:
        return f"demo v{self.data_version} (scale {self.scale:g}, {self.loaded_at:%Y-%m-%d %H:%M})"
