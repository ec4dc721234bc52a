"""`{% load fieldwork %}`: what people see for field work keys (photo kinds)."""

from django import template

from closeloop.fieldwork.models import photo_kind_label

register = template.Library()


@register.filter
def photo_kind(kind) -> str:
    return photo_kind_label(str(kind or ""))
