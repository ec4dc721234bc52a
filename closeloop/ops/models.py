from django.db import models


class WorkerHeartbeat(models.Model):
    """One row per running `closeloop worker` (its id, host:pid by default), written every few
    seconds by the `ops.heartbeat` step. Readiness fails when none is recent; the metrics
    report each worker's step counters from `stats` (core.jobs.STATS as of `seen_at`)."""

    worker = models.CharField(max_length=64, unique=True)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()
    stats = models.JSONField(default=dict)
    #: Set by a clean stop (SIGTERM, --until-idle); a killed worker just stops beating.
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["seen_at"], name="heartbeat_seen")]

    def __str__(self) -> str:
        return self.worker
