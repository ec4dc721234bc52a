from django.db import models


class IdempotencyRecord(models.Model):
    """The first response to a POST that carried an Idempotency-Key.

    Scope is a hash of the caller's credentials, so two clients never share keys.
    A row with `completed=False` is a request still in flight (a concurrent retry
    gets 409); a 5xx response is not stored, so the client may retry.
    """

    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=200)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    completed = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    response_body = models.BinaryField(null=True)
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="uniq_idempotency_key")]
        indexes = [models.Index(fields=["created_at"], name="idem_created")]


class LoginFailure(models.Model):
    """A failed login, for rate limiting (see core.ratelimit)."""

    username = models.CharField(max_length=150)
    address = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["username", "at"], name="loginfail_user_at"),
            models.Index(fields=["address", "at"], name="loginfail_addr_at"),
        ]
