from django.contrib import auth
from django.contrib.auth.views import LoginView as DjangoLoginView
from django.db import connection
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import ratelimit


def healthz(request):
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return JsonResponse({"ok": True})


class LoginView(DjangoLoginView):
    template_name = "core/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        """Without an allowed `next=`, each role lands where it works (core.nav.register_landing)."""
        from .nav import landing_url

        return landing_url(self.request.user)

    def post(self, request, *args, **kwargs):
        username = (request.POST.get("username") or "")[:150]
        address = ratelimit.client_address(request)
        if ratelimit.is_locked(username, address):
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, _("Too many failed attempts. Wait a few minutes and try again."))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            ratelimit.clear(username, address)
            _remember_language(request, response, request.user.language)
        else:
            ratelimit.record_failure(username, address)
        return response


def _remember_language(request, response, lang: str) -> None:
    """The language chosen on the profile follows the user to a new browser (LocaleMiddleware reads the cookie)."""
    from django.conf import settings

    if lang in dict(settings.LANGUAGES):
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, lang, max_age=365 * 86400, samesite="Lax",
                            secure=request.is_secure(), httponly=False)


@require_POST
def logout_view(request):
    auth.logout(request)
    return HttpResponseRedirect("/login/")


@require_POST
def set_language(request):
    """Like django.views.i18n.set_language, and remembers the choice on the profile."""
    from django.conf import settings
    from django.utils import translation

    lang = request.POST.get("language", "")
    nxt = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        nxt = "/"
    response: HttpResponse = HttpResponseRedirect(nxt)
    if lang in dict(settings.LANGUAGES):
        translation.activate(lang)
        _remember_language(request, response, lang)
        if request.user.is_authenticated and request.user.language != lang:
            request.user.language = lang
            request.user.save(update_fields=["language"])
    return response
