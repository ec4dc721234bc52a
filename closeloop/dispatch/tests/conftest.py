import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english():
    """Explanations are asserted in English here (the default language is zh-Hans)."""
    with translation.override("en"):
        yield
