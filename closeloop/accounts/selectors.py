"""Permission-checked reads of people: users, teams, skill tags, API tokens.

Who sees what:
- staff (admin, manager, dispatcher, finance, engineer) see every user, team and skill tag;
- a customer contact sees only the users of their own organisation, and no teams or
  skill tags (a 403: the question itself is not theirs to ask);
- API tokens: everyone sees their own; an administrator may look at anyone's.

A user outside what one may see is a 404, exactly like one that does not exist.
"""

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from closeloop.core.errors import Forbidden, NotFound

from .models import ApiToken, Role, SkillTag, Team, User, person_label

STAFF_ROLES_READING = {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.FINANCE, Role.ENGINEER}


def is_active(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def is_admin(user) -> bool:
    return is_active(user) and (user.is_superuser or user.role == Role.ADMIN)


def is_staff_reader(user) -> bool:
    return is_active(user) and (user.is_superuser or user.role in STAFF_ROLES_READING)


# ---- users -------------------------------------------------------------------------

def visible_users(user) -> QuerySet[User]:
    qs = User.objects.all()
    if is_staff_reader(user):
        return qs
    if is_active(user) and user.role == Role.CUSTOMER and user.customer_id:
        return qs.filter(customer_id=user.customer_id)
    return qs.none()


class EngineerChoice:
    """An engineer in a pick list: `username`, `pk`, the team's id and name, and the label
    User.__str__ gives (display name, else full name, else username). No model instance."""

    __slots__ = ("pk", "username", "label", "team_id", "team_name")

    def __init__(self, pk, username, label, team_id, team_name):
        self.pk, self.username, self.label, self.team_id, self.team_name = pk, username, label, team_id, team_name

    def __str__(self):
        return self.label


def engineer_choices() -> list[EngineerChoice]:
    """The active engineers, by team name then username (the assign pickers and filters; callers
    are staff pages). One narrow query."""
    rows = (User.objects.filter(role=Role.ENGINEER, is_active=True).order_by("team__name", "username")
            .values_list("pk", "username", "display_name", "first_name", "last_name", "team_id", "team__name"))
    return [EngineerChoice(pk, username, person_label(display, first, last, username), team_id, team_name)
            for pk, username, display, first, last, team_id, team_name in rows]


def filter_users(viewer, *, role: str | None = None, team: str | None = None, customer: str | None = None,
                 active: bool | None = None, q: str | None = None) -> QuerySet[User]:
    qs = visible_users(viewer).select_related("team", "customer")
    if role:
        qs = qs.filter(role=role)
    if team:
        qs = qs.filter(team__code=team)
    if customer:
        qs = qs.filter(customer__code=customer)
    if active is not None:
        qs = qs.filter(is_active=active)
    if q:
        q = q.strip()
        qs = qs.filter(Q(username__icontains=q) | Q(display_name__icontains=q) | Q(first_name__icontains=q)
                       | Q(last_name__icontains=q) | Q(email__icontains=q))
    return qs


def access_user(viewer, username: str) -> User:
    found = visible_users(viewer).select_related("team", "customer").filter(username=username).first()
    if found is None:
        raise NotFound(_("No user %(u)s.") % {"u": username})
    return found


def sees_private_details(viewer, user: User) -> bool:
    """Home location is for dispatch: administrators, managers, dispatchers and the user."""
    return viewer.pk == user.pk or viewer.is_superuser or viewer.role in (Role.ADMIN, Role.MANAGER, Role.DISPATCHER)


# ---- teams and skill tags -----------------------------------------------------------

def _require_staff(viewer, what: str) -> None:
    if not is_staff_reader(viewer):
        raise Forbidden(_("Your role may not see %(what)s.") % {"what": what})


def visible_teams(viewer) -> QuerySet[Team]:
    _require_staff(viewer, _("teams"))
    return Team.objects.select_related("parent", "supervisor", "backup_team")


def access_team(viewer, code: str) -> Team:
    team = visible_teams(viewer).filter(code=code).first()
    if team is None:
        raise NotFound(_("No team %(c)s.") % {"c": code})
    return team


def visible_skill_tags(viewer) -> QuerySet[SkillTag]:
    _require_staff(viewer, _("skill tags"))
    return SkillTag.objects.all()


def access_skill_tag(viewer, ref: str) -> SkillTag:
    """By id (all digits) or by name."""
    qs = visible_skill_tags(viewer)
    tag = qs.filter(pk=int(ref)).first() if ref.isdigit() and len(ref) < 18 else None
    if tag is None:
        tag = qs.filter(name=ref).first()
    if tag is None:
        raise NotFound(_("No skill tag %(t)s.") % {"t": ref})
    return tag


# ---- API tokens --------------------------------------------------------------------

def visible_tokens(viewer) -> QuerySet[ApiToken]:
    qs = ApiToken.objects.select_related("user")
    if is_admin(viewer):
        return qs
    if is_active(viewer):
        return qs.filter(user_id=viewer.pk)
    return qs.none()


def access_token(viewer, token_id: int) -> ApiToken:
    token = visible_tokens(viewer).filter(pk=token_id).first()
    if token is None:
        raise NotFound(_("No such token."))
    return token
