"""`closeloop restore ARCHIVE --yes`: replace the database, uploads and keys with a backup's."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from closeloop.ops import backup


class Command(BaseCommand):
    help = ("Replace this installation's database, uploads and signing keys with those of a `closeloop backup` "
            "archive. Stop the web processes and workers first.")

    def add_arguments(self, parser):
        parser.add_argument("archive")
        parser.add_argument("--yes", action="store_true", help="Do it: everything in the database is replaced.")

    def handle(self, *args, archive, yes, **options):
        path = Path(archive)
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            manifest = backup.read_manifest(path)
        except (backup.BackupError, OSError, ValueError) as exc:
            raise CommandError(f"{path}: {exc}")
        if not yes:
            raise CommandError(f"{path} is a backup of {manifest['created_at']} ({manifest['database']}). "
                               "Restoring replaces the whole database and every upload: run again with --yes.")
        try:
            done = backup.restore(path)
        except backup.BackupError as exc:
            raise CommandError(str(exc))
        self.stdout.write(f"restored the {done.database} database and {done.files} uploaded files from {path}.")
        for note in done.notes:
            self.stdout.write("note: " + note)
        self.stdout.write("then: closeloop migrate (if the code is newer than the backup), and start closeloop.")
