"""A fake CRM and ERP (connectors' own `closeloop fake_systems` handler) on a free loopback port,
allowed through the SSRF guard by port only, as `make demo` allows the real one."""

import threading

import pytest

from closeloop.connectors.management.commands import fake_systems


class Fake:
    def __init__(self, server, hits, release):
        self.server, self.hits, self.release = server, hits, release
        self.base = f"http://127.0.0.1:{server.server_address[1]}"

    def paths(self) -> list[str]:
        return [p for p, _auth in self.hits]


@pytest.fixture
def fake(settings):
    hits: list = []
    release = threading.Event()
    server = fake_systems.serve(0, slow_seconds=30, release=release, hits=hits)
    settings.CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST = [f"127.0.0.1:{server.server_address[1]}"]
    yield Fake(server, hits, release)
    release.set()  # a slow answer still waiting ends now
    server.shutdown()
    server.server_close()


def make_connector(world, fake, key, path, *, ref_system="", fields=None, timeout_ms=1500, secret="", **kw):
    from closeloop.connectors import services

    data = {"key": key, "name": key.upper(), "ref_system": ref_system, "url_template": f"{fake.base}{path}",
            "fields": fields or [{"path": "id", "label": "Id"}], "timeout_ms": timeout_ms, **kw}
    if secret:
        data.update(auth_header="Authorization", auth_secret=secret)
    return services.do_create_connector(actor=world.admin, data=data)
