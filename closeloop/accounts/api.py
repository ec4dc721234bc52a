"""Users, teams and API tokens."""

from ninja import Router, Schema

from closeloop.core.apikit import require_scope

router = Router(tags=["people"])


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
