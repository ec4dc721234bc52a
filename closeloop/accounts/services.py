"""Writes for people and access: API tokens, users, teams."""

import copy
import hashlib
import re
import secrets
import time
import zoneinfo
from datetime import datetime

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from closeloop.audit.services import record_change, snapshot
from closeloop.core.clock import now
from closeloop.core.errors import Conflict, FieldProblem, Forbidden, NotFound, ValidationFailed
from closeloop.core.validation import Cleaner, delete_unreferenced

from . import usernames
from .models import ApiToken, EngineerSkill, Role, Scope, SkillTag, Team, User

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
                    expires_at: datetime | None = None, actor: User | None = None) -> tuple[ApiToken, str]:
    """Returns the row and the clear-text token, which is never stored or shown again.
    `actor` (who asked; None: the command line) goes into the audit log."""
    scopes = _check_scopes(list(scopes or []))
    if Scope.ADMIN in scopes and user.role != Role.ADMIN and not user.is_superuser:
        raise ValidationFailed(FieldProblem("scopes", _("Only administrators can hold an admin-scoped token.")))
    if len(name) > 100:
        raise ValidationFailed(FieldProblem("name", _("At most 100 characters.")))
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, prefix=clear[:10], token_hash=hash_token(clear), scopes=scopes,
            created_at=now(), expires_at=expires_at,
        )
        record_change(actor=actor, kind="api_token", obj=token, label=_token_label(token), before=None,
                      after=_token_snapshot(token))
    return token, clear


def _token_label(token: ApiToken) -> str:
    return " ".join(p for p in (token.prefix + "…", token.name, f"({token.user.username})") if p)


def _token_snapshot(token: ApiToken) -> dict:
    """The audit view of a token: never its hash."""
    return snapshot(token, exclude=("token_hash", "created_at"))


def _revoke(token: ApiToken, actor: User | None) -> None:
    with transaction.atomic():
        before = _token_snapshot(token)
        token.revoked_at = now()
        token.save(update_fields=["revoked_at"])
        record_change(actor=actor, kind="api_token", obj=token, label=_token_label(token), before=before,
                      after=_token_snapshot(token), action="revoked")


def do_revoke_token(*, user: User, token_id: int) -> ApiToken:
    qs = ApiToken.objects.all() if user.role == Role.ADMIN else ApiToken.objects.filter(user=user)
    token = qs.filter(pk=token_id).first()
    if token is None:
        raise NotFound(_("No such token."))
    if token.revoked_at is None:
        _revoke(token, user)
    return token


# A short-lived per-process cache of token hash -> (until, user, token): a bearer request
# costs a hash and a dict lookup instead of a query (bench/: ~0.8 ms of every API request).
# Revocation, expiry and deactivation: a save of a token or a user in this process empties
# the cache at once (signals, connected in apps.ready); another process (the console's,
# another gunicorn worker, the command line) is honoured within TOKEN_CACHE_SECONDS.
# Expiry (expires_at) is checked on every request, cached or not.
TOKEN_CACHE_SECONDS = 5.0
TOKEN_CACHE_MAX = 1000
_token_cache: dict[str, tuple[float, User, ApiToken]] = {}


def forget_cached_tokens(**_kwargs) -> None:
    _token_cache.clear()


def authenticate_token(clear: str) -> tuple[User, ApiToken] | None:
    if not clear.startswith(TOKEN_PREFIX) or len(clear) > 200:
        return None
    digest = hash_token(clear)
    t = now()
    hit = _token_cache.get(digest)
    if hit is not None and hit[0] > time.monotonic():
        _until, user, token = hit
    else:
        _token_cache.pop(digest, None)
        # One query, no ordering (the model's default ordering is for lists): token and user.
        token = ApiToken.objects.select_related("user").filter(token_hash=digest).order_by()[:1]
        token = token[0] if token else None
        if token is None or token.revoked_at is not None or not token.user.is_active:
            return None
        # Touch last_used at most once a minute: a write on every read would cost throughput.
        if token.last_used_at is None or (t - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=t)
            token.last_used_at = t
        user = token.user
        if len(_token_cache) >= TOKEN_CACHE_MAX:
            _token_cache.clear()
        _token_cache[digest] = (time.monotonic() + TOKEN_CACHE_SECONDS, user, token)
    if token.expires_at and token.expires_at <= t:
        return None
    # Each request gets its own copies: whatever it caches on them (related objects,
    # attributes) stays with that request.
    user = copy.copy(user)
    token = copy.copy(token)
    token.user = user
    return user, token


