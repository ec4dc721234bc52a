"""Writes for people and access: API tokens, users, teams."""

import hashlib
import secrets
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from closeloop.core.clock import now
from closeloop.core.errors import FieldProblem, NotFound, ValidationFailed

from .models import ApiToken, Role, Scope, Team, User

TOKEN_PREFIX = "cl_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_scopes(scopes: list[str]) -> list[str]:
    valid = {s.value for s in Scope}
    bad = [s for s in scopes if s not in valid]
    if bad:
        raise ValidationFailed(FieldProblem("scopes", _("Unknown scope(s): %(s)s. Use read, write or admin.")
                                            % {"s": ", ".join(bad)}))
    if not scopes:
        scopes = [Scope.READ.value, Scope.WRITE.value]
    # admin implies write implies read
    if Scope.ADMIN in scopes:
        scopes = [Scope.READ.value, Scope.WRITE.value, Scope.ADMIN.value]
    elif Scope.WRITE in scopes:
        scopes = [Scope.READ.value, Scope.WRITE.value]
    return scopes


def do_create_token(*, user: User, name: str = "", scopes: list[str] | None = None,
                    expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Returns the row and the clear-text token, which is never stored or shown again."""
    scopes = _check_scopes(list(scopes or []))
    if Scope.ADMIN in scopes and user.role != Role.ADMIN and not user.is_superuser:
        raise ValidationFailed(FieldProblem("scopes", _("Only administrators can hold an admin-scoped token.")))
    if len(name) > 100:
        raise ValidationFailed(FieldProblem("name", _("At most 100 characters.")))
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=clear[:10], token_hash=hash_token(clear), scopes=scopes,
        created_at=now(), expires_at=expires_at,
    )
    return token, clear


def do_revoke_token(*, user: User, token_id: int) -> ApiToken:
    qs = ApiToken.objects.all() if user.role == Role.ADMIN else ApiToken.objects.filter(user=user)
    token = qs.filter(pk=token_id).first()
    if token is None:
        raise NotFound(_("No such token."))
    if token.revoked_at is None:
        token.revoked_at = now()
        token.save(update_fields=["revoked_at"])
    return token


def authenticate_token(clear: str) -> tuple[User, ApiToken] | None:
    if not clear.startswith(TOKEN_PREFIX) or len(clear) > 200:
        return None
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(clear)).first()
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    t = now()
    if token.expires_at and token.expires_at <= t:
        return None
    # Touch last_used at most once a minute: a write on every read would cost throughput.
    if token.last_used_at is None or (t - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=t)
    return token.user, token


USER_FIELDS = {"display_name", "email", "phone", "role", "team", "customer", "home_base", "home_latitude",
               "home_longitude", "language", "is_active", "first_name", "last_name"}


@transaction.atomic
def do_create_user(*, username: str, password: str | None = None, **fields) -> User:
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationFailed(FieldProblem("username", _("This username is taken."), "unique"))
    unknown = set(fields) - USER_FIELDS
    if unknown:
        raise ValidationFailed([FieldProblem(f, _("Unknown field."), "unknown") for f in sorted(unknown)])
    _validate_user_fields(fields)
    user = User(username=username, **fields)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


def _validate_user_fields(fields: dict) -> None:
    role = fields.get("role")
    if role is not None and role not in Role.values:
        raise ValidationFailed(FieldProblem("role", _("Unknown role.")))
    if role == Role.CUSTOMER and not fields.get("customer"):
        raise ValidationFailed(FieldProblem("customer", _("A customer contact must belong to a customer.")))
    if role not in (None, Role.CUSTOMER) and fields.get("customer"):
        raise ValidationFailed(FieldProblem("customer", _("Only customer contacts belong to a customer.")))


@transaction.atomic
def do_update_user(*, user: User, **fields) -> User:
    unknown = set(fields) - USER_FIELDS
    if unknown:
        raise ValidationFailed([FieldProblem(f, _("Unknown field."), "unknown") for f in sorted(unknown)])
    merged = {"role": user.role, "customer": user.customer, **fields}
    _validate_user_fields(merged)
    for k, v in fields.items():
        setattr(user, k, v)
    user.save()
    return user


@transaction.atomic
def do_create_team(*, name: str, code: str, supervisor: User | None = None, backup_team: Team | None = None,
                   parent: Team | None = None, region: str = "") -> Team:
    if Team.objects.filter(code=code).exists():
        raise ValidationFailed(FieldProblem("code", _("A team with this code exists."), "unique"))
    if Team.objects.filter(name=name).exists():
        raise ValidationFailed(FieldProblem("name", _("A team with this name exists."), "unique"))
    return Team.objects.create(name=name, code=code, supervisor=supervisor, backup_team=backup_team, parent=parent,
                               region=region)


@transaction.atomic
def do_update_team(*, team: Team, **fields) -> Team:
    if "backup_team" in fields and fields["backup_team"] is not None and fields["backup_team"].pk == team.pk:
        raise ValidationFailed(FieldProblem("backup_team", _("A team cannot back itself up.")))
    for k, v in fields.items():
        setattr(team, k, v)
    team.save()
    return team
