"""Console pages for a user's own API tokens."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from closeloop.core.clock import now
from closeloop.core.errors import DomainError

from . import services
from .models import Role, Scope


@login_required
def tokens(request):
    new_token = None
    if request.method == "POST":
        scopes = [s for s in request.POST.getlist("scopes") if s in Scope.values]
        try:
            _row, new_token = services.do_create_token(user=request.user, name=request.POST.get("name", "")[:100],
                                                       scopes=scopes, actor=request.user)
        except DomainError as e:
            messages.error(request, "; ".join(p.message for p in e.problems) or str(e))
    ctx = {
        "tokens": request.user.api_tokens.all(),
        "new_token": new_token,
        "now": now(),
        "scopes": [(s.value, s.label) for s in Scope if s != Scope.ADMIN or request.user.role == Role.ADMIN],
    }
    return render(request, "accounts/tokens.html", ctx)


@login_required
@require_POST
def revoke_token(request, token_id):
    try:
        services.do_revoke_token(user=request.user, token_id=token_id)
        messages.success(request, _("Token revoked."))
    except DomainError as e:
        messages.error(request, str(e))
    return redirect("accounts:tokens")