USER_FIELDS = {"display_name", "email", "phone", "role", "team", "customer", "home_base", "home_latitude",
               "home_longitude", "language", "is_active", "first_name", "last_name", "time_zone"}


@transaction.atomic
def do_create_user(*, username: str, password: str | None = None, **fields) -> User:
    look_alike = usernames.problem(username)
    if look_alike:
        raise ValidationFailed(FieldProblem("username", look_alike, "look_alike"))
    if usernames.taken(username):
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


# ---- API / console level: public keys in, every problem named, admin only -------------------------
# These wrap the helpers above for callers that hold plain input (the REST API, the console,
# importers): they check the actor, resolve team/customer codes and usernames, and report every
# bad field at once before anything is written.

USERNAME_RE = re.compile(UnicodeUsernameValidator.regex)
USER_INPUT_FIELDS = {"username", "password", *USER_FIELDS, "skills"}
TEAM_INPUT_FIELDS = {"code", "name", "parent", "supervisor", "backup_team", "region"}
SKILL_TAG_FIELDS = {"name", "category"}
MAX_SKILLS = 50


def may_administer(actor: User) -> bool:
    return actor.is_active and (actor.is_superuser or actor.role == Role.ADMIN)


def require_admin(actor: User) -> None:
    if not may_administer(actor):
        raise Forbidden(_("Only administrators manage users, teams, skill tags and work order types."))


def _clean_skills(c, name: str = "skills") -> None:
    if c._skip(name):
        return
    value = c.data.get(name)
    if value is None:
        value = []
    if not isinstance(value, list) or len(value) > MAX_SKILLS:
        return c.problem(name, _("A list of at most %(n)d {tag, level} entries.") % {"n": MAX_SKILLS})
    out, seen = [], set()
    for i, item in enumerate(value):
        item = item if isinstance(item, dict) else {}
        ref, level = item.get("tag"), item.get("level", 1)
        tag = None
        if isinstance(ref, int) and not isinstance(ref, bool):
            tag = SkillTag.objects.filter(pk=ref).first()
        elif isinstance(ref, str) and ref.strip():
            tag = SkillTag.objects.filter(name=ref.strip()).first()
        if tag is None:
            c.problem(f"{name}[{i}].tag", _("No skill tag %(t)s.") % {"t": ref}, "not_found")
            continue
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
            c.problem(f"{name}[{i}].level", _("A level from 1 (basic) to 5 (expert)."))
            continue
        if tag.pk in seen:
            c.problem(f"{name}[{i}].tag", _("Listed twice."), "duplicate")
            continue
        seen.add(tag.pk)
        out.append((tag, level))
    c.out[name] = out


def _clean_password(c, user: User) -> None:
    if "password" not in c.data:
        return
    value = c.data["password"]
    if value is None and not c.partial:
        return
    if not isinstance(value, str) or not value:
        return c.problem("password", _("Give a password, or leave the field out."))
    if len(value) > 200:
        return c.problem("password", _("At most %(n)d characters.") % {"n": 200}, "too_long")
    try:
        validate_password(value, user=user)
    except ValidationError as e:
        return c.problem("password", " ".join(str(m) for m in e.messages), "weak")
    c.out["password"] = value


def _clean_user(actor: User, data: dict, *, instance: User | None) -> dict:
    partial = instance is not None
    c = Cleaner(data, partial=partial, allowed=USER_INPUT_FIELDS)
    if partial:
        if "username" in data and data["username"] != instance.username:
            c.problem("username", _("A username cannot change: it is how integrations address the user. "
                                    "Create a new user and deactivate this one."), "read_only")
    else:
        c.slug("username", max_len=150, pattern=USERNAME_RE, message=_("Letters, digits and @ . + - _ only."))
        look_alike = usernames.problem(c.out["username"]) if "username" in c.out else None
        if look_alike:
            c.out.pop("username")
            c.problem("username", look_alike, "look_alike")
        elif "username" in c.out and usernames.taken(c.out["username"]):
            c.out.pop("username")
            c.problem("username", _("This username is taken."), "unique")
    c.text("display_name", max_len=100)
    c.text("first_name", max_len=150)
    c.text("last_name", max_len=150)
    c.email("email")
    c.phone("phone")
    c.choice("role", Role.values, default=Role.ENGINEER)
    c.ref("team", Team.objects.all(), by="code", label=_("team"))
    # The user's organisation, through the foreign key (customers depends on accounts, not the reverse).
    customers = User._meta.get_field("customer").related_model.objects.all()
    c.ref("customer", customers, by="code", label=_("customer"))
    c.text("home_base", max_len=200)
    c.latitude("home_latitude")
    c.longitude("home_longitude")
    c.choice("language", ["", *(code for code, _name in settings.LANGUAGES)], default="")
    c.text("time_zone", max_len=64)
    if c.out.get("time_zone") and c.out["time_zone"] not in zoneinfo.available_timezones():
        c.out.pop("time_zone")
        c.problem("time_zone", _("Not a time zone name such as Asia/Shanghai."))
    c.boolean("is_active", default=True)
    _clean_skills(c)
    candidate = instance or User(username=c.out.get("username", ""))
    probe = User(username=candidate.username, email=c.value("email", candidate.email),
                 first_name=c.value("first_name", candidate.first_name),
                 last_name=c.value("last_name", candidate.last_name))
    _clean_password(c, probe)
    if not (c.failed("role") or c.failed("customer")):
        role = c.value("role", instance.role if instance else Role.ENGINEER)
        customer = c.value("customer", instance.customer if instance else None)
        try:
            _validate_user_fields({"role": role, "customer": customer})
        except ValidationFailed as e:
            c.problems.extend(e.problems)
    if instance is not None and instance.pk == actor.pk:
        if c.out.get("role", actor.role) != actor.role and actor.role == Role.ADMIN:
            c.problem("role", _("You cannot take away your own administrator role."), "self")
        if c.out.get("is_active") is False:
            c.problem("is_active", _("You cannot deactivate yourself."), "self")
    c.check()
    return c.out


