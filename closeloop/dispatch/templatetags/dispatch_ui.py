"""`{% suggestions_card wo %}`: the "suggested engineers" card of the work order page,
for those who may assign, while the work order can still be assigned."""

from django import template

from closeloop.workorders.lifecycle import TRANSITIONS

from .. import services
from ..suggestions import suggest

register = template.Library()


@register.inclusion_tag("dispatch/_suggestions_card.html", takes_context=True)
def suggestions_card(context, wo):
    request = context.get("request")
    user = getattr(request, "user", None)
    show = (user is not None and user.is_authenticated and services.may_dispatch(user)
            and wo.status in TRANSITIONS["assign"].sources)
    return {"show": show, "wo": wo, "s": suggest(wo, parts=True) if show else None}
