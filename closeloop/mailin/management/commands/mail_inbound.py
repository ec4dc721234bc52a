"""closeloop mail_inbound: the inbound SMTP server for the mailboxes of kind "smtp" (docs/email.md)."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Accept mail for the inbound SMTP mailboxes (aiosmtpd) and open or thread work orders."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=2525, help="port (default 2525)")

    def handle(self, *args, host, port, **opts):
        from closeloop.mailin.smtp import controller

        limit = int(getattr(settings, "MAX_UPLOAD_BYTES", 20 * 2**20)) * 2
        ctl = controller(host, port, limit)
        ctl.start()
        self.stdout.write(f"mail_inbound: listening on {host}:{port}")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *a: stop.set())
        stop.wait()
        ctl.stop()
