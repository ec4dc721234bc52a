"""`closeloop serve`: the production-style web server (gunicorn, sync workers), with
one `closeloop worker` beside it (SLA timers, outbox) in the same process tree.

Gunicorn sync workers measured 2.5-3x cheaper per request than ASGI for this app
(DESIGN.md §7). One worker is right for SQLite; against PostgreSQL start more with
`closeloop worker` anywhere (--no-worker here to run none).

Against the demo's database (CLOSELOOP_DEMO=1, as `make demo` runs it) it also starts
`closeloop notify_sink` first, before the worker, so the demo's channels have something to
deliver to from the first message (watch them at http://127.0.0.1:8025/), and `closeloop
fake_systems` (the demo's CRM and ERP on 127.0.0.1:8026, docs/connectors.md); --no-sink to skip both.
"""

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from django.core.management.base import BaseCommand
from django.db import connections


class Command(BaseCommand):
    help = "Serve closeloop with gunicorn on 127.0.0.1:PORT, and run the background worker beside it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        parser.add_argument("--no-worker", action="store_true",
                            help="Do not start the background worker (SLA timers, outbox).")
        parser.add_argument("--no-sink", action="store_true",
                            help="In a demo (CLOSELOOP_DEMO=1), do not start the notification sink.")

    def handle(self, *args, host, port, workers, no_worker, no_sink=False, **options):
        from django.conf import settings
        from gunicorn.app.wsgiapp import run

        self._ensure_static()
        if settings.DEMO_MODE and not no_sink:
            self._start_sink()  # before the worker: its first delivery must find the sink
            self._start_fake_systems()
        if not no_worker:
            self._start_worker()
        _metrics_dir()
        self.stdout.write(f"closeloop on http://{host}:{port}/ ({workers} workers)")
        access_log = os.environ.get("CLOSELOOP_ACCESS_LOG", "1") not in ("0", "")
        sys.argv = ["gunicorn", "closeloop.wsgi:application", "--bind", f"{host}:{port}", "--workers", str(workers),
                    "--access-logfile", "-" if access_log else "/dev/null",
                    "--access-logformat", ACCESS_LOG_FORMAT,
                    "--graceful-timeout", "10", "--timeout", "60"]
        # The checks above may have opened a database connection in this process; gunicorn's
        # workers are its forks and would share that one server session (on PostgreSQL their
        # prepared statements collided: "prepared statement _pg3_1 already exists"). Each opens its own.
        connections.close_all()
        run()

    def _ensure_static(self) -> None:
        """Pages need a current static manifest (else every console page is a 500).

        In production the operator collects (README); outside it we collect ourselves, so
        `make demo` serves exactly what production serves.
        """
        from django.conf import settings
        from django.core.management import call_command
        from django.core.management.base import CommandError

        from closeloop.core import staticfiles

        if not staticfiles.uses_manifest() or not (problems := staticfiles.manifest_problems()):
            return
        if settings.PRODUCTION:
            raise CommandError("static files are not collected or are stale: " + "; ".join(problems)
                               + ". " + staticfiles.fix_hint() + ".")
        self.stdout.write("collecting static files into " + str(settings.STATIC_ROOT))
        call_command("collectstatic", interactive=False, verbosity=0)

    def _start_sink(self, http_port: int = 8025, smtp_port: int = 1025, wait: float = 20.0):
        """Start `closeloop notify_sink` (the demo channels' endpoints) as a child, and wait
        until it listens. One already listening there (another demo) is used as it is."""
        if _listening(http_port):
            self.stdout.write(f"a notification sink already listens on http://127.0.0.1:{http_port}/")
            return None
        proc = subprocess.Popen([sys.executable, "-m", "closeloop.cli", "notify_sink",
                                 "--http-port", str(http_port), "--smtp-port", str(smtp_port)])
        _stop_at_exit(proc)
        deadline = time.monotonic() + wait
        while not _listening(http_port) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        self.stdout.write(f"closeloop notify_sink started (pid {proc.pid}): messages at "
                          f"http://127.0.0.1:{http_port}/, SMTP 127.0.0.1:{smtp_port}")
        return proc

    def _start_fake_systems(self, port: int = 8026):
        """Start `closeloop fake_systems` (the demo's CRM and ERP, docs/connectors.md) as a child."""
        if _listening(port):
            self.stdout.write(f"fake systems already listen on http://127.0.0.1:{port}/")
            return None
        proc = subprocess.Popen([sys.executable, "-m", "closeloop.cli", "fake_systems", "--port", str(port)])
        _stop_at_exit(proc)
        self.stdout.write(f"closeloop fake_systems started (pid {proc.pid}): CRM and ERP at http://127.0.0.1:{port}/")
        return proc

    def _start_worker(self) -> None:
        proc = subprocess.Popen([sys.executable, "-m", "closeloop.cli", "worker", "--parent-pid", str(os.getpid())])
        _stop_at_exit(proc)
        self.stdout.write(f"closeloop worker started (pid {proc.pid})")


#: gunicorn's combined format plus the request id (closeloop.core.requestid) and the time taken (ms).
ACCESS_LOG_FORMAT = ('%(h)s - %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" '
                     'rid=%({x-request-id}o)s ms=%(M)s')


def _metrics_dir() -> None:
    """Each gunicorn process counts its requests into PROMETHEUS_MULTIPROC_DIR and /metrics adds
    them up (closeloop.ops.metrics). Must be set before any process imports prometheus_client;
    emptied at start (a restart begins from zero, as Prometheus expects of counters)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):
            if name.endswith(".db"):
                os.unlink(os.path.join(path, name))
        return
    path = tempfile.mkdtemp(prefix="closeloop-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    atexit.register(shutil.rmtree, path, True)


def _listening(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _stop_at_exit(proc) -> None:
    def stop():
        if proc.poll() is None:
            proc.terminate()  # SIGTERM: the worker finishes the item in hand
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    atexit.register(stop)
