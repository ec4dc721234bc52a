"""The board's cards, rendered in Python: `{% board_card wo %}` gives exactly what
`{% include "console/_card.html" %}` gives (console/tests/test_cards.py compares them for every
kind of card), at a fraction of the cost (a board shows up to 40 cards in each open column, and the
template include was two thirds of the page's time). Change both together."""

from html import escape
from urllib.parse import quote

from django import template
from django.template.defaultfilters import date as date_filter
from django.urls import get_script_prefix, reverse
from django.utils.safestring import mark_safe
from django.utils.timezone import template_localtime
from django.utils.translation import get_language, gettext

from closeloop.core.templatetags.ui import initials
from closeloop.workorders.models import Priority
from closeloop.workorders.templatetags.workorders_ui import priority_class

register = template.Library()

_PLACEHOLDER = "WD0000000000000"
_urls: dict[str, tuple[str, str, str, str]] = {}
_words: dict[str, tuple[dict, str, str, str, str]] = {}


def _url_parts() -> tuple[str, str, str, str]:
    prefix = get_script_prefix()
    parts = _urls.get(prefix)
    if parts is None:
        detail = reverse("workorders:detail", args=[_PLACEHOLDER])
        action = reverse("workorders:action", args=[_PLACEHOLDER, "ACTION"])
        parts = _urls[prefix] = (*detail.split(_PLACEHOLDER), *action.split(_PLACEHOLDER))
    return parts


def _language_words():
    lang = get_language() or ""
    words = _words.get(lang)
    if words is None:
        words = _words[lang] = ({k: escape(str(v)) for k, v in Priority.choices}, escape(gettext("Unassigned")),
                                escape(gettext("SLA")), escape(gettext("overdue by")), escape(gettext("left")))
    return words


def _sla(due, words) -> str:
    if not due:
        return ""
    return (f'<span class="badge bg-secondary-lt cl-sla-badge" data-testid="sla-badge" title="{words[2]}">'
            f'<span data-countdown="{escape(str(date_filter(template_localtime(due), "c")))}" '
            f'data-overdue-text="{words[3]}" data-left-text="{words[4]}"></span></span>')


def sla_badge_html(wo) -> str:
    """What console/_sla.html renders for `wo` (its `sla_due`): the list rows' slot (listing row_html)."""
    return _sla(getattr(wo, "sla_due", None), _language_words()) + "\n"  # the file's last line break


_moves_attrs: dict[tuple, str] = {}


def _moves_attr(moves: dict) -> str:
    key = tuple(moves.items())
    attr = _moves_attrs.get(key)
    if attr is None:
        if len(_moves_attrs) > 1000:  # states x actions: a few dozen in practice
            _moves_attrs.clear()
        attr = _moves_attrs[key] = " ".join(f"{escape(str(s))}={escape(str(a))}" for s, a in key)
    return attr


def card_html(wo, parts=None, words=None) -> str:
    """`parts` and `words`: _url_parts() and _language_words(), when the caller draws many cards."""
    d0, d1, a0, a1 = parts or _url_parts()
    words = words or _language_words()
    code = escape(wo.code)
    in_url = quote(wo.code, safe="!$&'()*+,;=/~:@")  # as reverse() quotes it
    moves = getattr(wo, "moves", None) or {}
    moves_attr = _moves_attr(moves) if moves else ""
    site, customer, assignee = wo.site, wo.customer, wo.assignee
    where = escape(site.name) if site else (escape(customer.name) if customer else "")
    title = escape(wo.title)
    priority = wo.priority
    label = words[0].get(priority)
    if label is None:
        label = escape(str(wo.get_priority_display()))
    if assignee:
        person = (f'<span class="avatar avatar-xs bg-primary-lt">{escape(initials(assignee))}</span>'
                  f'<span class="text-truncate" data-testid="card-assignee">{escape(str(assignee))}</span>\n      ')
    else:
        person = f'<span class="text-secondary">{words[1]}</span>'
    return (
        f'<div class="card card-sm mb-2 cl-card" id="card-{code}" data-testid="card" data-code="{code}" '
        f'data-status="{escape(wo.status)}"\n'
        f'     data-version="{wo.version}" data-moves="{moves_attr}"\n'
        f'     data-action-url="{escape(a0 + in_url + a1)}"{" draggable=\"true\"" if moves else ""} tabindex="0">\n'
        f'  <div class="card-body p-2">\n'
        f'    <div class="d-flex align-items-center gap-1">\n'
        f'      <a href="{escape(d0 + in_url + d1)}" class="cl-code small" data-open>{code}</a>\n'
        f'      <span class="badge {priority_class(priority)} ms-auto">{label}</span>\n'
        f'    </div>\n'
        f'    <div class="fw-medium text-truncate" title="{title}">{title}</div>\n'
        f'    <div class="small text-secondary text-truncate">{where}</div>\n'
        f'    <div class="d-flex align-items-center gap-1 mt-1 small">\n'
        f'      {person}\n'
        f'      <span class="ms-auto">{_sla(getattr(wo, "sla_due", None), words)}\n</span>\n'
        f'    </div>\n'
        f'  </div>\n'
        f'</div>\n'
    )


@register.simple_tag
def board_card(wo):
    return mark_safe(card_html(wo))


@register.simple_tag
def board_cards(cards):
    """A column's cards: `{% for wo in cards %}{% board_card wo %}{% endfor %}` in one tag."""
    parts, words = _url_parts(), _language_words()
    return mark_safe("".join([card_html(wo, parts, words) for wo in cards]))
