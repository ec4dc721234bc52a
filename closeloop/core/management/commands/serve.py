"""`closeloop serve`: the production-style web server (gunicorn, sync workers).

Gunicorn sync workers measured 2.5-3x cheaper per request than ASGI for this app
(DESIGN.md §7). Background work (`closeloop worker`) joins this process tree once
the SLA issue lands; until then, serve runs the web processes only.
"""

import os
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve closeloop with gunicorn on 127.0.0.1:PORT."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))

    def handle(self, *args, host, port, workers, **options):
        from gunicorn.app.wsgiapp import run

        self.stdout.write(f"closeloop on http://{host}:{port}/ ({workers} workers)")
        sys.argv = ["gunicorn", "closeloop.wsgi:application", "--bind", f"{host}:{port}", "--workers", str(workers),
                    "--access-logfile", "-" if os.environ.get("CLOSELOOP_ACCESS_LOG") else "/dev/null",
                    "--graceful-timeout", "10", "--timeout", "60"]
        run()
