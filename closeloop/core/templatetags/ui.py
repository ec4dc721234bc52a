"""Small template helpers shared by every console page.

`{% icon "name" %}` draws a Tabler icon from the sprite that scripts/build-assets.mjs
builds into static/dist/icons.svg; names must be listed in static/src/icons.txt
(checked by closeloop/core/tests/test_ui_templates.py).
"""

from django import template
from django.core.signals import setting_changed
from django.templatetags.static import static
from django.utils.html import format_html

register = template.Library()

# The HTML of each icon: a page draws 40 or more, and the sprite's hashed name is a storage lookup
# each time. The sprite's URL depends only on the static settings (Django fixes a relative
# STATIC_URL's script prefix on first use), so the cache is emptied when they change.
_icons: dict[tuple[str, str], str] = {}


@register.simple_tag
def icon(name: str, extra: str = "") -> str:
    key = (name, extra)
    html = _icons.get(key)
    if html is None:
        if len(_icons) > 1000:  # names come from code, not users; a bound all the same
            _icons.clear()
        html = _icons[key] = format_html(
            '<svg class="icon{}" aria-hidden="true" focusable="false" fill="none" stroke="currentColor" '
            'stroke-linecap="round" stroke-linejoin="round"><use href="{}#{}"></use></svg>',
            f" {extra}" if extra else "", static("dist/icons.svg"), name,
        )
    return html


def _forget_icons(*, setting, **_kwargs):
    if setting in ("STATIC_URL", "STORAGES", "FORCE_SCRIPT_NAME"):
        _icons.clear()


setting_changed.connect(_forget_icons)


@register.filter
def get(mapping, key):
    """`{{ labels|get:key }}`: a dict lookup with a variable key."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def initials(user) -> str:
    """One or two characters for an avatar: the first of a Chinese name, else two letters."""
    label = str(user or "").strip()
    if not label:
        return "?"
    if not label.isascii():
        return label[0]
    parts = [p for p in label.replace("_", " ").replace(".", " ").split() if p]
    if len(parts) >= 2:
        return (parts[0][0] + parts[1][0]).upper()
    return label[:2].upper()


@register.filter
def parse_iso(value):
    """An ISO 8601 string kept in JSON (timeline data) as a datetime, for |date; else None."""
    from datetime import datetime

    if not isinstance(value, str):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@register.simple_tag
def start_page(user) -> str:
    """Where `user` starts (their role's landing, core.nav.landing_url): the way back from a dead end."""
    from closeloop.core.nav import landing_url

    if user is None or not user.is_authenticated:
        return "/login/"
    return landing_url(user)
