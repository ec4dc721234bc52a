"""A connected system: where to fetch a work order's record in it and what to show."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Connector(models.Model):
    key = models.SlugField(_("key"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, default="http_json")
    enabled = models.BooleanField(_("enabled"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=50)
    #: Which id to ask for: the work order's external ref of this system, or (blank) its code.
    ref_system = models.SlugField(_("external ref system"), max_length=40, blank=True)
    url_template = models.CharField(_("URL template"), max_length=500)
    link_template = models.CharField(_("link template"), max_length=500, blank=True)
    auth_header = models.CharField(_("auth header"), max_length=100, blank=True)
    #: The header's value, encrypted (connectors.crypto, Fernet); never shown back.
    auth_secret = models.TextField(_("auth secret"), blank=True)
    #: [{"path": "conversation.-1.text", "label": "Last message"}, ...]
    fields = models.JSONField(_("fields"), default=list, blank=True)
    timeout_ms = models.PositiveIntegerField(_("time limit (ms)"), default=1500)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["order", "name", "id"]

    def __str__(self):
        return self.name
