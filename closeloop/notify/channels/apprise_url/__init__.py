"""Any other service through Apprise (https://github.com/caronc/apprise): Telegram, Slack,
Microsoft Teams, ntfy, Bark, ServerChan… one Apprise URL per channel.

Best effort: Apprise reports success as true/false only, so we cannot tell a bad address
from a throttled provider (every failure is retried, then given up after the usual number of
attempts) and cannot honour Retry-After. The SSRF guard resolves and checks the service's
host just before sending (Apprise makes its own connection). The channels we need exact
status codes for have their own transports (see docs/notifications.md)."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from closeloop.core.errors import FieldProblem

from ..base import Permanent, Retryable, done, require, resolve_checked

KIND = "apprise_url"
MEDIUM = "webhook"
LABEL = gettext_lazy("Other service (Apprise URL)")
FIELDS = [("url", gettext_lazy("Apprise URL, e.g. tgram://bottoken/ChatID"), True, True)]


def _instantiate(url: str):
    import apprise

    return apprise.Apprise.instantiate(url)


def validate(config: dict) -> dict:
    problems: list = []
    clean = require(config, FIELDS, problems)
    if clean.get("url") and _instantiate(clean["url"]) is None:
        problems.append(FieldProblem("config.url", _("Apprise does not understand this URL."), "invalid"))
    return done(problems, clean)


def send(channel, msg) -> str:
    import apprise

    plugin = _instantiate(channel.config["url"])
    if plugin is None:
        raise Permanent(_("Apprise does not understand this URL."))
    host = getattr(plugin, "host", None)
    if host:
        resolve_checked(host, getattr(plugin, "port", None) or 443)
    body = (msg.markdown or msg.body) + ("\n\n" + msg.url if msg.url and not msg.markdown else "")
    ok = plugin.notify(body=body, title=msg.subject, body_format=apprise.NotifyFormat.MARKDOWN
                       if msg.markdown else apprise.NotifyFormat.TEXT)
    if not ok:
        raise Retryable(_("Apprise reported a failure (no details)."))
    return ""
