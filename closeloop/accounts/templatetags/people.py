"""`{% engineer_options engineers selected %}`: the options of an engineer picker, one <optgroup>
per team, from accounts.selectors.engineer_choices (sorted by team), the engineer
whose username is `selected` marked. Written in Python: the list, the board and the work order
page each draw it, and as template loops it was a sixth of the list page's time."""

from html import escape

from django import template
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

register = template.Library()


@register.simple_tag
def engineer_options(engineers, selected="", flat=False) -> str:
    """`flat`: no groups, each label followed by " · team" (the bulk bar's picker)."""
    if flat:
        return mark_safe("".join(
            f'<option value="{escape(e.username)}"{" selected" if selected and e.username == selected else ""}>'
            f'{escape(str(e))}{f" · {escape(e.team_name)}" if e.team_name else ""}</option>' for e in engineers or ()))
    out, team = [], object()
    for e in engineers or ():
        if e.team_id != team:
            if out:
                out.append("</optgroup>")
            out.append(f'<optgroup label="{escape(e.team_name or gettext("No team"))}">')
            team = e.team_id
        mark = " selected" if selected and e.username == selected else ""
        out.append(f'<option value="{escape(e.username)}"{mark}>{escape(str(e))}</option>')
    if out:
        out.append("</optgroup>")
    return mark_safe("".join(out))
