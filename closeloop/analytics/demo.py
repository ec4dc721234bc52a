"""Demo scenario for analytics: compute the figures of the demo company's work orders at once
(the worker keeps them current afterwards), send the `manager` login last week's digest, and say
where the heat map is."""

ORDER = 90  # last: every other scenario's work orders are in the timeline by then


def seed() -> str:
    from .refresh import rebuild

    out = rebuild()
    week = seed_digest()
    line = f"analytics: figures of {out['work_orders']} work orders at /analytics/ and the heat map at /analytics/heatmap/"
    return line + (f"; last week's digest ({week}) in manager's inbox" if week else "")


def seed_digest(username: str = "manager") -> str | None:
    """Last week's digest for the demo's manager now (the worker sends the others' on Monday
    morning; the demo's people joined today, so the worker skips last week for them)."""
    from datetime import timedelta

    from closeloop.accounts.models import User
    from closeloop.core.clock import local_today
    from closeloop.notify.selectors import wants_digest

    from . import digest

    user = User.objects.filter(username=username).first()
    if user is None or not wants_digest(user):
        return None
    today = local_today()
    monday = today - timedelta(days=today.weekday() + 7)
    digest.send_one(user, monday, digest.message(digest.figures(monday)), digest.link(monday))
    return digest.week_label(monday)
