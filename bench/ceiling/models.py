from django.db import models


class WorkOrder(models.Model):
    """One table: the fields a work order's API representation shows most, as plain columns."""

    code = models.CharField(max_length=32, unique=True)  # the get's index
    type = models.CharField(max_length=32)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=24, default="new")
    priority = models.CharField(max_length=12, default="normal")
    customer = models.CharField(max_length=64)
    site = models.CharField(max_length=64)
    asset = models.CharField(max_length=64, blank=True)
    contact = models.IntegerField(null=True)
    team = models.CharField(max_length=64, blank=True)
    assignee = models.CharField(max_length=64, blank=True)
    version = models.IntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        app_label = "ceiling"
        # The one secondary index: the filtered lists (status + team, newest first).
        indexes = [models.Index(fields=["status", "team", "-id"], name="ceiling_status_team")]
