from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Send (or with --dry-run preview) the weekly analytics digest of an ISO week to the managers "
            "due it. The worker sends it by itself on Monday morning; nobody gets a week twice.")

    def add_arguments(self, parser):
        parser.add_argument("--week", help="ISO week, YYYY-Www (default: last week)")
        parser.add_argument("--dry-run", action="store_true",
                            help="show the recipients and the message in each of their languages; send nothing")

    def handle(self, *args, **options):
        from datetime import timedelta

        from closeloop.analytics import digest
        from closeloop.core import site
        from closeloop.core.clock import local_today
        from closeloop.notify import messages

        today = local_today()
        if options["week"]:
            try:
                monday = digest.parse_week(options["week"])
            except ValueError:
                raise CommandError("--week: an ISO week as YYYY-Www, e.g. 2026-W49.")
        else:
            monday = today - timedelta(days=today.weekday() + 7)
        week = digest.week_label(monday)
        if not options["dry_run"] and monday + timedelta(days=7) > today:
            raise CommandError(f"--week: {week} is not over yet (preview it with --dry-run).")
        people = list(digest.pending(monday))
        if options["dry_run"]:
            everyone = list(digest.due_people(monday))
            self.stdout.write(f"weekly digest {week}: {len(everyone)} recipients, {len(people)} not sent yet")
            for u in everyone:
                mark = "" if u in people else " (sent)"
                self.stdout.write(f"  {u.username} ({u.role}, {u.language or site.default_language()}){mark}")
            f = digest.figures(monday)
            ctx = {"week": week, "url": digest.link(monday), "message": digest.message(f)}
            for lang in sorted({u.language or site.default_language() for u in everyone} or {site.default_language()}):
                r = messages.render(digest.EVENT, "email", ctx, lang)
                self.stdout.write(f"\n[{lang}] {r.subject}\n{r.body}\n{r.url}")
            return
        sent, _more = digest.send_week(monday)
        self.stdout.write(f"weekly digest {week}: sent to {sent} people "
                          f"({digest.due_people(monday).count() - sent} had it already)")
