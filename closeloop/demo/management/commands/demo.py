"""`closeloop demo`: load the demo company (idempotent), seed each app's scenario
(demo/scenarios.py), then print the demo logins."""

import os

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from closeloop.accounts.models import User
from closeloop.core.errors import DomainError
from closeloop.demo import scenarios, services


class Command(BaseCommand):
    help = _("Load the demo company (a medical-device service provider) into an empty database and print the "
             "demo logins. Does nothing when the demo is already loaded.")

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=float, default=1.0,
                            help=_("Size relative to the full demo (186 hospitals, 3,000 work orders); "
                                   "e.g. 0.05 for tests. At most %(max)s.") % {"max": services.MAX_SCALE})
        parser.add_argument("--reset", action="store_true",
                            help=_("Wipe the demo database and load it again (refused when the database also "
                                   "holds non-demo data)."))
        parser.add_argument("--force", action="store_true",
                            help=_("Load even though the database already holds other data."))

    def handle(self, *args, scale, reset, force, **options):
        try:
            result = services.load_demo(scale=scale, reset=reset, force=force)
        except DomainError as e:
            raise CommandError(str(e))
        marker = result.marker
        if result.reset:
            self.stdout.write(_("Wiped the previous demo database."))
        if result.loaded:
            counts = marker.summary.get("counts", {})
            self.stdout.write(self.style.SUCCESS(
                _("Loaded the demo company in %(s).1f s: %(c)d customers, %(a)d assets, %(u)d people, "
                  "%(w)d work orders, %(e)d timeline events.")
                % {"s": result.seconds, "c": counts.get("customers", 0), "a": counts.get("assets", 0),
                   "u": counts.get("users", 0), "w": counts.get("work_orders", 0),
                   "e": counts.get("timeline_events", 0)}))
            # Each app's own scenario (closeloop/<app>/demo.py), in their documented order.
            for line in scenarios.run_all():
                self.stdout.write(line)
        else:
            self.stdout.write(_("The demo company is already loaded (%(when)s, scale %(scale)s); nothing to do. "
                                "Use --reset to load it again.")
                              % {"when": marker.loaded_at.strftime("%Y-%m-%d %H:%M UTC"), "scale": f"{marker.scale:g}"})
        self._print_logins()

    def _print_logins(self):
        users = {u.username: u for u in User.objects.filter(username__in=[n for n, _r in services.demo_logins()])
                 .select_related("customer", "team")}
        self.stdout.write("")
        self.stdout.write(_("Demo logins (password: %(pw)s)") % {"pw": services.PASSWORD})
        self.stdout.write(f"  {_('username'):<12}{_('role'):<12}{_('name')}")
        for username, role in services.demo_logins():
            u = users.get(username)
            if u is None:
                continue
            where = u.customer.name if u.customer_id else (u.team.name if u.team_id else "")
            self.stdout.write(f"  {username:<12}{role:<12}{u.display_name}" + (f" · {where}" if where else ""))
        self.stdout.write(_("Everyone else in the demo company logs in with the same password: engineers eng002-eng062, "
                            "managers mgr002-mgr005, dispatchers dsp002-dsp004, finance fin002, and one contact "
                            "per hospital (cust###)."))
        port = os.environ.get("PORT", "8000")
        self.stdout.write(_("Open http://127.0.0.1:%(port)s/ after `closeloop serve` (or `make demo`).") % {"port": port})
