"""The configuration audit log: one row per configuration write, append-only."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Audit records are append-only")

    def delete(self):
        raise TypeError("Audit records are append-only")


class Action(models.TextChoices):
    CREATED = "created", _("created")
    UPDATED = "updated", _("updated")
    DELETED = "deleted", _("deleted")
    ACTIVATED = "activated", _("activated")
    DEACTIVATED = "deactivated", _("deactivated")
    REVOKED = "revoked", _("revoked")
    PUBLISHED = "published", _("published")
    RESUMED = "resumed", _("resumed")
    MOVED = "moved", _("moved")
    REPLACED = "replaced", _("replaced")


class AuditRecord(models.Model):
    """Who changed which configuration object when, from what to what.

    `before`/`after` are JSON snapshots (None for a creation's before and a deletion's
    after) with secrets already replaced by markers (services.REDACTED): a password,
    token hash or channel credential is never stored. `object_id` is a string so any
    key fits; `label` is the object's name at the time, so a deleted object still reads.
    Written only by services.record_change, inside the transaction of the change.
    """

    at = models.DateTimeField(_("time"))
    #: None: the command line or the system (a migration, the demo loader).
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=40)
    object_id = models.CharField(_("object"), max_length=64)
    label = models.CharField(_("name"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit record")
        verbose_name_plural = _("audit records")
        indexes = [
            models.Index(fields=["kind", "object_id", "id"], name="audit_kind_obj"),
            models.Index(fields=["actor", "id"], name="audit_actor"),
            models.Index(fields=["at"], name="audit_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("Audit records are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit records are append-only")


#: How the console names the kinds the apps record (a kind missing here shows as itself).
KIND_LABELS = {
    "rule": _("Rule"),
    "keyword_library": _("Keyword library"),
    "sla_policy": _("SLA policy"),
    "calendar": _("Business calendar"),
    "channel": _("Notification channel"),
    "user": _("User"),
    "team": _("Team"),
    "skill_tag": _("Skill tag"),
    "api_token": _("API token"),
    "wo_type": _("Work order type"),
    "custom_field": _("Custom field"),
    "closure_policy": _("Closure gates"),
    "dispatch_setting": _("Dispatch setting"),
    "approval_flow": _("Approval flow"),
    "handoff_requirement": _("Handoff requirement"),
}
