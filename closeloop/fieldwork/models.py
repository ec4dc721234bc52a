"""Field work and closure gates: models."""

from django.db import models  # noqa: F401
