"""`closeloop token create|list|revoke`: API tokens from the command line.

    closeloop token create USERNAME [--scope read --scope write ...] [--name NAME] [--expires-days N]
    closeloop token list USERNAME [--all]
    closeloop token revoke ID

`create` prints the new token and nothing else on stdout, so scripts can do
`TOKEN=$(closeloop token create alice --scope read)`. It is shown once: only its
hash is stored. Errors go to stderr with a non-zero exit status.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from closeloop.accounts.models import ApiToken, Scope, User
from closeloop.accounts.services import do_create_token, do_revoke_token_as_operator
from closeloop.core.clock import now
from closeloop.core.errors import DomainError

STATES = {"active": _lazy("active"), "revoked": _lazy("revoked"), "expired": _lazy("expired")}


class Command(BaseCommand):
    help = "Create, list and revoke API tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")
        create = sub.add_parser("create", help="Create a token and print it (only it) once.")
        create.add_argument("username")
        create.add_argument("--scope", action="append", dest="scopes", default=None,
                            help="read, write or admin; repeat for several. Default: read and write. "
                                 "admin implies write implies read.")
        create.add_argument("--name", default="", help="What the token is for, e.g. 'CRM sync'.")
        create.add_argument("--expires-days", type=int, default=None, help="Expire after this many days.")
        listing = sub.add_parser("list", help="List a user's tokens (never the secret).")
        listing.add_argument("username")
        listing.add_argument("--all", action="store_true", dest="show_all", help="Include revoked and expired tokens.")
        revoke = sub.add_parser("revoke", help="Revoke a token by its id (see `token list`).")
        revoke.add_argument("token_id", type=int)

    def handle(self, *args, action: str, **opts):
        try:
            return getattr(self, f"_{action}")(**opts)
        except DomainError as e:
            raise CommandError(str(e))

    def _user(self, username: str) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(_("No user %(u)r.") % {"u": username})
        if not user.is_active:
            raise CommandError(_("User %(u)r is deactivated.") % {"u": username})
        return user

    def _create(self, *, username, scopes, name, expires_days, **_opts):
        user = self._user(username)
        valid = [s.value for s in Scope]
        bad = [s for s in scopes or [] if s not in valid]
        if bad:
            raise CommandError(_("Unknown scope %(bad)s: use %(valid)s.") % {"bad": ", ".join(bad), "valid": ", ".join(valid)})
        expires_at = None
        if expires_days is not None:
            if expires_days < 1:
                raise CommandError(_("--expires-days must be at least 1."))
            expires_at = now() + timedelta(days=expires_days)
        _token, clear = do_create_token(user=user, name=name, scopes=scopes, expires_at=expires_at)
        self.stdout.write(clear)

    def _list(self, *, username, show_all, **_opts):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(_("No user %(u)r.") % {"u": username})
        qs = ApiToken.objects.filter(user=user).order_by("id")
        t = now()
        rows = []
        for tok in qs:
            state = ("revoked" if tok.revoked_at else "expired" if tok.expires_at and tok.expires_at <= t
                     else "active")
            if state != "active" and not show_all:
                continue
            rows.append((str(tok.pk), tok.prefix + "…", str(STATES[state]), ",".join(tok.scopes), _when(tok.created_at),
                         _when(tok.last_used_at), tok.name))
        header = ("ID", _("PREFIX"), _("STATE"), _("SCOPES"), _("CREATED"), _("LAST USED"), _("NAME"))
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
        for r in [header, *rows]:
            self.stdout.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])

    def _revoke(self, *, token_id, **_opts):
        tok = do_revoke_token_as_operator(token_id=token_id)
        self.stdout.write(_("Revoked token %(id)s (%(prefix)s…) of %(u)s.")
                          % {"id": tok.pk, "prefix": tok.prefix, "u": tok.user.username})


def _when(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M") if dt else "-"
