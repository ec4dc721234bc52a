from closeloop.demo.selectors import is_demo_database


def closeloop(request):
    user = getattr(request, "user", None)
    return {
        # settings.DEMO_MODE, or a database `closeloop demo` loaded (cached per process).
        "DEMO_MODE": is_demo_database(),
        "current_role": getattr(user, "role", None) if user and user.is_authenticated else None,
    }
