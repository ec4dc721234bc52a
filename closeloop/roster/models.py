"""People's availability: shifts, on-call duty and leave.

Read by dispatch (who can take work now, estimated start and finish) and by notify (who
is on call for a team). Both depend on this app; it depends only on accounts.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Shift(models.Model):
    """A period an engineer works (`shift`) or can be called (`on_call`)."""

    class Kind(models.TextChoices):
        SHIFT = "shift", _("On shift")
        ON_CALL = "on_call", _("On call")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shifts")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.SHIFT)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["starts_at", "ends_at"], name="shift_window"),
                   models.Index(fields=["user", "starts_at"], name="shift_user_start")]


class Leave(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leaves")
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    reason = models.CharField(_("reason"), max_length=100, blank=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["starts_at", "ends_at"], name="leave_window")]
