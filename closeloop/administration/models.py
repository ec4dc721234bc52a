"""The company's own settings, set on the first run (administration.services.do_first_run)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CompanySettings(models.Model):
    """One row (pk 1). Its insert is what makes the first run happen once: two visitors
    submitting the first-run form at the same time race on this primary key, one wins."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    name = models.CharField(_("company name"), max_length=200)
    time_zone = models.CharField(_("time zone"), max_length=64)
    language = models.CharField(_("language"), max_length=10)
    site_url = models.URLField(_("public site URL"), max_length=300, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("company settings")

    def __str__(self) -> str:
        return self.name
