"""Users, teams, skill tags and API tokens.

Reads: staff see all users, teams and skill tags; a customer contact sees only
their own organisation's users (and no teams or tags). Writes to users, teams and
skill tags are for administrators holding a token with the `admin` scope.
Tokens: everyone manages their own; an administrator may list or revoke anyone's.
"""

from urllib.parse import quote

from django.db.models import Q
from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from closeloop.core.apikit import require_scope
from closeloop.core.errors import FieldProblem, Forbidden, ValidationFailed
from closeloop.core.paging import page_by_id

from . import selectors, services
from .schemas import (
    RoleName,
    SkillTagIn,
    SkillTagOut,
    SkillTagPage,
    SkillTagPatch,
    TeamIn,
    TeamOut,
    TeamPage,
    TeamPatch,
    TokenCreated,
    TokenIn,
    TokenPage,
    UserIn,
    UserOut,
    UserPage,
    UserPatch,
    skill_tag_out,
    team_out,
    token_out,
    user_out,
)

router = Router(tags=["people"])
BASE = "/api/v1"


class MeOut(Schema):
    username: str
    name: str
    role: str
    team: str | None
    customer: str | None


@router.get("/me", response=MeOut, summary="Who this token belongs to")
def me(request):
    require_scope(request, "read")
    u = request.auth
    return {"username": u.username, "name": str(u), "role": u.role, "team": u.team.code if u.team_id else None,
            "customer": u.customer.code if u.customer_id else None}


class ListParams(Schema):
    cursor: str | None = Field(None, max_length=200, description="`next_cursor` of the previous page.")
    limit: int = Field(25, ge=1, le=100)


def _page(request, qs, params: ListParams, out) -> dict:
    page = page_by_id(qs, cursor=params.cursor, limit=params.limit)
    return {"items": [out(o, request.auth) for o in page.items], "next_cursor": page.next_cursor}


def _created(response: HttpResponse, path: str) -> None:
    response["Location"] = BASE + quote(path)


def require_admin_write(request) -> None:
    """Administrators only, and only with a token that carries the `admin` scope."""
    require_scope(request, "write")
    services.require_admin(request.auth)
    require_scope(request, "admin")


# ---- users -------------------------------------------------------------------------

class UserFilters(ListParams):
    role: RoleName | None = None
    team: str | None = Field(None, max_length=40, description="Team code.")
    customer: str | None = Field(None, max_length=40, description="Customer code.")
    active: bool | None = None
    q: str | None = Field(None, max_length=200, description="Part of the username, name or email.")


def _user(request, username: str):
    return selectors.access_user(request.auth, username)


@router.get("/users", response=UserPage, tags=["users"], summary="List users")
def list_users(request, filters: Query[UserFilters]):
    require_scope(request, "read")
    qs = selectors.filter_users(request.auth, role=filters.role, team=filters.team, customer=filters.customer,
                                active=filters.active, q=filters.q).prefetch_related("skills__tag")
    return _page(request, qs, filters, user_out)


@router.post("/users", response={201: UserOut}, tags=["users"], summary="Create a user (administrators)")
def create_user(request, payload: UserIn, response: HttpResponse):
    require_admin_write(request)
    user = services.do_add_user(actor=request.auth, data=payload.model_dump(exclude_unset=True))
    _created(response, f"/users/{user.username}")
    return Status(201, user_out(_user(request, user.username), request.auth))


@router.get("/users/{username}", response=UserOut, tags=["users"], summary="Get a user by username")
def get_user(request, username: str):
    require_scope(request, "read")
    return user_out(_user(request, username), request.auth)


@router.patch("/users/{username}", response=UserOut, tags=["users"],
              summary="Edit a user (administrators; partial; deactivate with is_active=false)")
def update_user(request, username: str, payload: UserPatch):
    require_admin_write(request)
    user = services.do_edit_user(actor=request.auth, user=_user(request, username),
                                 data=payload.model_dump(exclude_unset=True))
    return user_out(_user(request, user.username), request.auth)


@router.delete("/users/{username}", response={204: None}, tags=["users"],
               summary="Delete a user without any history (409 otherwise: deactivate instead)")
def delete_user(request, username: str):
    require_admin_write(request)
    services.do_remove_user(actor=request.auth, user=_user(request, username))
    return Status(204, None)


# ---- teams -------------------------------------------------------------------------

class TeamFilters(ListParams):
    q: str | None = Field(None, max_length=200, description="Part of the code or name.")
    region: str | None = Field(None, max_length=100)


@router.get("/teams", response=TeamPage, tags=["teams"], summary="List teams")
def list_teams(request, filters: Query[TeamFilters]):
    require_scope(request, "read")
    qs = selectors.visible_teams(request.auth)
    if filters.region:
        qs = qs.filter(region=filters.region)
    if filters.q:
        qs = qs.filter(Q(name__icontains=filters.q.strip()) | Q(code__icontains=filters.q.strip()))
    return _page(request, qs, filters, team_out)


@router.post("/teams", response={201: TeamOut}, tags=["teams"], summary="Create a team (administrators)")
def create_team(request, payload: TeamIn, response: HttpResponse):
    require_admin_write(request)
    team = services.do_add_team(actor=request.auth, data=payload.model_dump(exclude_unset=True))
    _created(response, f"/teams/{team.code}")
    return Status(201, team_out(team))


