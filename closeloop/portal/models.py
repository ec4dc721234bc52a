"""Customer portal data: tracking links, portal throttling, customer feedback. Work order
data itself stays in closeloop.workorders (the staff console's queues: closeloop.console)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TrackingLink(models.Model):
    """The private link a requester follows progress with: /portal/t/<token>.

    The token is random (secrets.token_urlsafe, 32 bytes) and unrelated to the code, so
    knowing a work order's code never opens it. Stored in clear (like a share link) so the
    console and later notifications can show the same link; revoking = a new token."""

    work_order = models.OneToOneField("workorders.WorkOrder", on_delete=models.CASCADE, related_name="tracking")
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"tracking {self.work_order_id}"


class PortalHit(models.Model):
    """One anonymous request that counts against a rate limit (scope per form or lookup).
    Kept in the database so every web process agrees, like core.ratelimit."""

    scope = models.CharField(max_length=20)
    address = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["scope", "address", "at"], name="portal_hit_scope_addr_at")]


class Feedback(models.Model):
    """The customer's rating (1-5) and comment when confirming the work. The stars are also
    written to WorkOrder.rating by the confirm action; the comment lives here."""

    work_order = models.OneToOneField("workorders.WorkOrder", on_delete=models.CASCADE, related_name="feedback")
    rating = models.PositiveSmallIntegerField(_("rating"))
    comment = models.TextField(_("comment"), blank=True)
    signer_name = models.CharField(_("signed by"), max_length=100, blank=True)
    via = models.CharField(max_length=20, default="portal")
    at = models.DateTimeField()
