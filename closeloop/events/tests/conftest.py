import pytest

from closeloop.notify.conftest import Sink


@pytest.fixture
def receiver(settings):
    """A real HTTP server on 127.0.0.1 (the guard allows loopback only through the setting)."""
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = True
    s = Sink()
    s.responses = [(204, {}, b"")]
    yield s
    s.close()
