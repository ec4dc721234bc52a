from django.utils.functional import SimpleLazyObject

from closeloop.core import nav
from closeloop.core.demo_database import is_demo_database


def closeloop(request):
    user = getattr(request, "user", None)
    return {
        # settings.DEMO_MODE, or a database `closeloop demo` loaded (cached per process).
        "DEMO_MODE": is_demo_database(),
        # Entries other apps registered (core/nav.py); computed only when a template uses them.
        "nav_entries": SimpleLazyObject(lambda: nav.entries_for(request)),
        "current_role": getattr(user, "role", None) if user and user.is_authenticated else None,
    }
