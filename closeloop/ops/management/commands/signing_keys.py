"""`closeloop signing_keys [list|rotate|retire ID|pin]`: the keyring that signs QR stickers and
their portal links (closeloop.core.signing, docs/deployment.md "Rotating keys")."""

from django.core.management.base import BaseCommand, CommandError

from closeloop.core import signing


class Command(BaseCommand):
    help = "List, rotate, retire or pin the keys that sign QR stickers (old keys verify until retired)."

    def add_arguments(self, parser):
        parser.add_argument("action", nargs="?", default="list", choices=["list", "rotate", "retire", "pin"])
        parser.add_argument("key_id", nargs="?", type=int)

    def handle(self, *args, action, key_id, **options):
        try:
            if action == "rotate":
                new = signing.rotate()
                self.stdout.write(f"key {new} signs from now on; the others still verify "
                                  f"({signing.keyring_path()}). Restart the web processes on every host.")
            elif action == "retire":
                if key_id is None:
                    raise CommandError("retire needs the id of the key (see `closeloop signing_keys`)")
                signing.retire(key_id)
                self.stdout.write(f"key {key_id} retired: stickers signed with it no longer verify.")
            elif action == "pin":
                signing.pin()
                self.stdout.write("key 0 now holds the current SECRET_KEY's value: changing SECRET_KEY keeps "
                                  "the stickers signed with it valid.")
        except signing.KeyringError as exc:
            raise CommandError(str(exc))
        source = signing.ENV if signing.os.environ.get(signing.ENV, "").strip() else str(signing.keyring_path())
        self.stdout.write(f"keyring ({source}):")
        for i, (kid, secret) in enumerate(signing.keyring()):
            from django.conf import settings

            what = "SECRET_KEY" if secret == settings.SECRET_KEY and kid == 0 else "own secret"
            self.stdout.write(f"  {kid}  {'signs and verifies' if i == 0 else 'verifies'}  ({what})")
