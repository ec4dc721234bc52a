"""`closeloop backup [--output FILE]`: database, uploads and secret material in one archive."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from closeloop.core.clock import now
from closeloop.ops import backup


class Command(BaseCommand):
    help = "Write the database (online, consistent), the uploads and the secret keys into one .tar.gz archive."

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", default="",
                            help="Archive path (default $CLOSELOOP_DATA_DIR/backups/closeloop-<time>.tar.gz).")

    def handle(self, *args, output, **options):
        from django.conf import settings

        path = Path(output) if output else (
            Path(settings.DATA_DIR) / "backups" / f"closeloop-{now():%Y%m%dT%H%M%SZ}.tar.gz")
        try:
            manifest = backup.backup(path)
        except backup.BackupError as exc:
            raise CommandError(str(exc))
        self.stdout.write(f"backup of the {manifest['database']} database, uploads and keys written to {path} "
                          f"({path.stat().st_size} bytes, mode 600: it holds the secret key).")
