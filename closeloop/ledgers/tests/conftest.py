import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English (the Chinese ones are checked in test_pages)."""
    with translation.override("en"):
        yield