def _user_snapshot(user: User) -> dict:
    """The audit view of a user: the columns (the password only as a marker) and the skills."""
    skills = {s.tag.name: s.level for s in EngineerSkill.objects.filter(user=user).select_related("tag")}
    return snapshot(user, exclude=("date_joined",), extra={"skills": dict(sorted(skills.items()))})


def _set_skills(user: User, skills: list) -> None:
    EngineerSkill.objects.filter(user=user).exclude(tag__in=[t for t, _lvl in skills]).delete()
    for tag, level in skills:
        EngineerSkill.objects.update_or_create(user=user, tag=tag, defaults={"level": level})


@transaction.atomic
def do_add_user(*, actor: User, data: dict) -> User:
    """Create a user from plain input (team/customer codes, skills by tag name)."""
    require_admin(actor)
    out = _clean_user(actor, data, instance=None)
    skills = out.pop("skills", [])
    user = do_create_user(**out)
    _set_skills(user, skills)
    record_change(actor=actor, kind="user", obj=user, label=user.username, before=None, after=_user_snapshot(user))
    return user


@transaction.atomic
def do_edit_user(*, actor: User, user: User, data: dict) -> User:
    """Partial update; `skills`, when given, replaces the whole set; `password` is validated."""
    require_admin(actor)
    before = _user_snapshot(user)
    out = _clean_user(actor, data, instance=user)
    password = out.pop("password", None)
    skills = out.pop("skills", None)
    do_update_user(user=user, **out)
    if password:
        user.set_password(password)
        user.save(update_fields=["password"])
    if skills is not None:
        _set_skills(user, skills)
    record_change(actor=actor, kind="user", obj=user, label=user.username, before=before, after=_user_snapshot(user))
    return user


@transaction.atomic
def do_remove_user(*, actor: User, user: User) -> None:
    """Only a user nothing refers to (no work orders, timeline events, supervised teams...).
    Anyone with history is deactivated instead (PATCH is_active=false)."""
    require_admin(actor)
    if user.pk == actor.pk:
        raise Conflict(_("You cannot delete yourself."))
    record_change(actor=actor, kind="user", obj=user, label=user.username, before=_user_snapshot(user), after=None)
    delete_unreferenced(user, _("User %(u)s") % {"u": user.username},
                        allow={"accounts.apitoken", "accounts.engineerskill"})


# ---- teams -------------------------------------------------------------------------

def _clean_team(actor: User, data: dict, *, instance: Team | None) -> dict:
    c = Cleaner(data, partial=instance is not None, allowed=TEAM_INPUT_FIELDS)
    c.slug("code")
    c.unique("code", Team, exclude=instance, message=_("A team with this code exists."))
    c.text("name", max_len=100, required=True)
    c.unique("name", Team, exclude=instance, message=_("A team with this name exists."))
    c.ref("parent", Team.objects.all(), by="code", label=_("team"))
    c.ref("backup_team", Team.objects.all(), by="code", label=_("team"))
    c.ref("supervisor", User.objects.all(), by="username", label=_("user"))
    c.text("region", max_len=100)
    sup = c.out.get("supervisor")
    if sup is not None and (not sup.is_active or sup.role == Role.CUSTOMER):
        c.out.pop("supervisor")
        c.problem("supervisor", _("A supervisor is an active member of staff."))
    if instance is not None:
        if c.out.get("backup_team") is not None and c.out["backup_team"].pk == instance.pk:
            c.out.pop("backup_team")
            c.problem("backup_team", _("A team cannot back itself up."))
        node, hops = c.out.get("parent"), 0
        while node is not None and hops < 100:
            if node.pk == instance.pk:
                c.out.pop("parent")
                c.problem("parent", _("A team cannot sit under itself or one of its own sub-teams."), "cycle")
                break
            node, hops = node.parent, hops + 1
    c.check()
    return c.out


