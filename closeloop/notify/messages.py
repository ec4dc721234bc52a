"""Message templates per event kind and channel, in the recipient's language.

Each event kind has a subject and a body (translatable format strings over the payload's
context); each medium then shapes them: SMS is short plain text, a voice call reads a
shorter sentence without the link, robots get markdown, email and webhooks the full
text plus the link. Templates are code, never compiled from user text; payload values
are only substituted.

Nothing is stored rendered for good: a caller's message is a key and parameters
(`text(gettext_noop("... %(code)s ..."), code=...)`), labels of code-defined things are
carried in every language (`localized(label)`), and both are resolved when the message is
rendered — per recipient at delivery (their language, else the site's), and again for
whoever reads an inbox item (the reader's language).
"""

import os
import string
from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from closeloop.core import site

SMS_MAX = 120
VOICE_MAX = 150
MARKDOWN_MAX = 3500


@dataclass
class Rendered:
    subject: str
    body: str
    markdown: str
    url: str


# ---- structured texts: a key and parameters, rendered in the reader's language -------------------

def text(msgid: str, *, context: str = "", **params) -> dict:
    """A translatable text rendered later in the reader's language. `msgid` is the English
    source, marked for extraction by the caller with gettext_noop (any app's catalogue is
    found at render time); `params` are data (names, codes) or nested `text`/`localized`
    values. JSON-storable (outbox payloads, inbox rows)."""
    out: dict = {"msgid": str(msgid), "params": {k: _storable(v) for k, v in params.items()}}
    if context:
        out["context"] = context
    return out


def localized(label) -> dict:
    """A label of something defined in code (a status, a priority, a lazy choice label) in
    every language the site offers, so a reader in either sees their own."""
    texts = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            texts[code] = str(label)
    return {"i18n": texts}


def _storable(v):
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    if isinstance(v, dict) and ("msgid" in v or "i18n" in v):
        return v
    return str(v)


def resolve(value, language: str | None = None) -> str:
    """A stored text (plain, `text(...)` or `localized(...)`) in `language` (default: the
    active one)."""
    if language:
        with translation.override(language):
            return resolve(value)
    if isinstance(value, dict):
        if "i18n" in value:
            texts = value.get("i18n") or {}
            lang = translation.get_language() or settings.LANGUAGE_CODE
            return str(texts.get(lang) or texts.get(lang.split("-")[0]) or texts.get(settings.LANGUAGE_CODE)
                       or next(iter(texts.values()), ""))
        if "msgid" in value:
            msgid = str(value.get("msgid") or "")
            template = pgettext(value["context"], msgid) if value.get("context") else _(msgid) if msgid else ""
            params = {k: resolve(v) for k, v in (value.get("params") or {}).items()}
            for t in (template, msgid):  # a translation that does not fit its parameters: the source
                try:
                    return t % params if params else t
                except (KeyError, ValueError, TypeError):
                    continue
            return msgid
    return "" if value is None else str(value)


def base_url() -> str:
    """Links in messages: the public site URL (core.site: settings, environment, else the company's
    from the first run), else this machine."""
    return site.site_url() or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"