@router.get("/teams/{code}", response=TeamOut, tags=["teams"], summary="Get a team by code")
def get_team(request, code: str):
    require_scope(request, "read")
    return team_out(selectors.access_team(request.auth, code))


@router.patch("/teams/{code}", response=TeamOut, tags=["teams"], summary="Edit a team (administrators; partial)")
def update_team(request, code: str, payload: TeamPatch):
    require_admin_write(request)
    team = services.do_edit_team(actor=request.auth, team=selectors.access_team(request.auth, code),
                                 data=payload.model_dump(exclude_unset=True))
    return team_out(team)


@router.delete("/teams/{code}", response={204: None}, tags=["teams"],
               summary="Delete a team nothing refers to (409 otherwise)")
def delete_team(request, code: str):
    require_admin_write(request)
    services.do_remove_team(actor=request.auth, team=selectors.access_team(request.auth, code))
    return Status(204, None)


# ---- skill tags --------------------------------------------------------------------

class SkillTagFilters(ListParams):
    category: str | None = Field(None, max_length=100)
    q: str | None = Field(None, max_length=100, description="Part of the name.")


@router.get("/skill-tags", response=SkillTagPage, tags=["skill tags"], summary="List skill tags")
def list_skill_tags(request, filters: Query[SkillTagFilters]):
    require_scope(request, "read")
    qs = selectors.visible_skill_tags(request.auth)
    if filters.category:
        qs = qs.filter(category=filters.category)
    if filters.q:
        qs = qs.filter(name__icontains=filters.q.strip())
    return _page(request, qs, filters, skill_tag_out)


@router.post("/skill-tags", response={201: SkillTagOut}, tags=["skill tags"],
             summary="Create a skill tag (administrators)")
def create_skill_tag(request, payload: SkillTagIn, response: HttpResponse):
    require_admin_write(request)
    tag = services.do_create_skill_tag(actor=request.auth, data=payload.model_dump(exclude_unset=True))
    _created(response, f"/skill-tags/{tag.pk}")
    return Status(201, skill_tag_out(tag))


@router.get("/skill-tags/{path:ref}", response=SkillTagOut, tags=["skill tags"],
            summary="Get a skill tag by id or name")
def get_skill_tag(request, ref: str):
    require_scope(request, "read")
    return skill_tag_out(selectors.access_skill_tag(request.auth, ref))


@router.patch("/skill-tags/{path:ref}", response=SkillTagOut, tags=["skill tags"],
              summary="Rename or recategorise a skill tag (administrators)")
def update_skill_tag(request, ref: str, payload: SkillTagPatch):
    require_admin_write(request)
    tag = services.do_update_skill_tag(actor=request.auth, tag=selectors.access_skill_tag(request.auth, ref),
                                       data=payload.model_dump(exclude_unset=True))
    return skill_tag_out(tag)


@router.delete("/skill-tags/{path:ref}", response={204: None}, tags=["skill tags"],
               summary="Delete a skill tag nobody holds (409 otherwise)")
def delete_skill_tag(request, ref: str):
    require_admin_write(request)
    services.do_delete_skill_tag(actor=request.auth, tag=selectors.access_skill_tag(request.auth, ref))
    return Status(204, None)


# ---- API tokens --------------------------------------------------------------------

class TokenFilters(ListParams):
    user: str | None = Field(None, max_length=150, description="Administrators: whose tokens (default: yours).")
    include_revoked: bool = False


@router.get("/tokens", response=TokenPage, tags=["tokens"], summary="List your API tokens (never the secret)")
def list_tokens(request, filters: Query[TokenFilters]):
    require_scope(request, "read")
    username = filters.user or request.auth.username
    if username != request.auth.username:
        if not selectors.is_admin(request.auth):
            raise Forbidden(_("Only administrators see other people's tokens."))
        require_scope(request, "admin")
    qs = selectors.visible_tokens(request.auth).filter(user__username=username)
    if not filters.include_revoked:
        qs = qs.filter(revoked_at__isnull=True)
    return _page(request, qs, filters, token_out)


@router.post("/tokens", response={201: TokenCreated}, tags=["tokens"],
             summary="Create a token for yourself; the response is the only time you see it")
def create_token(request, payload: TokenIn, response: HttpResponse):
    require_scope(request, "write")
    if "Idempotency-Key" in request.headers:
        # A replay would have to store the clear token; it is shown once and stored nowhere.
        raise ValidationFailed(FieldProblem("Idempotency-Key", _(
            "Not accepted when creating a token: the token is never stored, so a retry cannot be replayed. "
            "List your tokens and revoke any you did not receive.")))
    token, clear = services.do_issue_token(actor=request.auth, name=payload.name, scopes=list(payload.scopes),
                                           expires_at=payload.expires_at,
                                           granting_scopes=set(getattr(request, "api_scopes", set())))
    response["Location"] = f"{BASE}/tokens/{token.pk}"
    response["Cache-Control"] = "no-store"
    return Status(201, {**token_out(token), "token": clear})


@router.delete("/tokens/{token_id}", response={204: None}, tags=["tokens"], summary="Revoke a token")
def revoke_token(request, token_id: int):
    require_scope(request, "write")
    token = selectors.access_token(request.auth, token_id)
    if token.user_id != request.auth.pk:
        require_scope(request, "admin")
    services.do_revoke_token(user=request.auth, token_id=token.pk)
    return Status(204, None)
