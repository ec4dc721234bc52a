"""API shapes for users, teams, skill tags and API tokens, and the functions that
turn rows into them. Input schemas are strict (unknown fields are a 422); the
services do the real validation."""

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import Field

from closeloop.core.apikit import StrictSchema

from .selectors import sees_private_details

RoleName = Literal["admin", "manager", "dispatcher", "engineer", "finance", "customer"]
ScopeName = Literal["read", "write", "admin"]


# ---- inputs ------------------------------------------------------------------------

class SkillIn(StrictSchema):
    tag: str | int = Field(description="Skill tag name or id.")
    level: int = Field(1, ge=1, le=5, description="1 (basic) to 5 (expert).")


class UserIn(StrictSchema):
    username: str = Field(max_length=150)
    password: str | None = Field(None, max_length=200, description="Left out: the user signs in by token only.")
    role: RoleName = "engineer"
    display_name: str = Field("", max_length=100)
    first_name: str = Field("", max_length=150)
    last_name: str = Field("", max_length=150)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=32)
    team: str | None = Field(None, max_length=40, description="Team code.")
    customer: str | None = Field(None, max_length=40, description="Customer code; customer contacts only.")
    home_base: str = Field("", max_length=200)
    home_latitude: float | None = None
    home_longitude: float | None = None
    language: str = Field("", max_length=10)
    time_zone: str = Field("", max_length=64)
    is_active: bool = True
    skills: list[SkillIn] = Field(default_factory=list, max_length=50)


class UserPatch(StrictSchema):
    username: str | None = Field(None, max_length=150, description="Read-only; only the current value is accepted.")
    password: str | None = Field(None, max_length=200)
    role: RoleName | None = None
    display_name: str | None = Field(None, max_length=100)
    first_name: str | None = Field(None, max_length=150)
    last_name: str | None = Field(None, max_length=150)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=32)
    team: str | None = Field(None, max_length=40)
    customer: str | None = Field(None, max_length=40)
    home_base: str | None = Field(None, max_length=200)
    home_latitude: float | None = None
    home_longitude: float | None = None
    language: str | None = Field(None, max_length=10)
    time_zone: str | None = Field(None, max_length=64)
    is_active: bool | None = None
    skills: list[SkillIn] | None = Field(None, max_length=50, description="Replaces the whole set.")


class TeamIn(StrictSchema):
    code: str = Field(max_length=40)
    name: str = Field(max_length=100)
    parent: str | None = Field(None, max_length=40, description="Code of the parent department.")
    supervisor: str | None = Field(None, max_length=150, description="Username.")
    backup_team: str | None = Field(None, max_length=40, description="Team code.")
    region: str = Field("", max_length=100)


class TeamPatch(StrictSchema):
    code: str | None = Field(None, max_length=40)
    name: str | None = Field(None, max_length=100)
    parent: str | None = Field(None, max_length=40)
    supervisor: str | None = Field(None, max_length=150)
    backup_team: str | None = Field(None, max_length=40)
    region: str | None = Field(None, max_length=100)


class SkillTagIn(StrictSchema):
    name: str = Field(max_length=100)
    category: str = Field("", max_length=100)


class SkillTagPatch(StrictSchema):
    name: str | None = Field(None, max_length=100)
    category: str | None = Field(None, max_length=100)


class TokenIn(StrictSchema):
    name: str = Field("", max_length=100)
    scopes: list[ScopeName] = Field(default_factory=list, max_length=3,
                                    description="Default read + write; admin implies write implies read.")
    expires_at: datetime | None = None


# ---- outputs -----------------------------------------------------------------------

class Ref(Schema):
    code: str
    name: str


class UserRef(Schema):
    username: str
    name: str


class SkillOut(Schema):
    tag: str
    level: int


class UserOut(Schema):
    username: str
    name: str
    display_name: str
    first_name: str
    last_name: str
    email: str
    phone: str
    role: str
    team: Ref | None
    customer: Ref | None
    is_active: bool
    home_base: str | None
    home_latitude: float | None
    home_longitude: float | None
    language: str
    time_zone: str
    skills: list[SkillOut]


class TeamOut(Schema):
    code: str
    name: str
    parent: Ref | None
    supervisor: UserRef | None
    backup_team: Ref | None
    region: str


class SkillTagOut(Schema):
    id: int
    name: str
    category: str


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    user: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself. Shown this once; only its hash is stored.")


class UserPage(Schema):
    items: list[UserOut]
    next_cursor: str | None


class TeamPage(Schema):
    items: list[TeamOut]
    next_cursor: str | None


class SkillTagPage(Schema):
    items: list[SkillTagOut]
    next_cursor: str | None


class TokenPage(Schema):
    items: list[TokenOut]
    next_cursor: str | None


# ---- rows -> dicts ---------------------------------------------------------------------

def _ref(obj) -> dict | None:
    return {"code": obj.code, "name": obj.name} if obj is not None else None


def _num(d) -> float | None:
    return float(d) if d is not None else None


def user_out(u, viewer) -> dict:
    private = sees_private_details(viewer, u)
    return {
        "username": u.username, "name": str(u), "display_name": u.display_name, "first_name": u.first_name,
        "last_name": u.last_name, "email": u.email, "phone": u.phone, "role": u.role,
        "team": _ref(u.team) if u.team_id else None, "customer": _ref(u.customer) if u.customer_id else None,
        "is_active": u.is_active,
        "home_base": u.home_base if private else None,
        "home_latitude": _num(u.home_latitude) if private else None,
        "home_longitude": _num(u.home_longitude) if private else None,
        "language": u.language, "time_zone": u.time_zone,
        "skills": [{"tag": s.tag.name, "level": s.level} for s in u.skills.all()],
    }


def team_out(t, viewer=None) -> dict:
    return {"code": t.code, "name": t.name, "parent": _ref(t.parent) if t.parent_id else None,
            "supervisor": {"username": t.supervisor.username, "name": str(t.supervisor)} if t.supervisor_id else None,
            "backup_team": _ref(t.backup_team) if t.backup_team_id else None, "region": t.region}


def skill_tag_out(t, viewer=None) -> dict:
    return {"id": t.pk, "name": t.name, "category": t.category}


def token_out(t, viewer=None) -> dict:
    return {"id": t.pk, "name": t.name, "prefix": t.prefix, "user": t.user.username, "scopes": list(t.scopes),
            "created_at": t.created_at, "last_used_at": t.last_used_at, "expires_at": t.expires_at,
            "revoked_at": t.revoked_at}
