"""The work order list's rows, rendered in Python: `{% list_row wo %}` gives exactly what
`{% include "workorders/_list_row.html" %}` gives (console/tests/test_cards.py compares them, with and
without the bulk column, in both languages), without a template include per row; the row slot's
templates (listing.register) are still included as templates. Change both together."""

from html import escape
from urllib.parse import quote

from django import template
from django.urls import get_script_prefix, reverse
from django.utils.safestring import mark_safe
from django.utils.timezone import template_localtime
from django.utils.translation import get_language, gettext

from closeloop.core.templatetags.ui import icon, initials
from closeloop.workorders import listing
from closeloop.workorders.lifecycle import STATE_LABELS
from closeloop.workorders.models import Priority
from closeloop.workorders.templatetags.workorders_ui import priority_class, state_color

register = template.Library()

_PLACEHOLDER = "WD0000000000000"
_urls: dict[str, tuple[str, str]] = {}


def _url_parts() -> tuple[str, str]:
    prefix = get_script_prefix()
    parts = _urls.get(prefix)
    if parts is None:
        parts = _urls[prefix] = tuple(reverse("workorders:detail", args=[_PLACEHOLDER]).split(_PLACEHOLDER))
    return parts


_words: dict[str, tuple[dict, dict, str]] = {}


def _language_words():
    lang = get_language() or ""
    words = _words.get(lang)
    if words is None:
        words = _words[lang] = ({k: escape(str(v)) for k, v in STATE_LABELS.items()},
                                {k: escape(str(v)) for k, v in Priority.choices}, escape(gettext("Unassigned")))
    return words


def row_html(context, wo) -> str:
    """What `{% include "workorders/_list_row.html" %}` renders for `wo` in `context` (its `bulk` and
    `list_slots`; slot templates are included as the template does)."""
    d0, d1 = _url_parts()
    states, prio_words, unassigned = _language_words()
    code = escape(wo.code)
    url = escape(d0 + quote(wo.code, safe="!$&'()*+,;=/~:@") + d1)
    created = template_localtime(wo.created_at)
    bulk = (f'<td class="w-1"><input type="checkbox" class="form-check-input m-0 align-middle" name="codes" '
            f'value="{code}" form="bulk-form" data-testid="select-row" aria-label="{code}"></td>'
            if context.get("bulk") else "")
    slots = "".join(f"<div>{_slot(context, tpl, wo)}</div>" for tpl in (context.get("list_slots") or {}).get("row", ()))
    label = states.get(wo.status)
    if label is None:
        label = escape(str(wo.status_label))
    prio = prio_words.get(wo.priority)
    if prio is None:
        prio = escape(str(wo.get_priority_display()))
    customer, site, assignee = wo.customer, wo.site, wo.assignee
    fault = f" · {escape(wo.fault_code)}" if wo.fault_code else ""
    if assignee:
        team = wo.team
        who = (f'\n          \n          <span class="avatar avatar-xs bg-primary-lt me-1">{escape(initials(assignee))}</span>'
               f'{escape(str(assignee))}\n'
               f'          {f"<div class=\"cl-muted-line\">{escape(team.name)}</div>" if team else ""}\n'
               f'          ')
    else:
        who = f'\n          <span class="text-secondary">{unassigned}</span>'
    return (
        f'      <tr data-testid="wo-row" data-code="{code}" id="wo-row-{code}" tabindex="-1">\n'
        f'        {bulk}\n'
        f'        <td>\n'
        f'          <a href="{url}" class="cl-code">{code}</a>\n'
        f'          <div class="cl-muted-line d-lg-none cl-nowrap">{created:%m-%d %H:%M}</div>\n'
        f'        </td>\n'
        f'        <td class="cl-title-cell">\n'
        f'          <a href="{url}" class="text-reset fw-medium">{escape(wo.title)}</a>\n'
        f'          <div class="cl-muted-line">{escape(wo.wo_type.name)}{fault}</div>\n'
        f'        </td>\n'
        f'        <td class="cl-nowrap"><span class="badge bg-{state_color(wo.status)}-lt" data-testid="status">'
        f'{label}</span>\n'
        f'          {slots}</td>\n'
        f'        <td class="cl-nowrap"><span class="badge {priority_class(wo.priority)}">{prio}</span></td>\n'
        f'        <td class="cl-name-cell">\n'
        f'          {f"<div>{escape(customer.name)}</div>" if customer else ""}\n'
        f'          {f"<div class=\"cl-muted-line\">{icon("map-pin", "icon-inline")} {escape(site.name)}</div>" if site else ""}\n'
        f'          {"" if customer or site else "<span class=\"text-secondary\">—</span>"}\n'
        f'        </td>\n'
        f'        <td class="cl-name-cell">{who}\n'
        f'        </td>\n'
        f'        <td class="cl-nowrap text-secondary d-none d-lg-table-cell"><time datetime="'
        f'{created.isoformat()}">{created:%Y-%m-%d %H:%M}</time></td>\n'
        f'      </tr>\n'
    )


def _slot(context, name: str, wo) -> str:
    render = listing.row_renderer(name)
    if render is not None:
        return render(wo)
    with context.push(wo=wo):
        return context.template.engine.get_template(name).render(context)


@register.simple_tag(takes_context=True)
def list_row(context, wo):
    return mark_safe(row_html(context, wo))