@transaction.atomic
def do_add_team(*, actor: User, data: dict) -> Team:
    require_admin(actor)
    team = do_create_team(**_clean_team(actor, data, instance=None))
    record_change(actor=actor, kind="team", obj=team, before=None, after=snapshot(team))
    return team


@transaction.atomic
def do_edit_team(*, actor: User, team: Team, data: dict) -> Team:
    require_admin(actor)
    before = snapshot(team)
    do_update_team(team=team, **_clean_team(actor, data, instance=team))
    record_change(actor=actor, kind="team", obj=team, before=before, after=snapshot(team))
    return team


@transaction.atomic
def do_remove_team(*, actor: User, team: Team) -> None:
    """Only a team nothing refers to: no members, work orders, sub-teams, backups."""
    require_admin(actor)
    record_change(actor=actor, kind="team", obj=team, before=snapshot(team), after=None)
    delete_unreferenced(team, _("Team %(c)s") % {"c": team.code})


# ---- skill tags --------------------------------------------------------------------

def _clean_skill_tag(data: dict, *, instance=None) -> dict:
    c = Cleaner(data, partial=instance is not None, allowed=SKILL_TAG_FIELDS)
    c.text("name", max_len=100, required=True)
    if c.out.get("name", "x").isdigit():
        c.out.pop("name")
        c.problem("name", _("A name cannot be only digits: those address a tag by its id."))
    c.unique("name", SkillTag, exclude=instance, message=_("A skill tag with this name exists."))
    c.text("category", max_len=100)
    c.check()
    return c.out


@transaction.atomic
def do_create_skill_tag(*, actor: User, data: dict):
    require_admin(actor)
    tag = SkillTag.objects.create(**_clean_skill_tag(data))
    record_change(actor=actor, kind="skill_tag", obj=tag, before=None, after=snapshot(tag))
    return tag


@transaction.atomic
def do_update_skill_tag(*, actor: User, tag, data: dict):
    require_admin(actor)
    before = snapshot(tag)
    for k, v in _clean_skill_tag(data, instance=tag).items():
        setattr(tag, k, v)
    tag.save()
    record_change(actor=actor, kind="skill_tag", obj=tag, before=before, after=snapshot(tag))
    return tag


@transaction.atomic
def do_delete_skill_tag(*, actor: User, tag) -> None:
    require_admin(actor)
    record_change(actor=actor, kind="skill_tag", obj=tag, before=snapshot(tag), after=None)
    delete_unreferenced(tag, _("Skill tag %(t)s") % {"t": tag.name})


# ---- tokens from the API and the command line ------------------------------------------

@transaction.atomic
def do_issue_token(*, actor: User, name: str = "", scopes: list[str] | None = None,
                   expires_at: datetime | None = None, granting_scopes: set[str] | None = None
                   ) -> tuple[ApiToken, str]:
    """A token for oneself. `granting_scopes` (the caller's own token's scopes) caps what it
    may carry, so a read-only token cannot mint a write token."""
    wanted = _check_scopes(list(scopes or []))
    problems = []
    if granting_scopes is not None and not set(wanted) <= set(granting_scopes):
        problems.append(FieldProblem("scopes", _("You cannot grant a scope your own token lacks: %(s)s.")
                                     % {"s": ", ".join(sorted(set(wanted) - set(granting_scopes)))}))
    if expires_at is not None and expires_at <= now():
        problems.append(FieldProblem("expires_at", _("Must be in the future.")))
    if problems:
        raise ValidationFailed(problems)
    return do_create_token(user=actor, name=(name or "").strip(), scopes=wanted, expires_at=expires_at, actor=actor)


@transaction.atomic
def do_revoke_token_as_operator(*, token_id: int) -> ApiToken:
    """For the `closeloop token revoke` command: whoever runs it administers the installation."""
    token = ApiToken.objects.filter(pk=token_id).first()
    if token is None:
        raise NotFound(_("No such token."))
    if token.revoked_at is None:
        _revoke(token, None)
    return token
