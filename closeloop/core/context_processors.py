from django.conf import settings


def closeloop(request):
    user = getattr(request, "user", None)
    return {
        "DEMO_MODE": settings.DEMO_MODE,
        "current_role": getattr(user, "role", None) if user and user.is_authenticated else None,
    }