def _templates() -> dict:
    """event -> (subject, body). Evaluated under the recipient's language."""
    return {
        "sla.escalation": (_("SLA escalation: {code} {title}"),
                           _("{code} {title} (priority {priority}) missed its {milestone} target "
                             "(level {level}, due {due_local}).")),
        "sla.warning": (_("SLA warning: {code} {title}"),
                        _("{code} {title} is close to its {milestone} target (due {due_local}).")),
        "rule.notify": (_("{code} {title}"), _("{message}")),
        "approval.requested": (_("Approval requested: {code} {title}"),
                               _("Please approve {code} {title}. {message}")),
        "work_order.assigned": (_("Assigned to you: {code} {title}"),
                                _("{code} {title} is assigned to you (priority {priority}).")),
        "work_order.watched": (_("{code}: {status}"),
                               _("{code} {title}, which you watch, is now {status} ({actor}).")),
        "work_order.status": (_("{code}: {status}"), _("Your request {code} {title} is now {status}.")),
        "ack.request": (_("URGENT {code} {title}: please acknowledge"),
                        _("Urgent work order {code} {title}. Acknowledge: {ack_url}")),
        "ack.backup": (_("URGENT {code} {title}: backup needed"),
                       _("{target} has not acknowledged urgent work order {code} {title}. "
                         "Please take it. Acknowledge: {ack_url}")),
        "ack.supervisor": (_("URGENT {code} {title}: nobody acknowledged"),
                           _("Nobody acknowledged urgent work order {code} {title}. Acknowledge: {ack_url}")),
        # A chain also starts for the other priorities an acknowledgement policy lists (high):
        # those messages name the priority instead of calling the work order urgent.
        "ack.request.other": (_("{priority} priority {code} {title}: please acknowledge"),
                              _("{priority} priority work order {code} {title}. Acknowledge: {ack_url}")),
        "ack.backup.other": (_("{priority} priority {code} {title}: backup needed"),
                             _("{target} has not acknowledged work order {code} {title} (priority {priority}). "
                               "Please take it. Acknowledge: {ack_url}")),
        "ack.supervisor.other": (_("{priority} priority {code} {title}: nobody acknowledged"),
                                 _("Nobody acknowledged work order {code} {title} (priority {priority}). "
                                   "Acknowledge: {ack_url}")),
        "channel.paused": (_("Notification channel paused: {channel}"),
                           _("Channel {channel} failed {failures} times in a row and is paused: {error}")),
        # analytics.digest: the weekly digest; its figures are the message (a key and parameters)
        "analytics.digest": (_("Weekly digest {week}"), _("{message}")),
        "test": (_("closeloop test message"),
                 _("This is a test message from closeloop for channel {channel}.")),
    }


class _Safe(dict):
    def __missing__(self, key):
        return ""


def _fmt(template: str, ctx: dict) -> str:
    # string.Formatter over a dict: only plain {name} fields; attribute/index lookups refused.
    out = []
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        out.append(literal)
        if field is not None:
            name = field.split(".", 1)[0].split("[", 1)[0]
            out.append(str(ctx.get(name, "")))
    return "".join(out)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def render(event: str, medium: str, ctx: dict, language: str) -> Rendered:
    with translation.override(language or settings.LANGUAGE_CODE):
        templates = _templates()
        ctx = _Safe({k: resolve(v) if isinstance(v, dict) else v for k, v in ctx.items()})
        if "status_code" in ctx and not ctx.get("status"):
            ctx["status"] = ctx["status_code"]
        if (event.startswith("ack.") and (ctx.get("priority_key") or "urgent") != "urgent"
                and f"{event}.other" in templates):
            event = f"{event}.other"
        if event in templates:
            subject_t, body_t = templates[event]
        else:
            subject_t, body_t = (_("{code} {title}") if ctx.get("code") else _("Notification"),
                                 "{message}" if ctx.get("message") else _("{event} on {code} {title}"))
        subject = " ".join(_fmt(subject_t, ctx).split()) or _("Notification")
        body = _fmt(body_t, ctx).strip()
        if ctx.get("message") and "{message}" not in body_t:
            body = f"{body} {ctx['message']}".strip()
        url = ctx.get("url", "")
        link_label = _("Open work order") if ctx.get("code") else _("Open")
        if medium == "sms":
            ack = ctx.get("ack_url") or ""
            if ack and ack in body:  # the acknowledge link must survive the clipping, whole
                text = _clip(body.replace(ack, "").rstrip(" :：") , SMS_MAX) + " " + ack
                return Rendered(subject, text, "", url)
            text = _clip(body, SMS_MAX - (len(url) + 1 if url and len(url) < 60 else 0))
            if url and len(url) < 60:
                text += " " + url
            return Rendered(subject, text, "", url)
        if medium == "voice":
            spoken = body.replace(ctx.get("ack_url", "") or "\x00", "").replace(_("Acknowledge:"), "").strip()
            return Rendered(subject, _clip(spoken, VOICE_MAX), "", url)
        md = f"### {subject}\n\n{_clip(body, MARKDOWN_MAX)}"
        if ctx.get("priority"):
            md += "\n\n> " + _("Priority") + f": **{ctx['priority']}**"
        if url:
            md += f"\n\n[{link_label}]({url})"
        if ctx.get("ack_url"):
            md += f"\n\n[{_('Acknowledge')}]({ctx['ack_url']})"
        return Rendered(subject, body, md, url)


def for_reader(items, language: str | None = None):
    """Inbox items with `subject` and `body` rendered in the reader's language (default: the
    active one, which is the user's preference, else the site's). Rows stored before messages
    kept their key and parameters show their stored text."""
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    for item in items:
        if item.context:
            r = render(item.event, "inbox", item.context, language)
            item.subject, item.body = r.subject, r.body
    return items
