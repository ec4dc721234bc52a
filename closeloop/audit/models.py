"""The configuration audit log: one row per configuration write, append-only."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Audit records are append-only")

    def delete(self):
        raise TypeError("Audit records are append-only")


class Action(models.TextChoices):
    CREATED = "created", pgettext_lazy("audit action", "created")
    UPDATED = "updated", pgettext_lazy("audit action", "updated")
    DELETED = "deleted", pgettext_lazy("audit action", "deleted")
    ACTIVATED = "activated", pgettext_lazy("audit action", "activated")
    DEACTIVATED = "deactivated", pgettext_lazy("audit action", "deactivated")
    REVOKED = "revoked", pgettext_lazy("audit action", "revoked")
    PUBLISHED = "published", pgettext_lazy("audit action", "published")
    RESUMED = "resumed", pgettext_lazy("audit action", "resumed")
    MOVED = "moved", pgettext_lazy("audit action", "moved")
    REPLACED = "replaced", pgettext_lazy("audit action", "replaced")


class AuditRecord(models.Model):
    """Who changed which configuration object when, from what to what.

    `before`/`after` are JSON snapshots (None for a creation's before and a deletion's
    after) with secrets already replaced by markers (services.REDACTED): a password,
    token hash or channel credential is never stored. `object_id` is a string so any
    key fits; `label` is the object's name at the time, so a deleted object still reads.
    Written only by services.record_change, inside the transaction of the change.
    """

    at = models.DateTimeField(pgettext_lazy("audit record", "time"))
    #: None: the command line or the system (a migration, the demo loader).
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=pgettext_lazy("audit record", "by"), null=True,
                              blank=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(pgettext_lazy("audit record", "kind"), max_length=40)
    object_id = models.CharField(pgettext_lazy("audit record", "object"), max_length=64)
    label = models.CharField(pgettext_lazy("audit record", "name"), max_length=200, blank=True)
    action = models.CharField(pgettext_lazy("audit record", "action"), max_length=20, choices=Action.choices)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(pgettext_lazy("audit record", "request id"), max_length=64, blank=True)

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
    "rule": pgettext_lazy("audit kind", "Rule"),
    "keyword_library": pgettext_lazy("audit kind", "Keyword library"),
    "sla_policy": pgettext_lazy("audit kind", "SLA policy"),
    "calendar": pgettext_lazy("audit kind", "Business calendar"),
    "channel": pgettext_lazy("audit kind", "Notification channel"),
    "ack_policy": pgettext_lazy("audit kind", "Acknowledge-or-escalate policy"),
    "user": pgettext_lazy("audit kind", "User"),
    "team": pgettext_lazy("audit kind", "Team"),
    "skill_tag": pgettext_lazy("audit kind", "Skill tag"),
    "api_token": pgettext_lazy("audit kind", "API token"),
    "wo_type": pgettext_lazy("audit kind", "Work order type"),
    "custom_field": pgettext_lazy("audit kind", "Custom field"),
    "closure_policy": pgettext_lazy("audit kind", "Closure gates"),
    "dispatch_setting": pgettext_lazy("audit kind", "Dispatch setting"),
    "approval_flow": pgettext_lazy("audit kind", "Approval flow"),
    "handoff_requirement": pgettext_lazy("audit kind", "Handoff requirement"),
    "company": pgettext_lazy("audit kind", "Company settings"),
    "work_order_override": pgettext_lazy("audit kind", "Work order closed with override"),
    "connector": pgettext_lazy("audit kind", "Lookup connector"),
}

#: The model behind each kind ("app_label.Model", looked up by name so this app imports
#: none of them): the console names a changed field by its verbose name.
KIND_MODELS = {
    "rule": "rules.Rule", "keyword_library": "rules.KeywordLibrary", "sla_policy": "sla.SLAPolicy",
    "calendar": "sla.BusinessCalendar", "channel": "notify.Channel", "ack_policy": "notify.AckPolicy",
    "user": "accounts.User", "team": "accounts.Team", "skill_tag": "accounts.SkillTag",
    "api_token": "accounts.ApiToken", "wo_type": "workorders.WorkOrderType", "custom_field": "workorders.CustomField",
    "closure_policy": "fieldwork.ClosurePolicy", "dispatch_setting": "dispatch.DispatchSetting",
    "approval_flow": "approvals.ApprovalFlow", "handoff_requirement": "approvals.HandoffRequirement",
    "company": "administration.CompanySettings", "connector": "connectors.Connector",
}
