"""Reads for the demo marker. Whether this is the demo database is asked through
`closeloop.core.demo_database.is_demo_database` (the demo registers `marker_exists` there)."""

from .models import DemoMarker


def demo_marker() -> DemoMarker | None:
    return DemoMarker.objects.filter(pk=1).first()


def marker_exists() -> bool:
    return DemoMarker.objects.filter(pk=1).exists()
