"""Refusing a page to a role, in words people understand.

A console page that only some roles may use answers the others with 403 and the page
templates/403.html, which names who may open it and links back to the user's own start page:

    from closeloop.core.access import refuse
    if not may_manage_settings(request.user):
        refuse(MANAGERS)

(Objects a user may not see stay 404: that does not reveal that they exist.)
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

ADMINS = _("administrators")
MANAGERS = _("managers and administrators")
STAFF = _("dispatchers, managers and administrators")


def refuse(who) -> None:
    """Raise the 403 that says only `who` (one of the labels above) may open this page."""
    raise PermissionDenied(_("Only %(who)s may open this page.") % {"who": who})
