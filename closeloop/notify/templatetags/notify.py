"""`{% load notify %}`: notification texts rendered for whoever reads the page."""

from django import template

register = template.Library()


@register.simple_tag
def delivery_event_text(ev) -> str:
    """A delivery's timeline event in the reader's language."""
    from closeloop.notify.services import describe_event

    return describe_event(ev.data or {}, ev.at)
