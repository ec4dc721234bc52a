"""Top navigation entries that apps add without editing base.html.

In an AppConfig.ready():

    from closeloop.core import nav
    from django.utils.translation import gettext_lazy as _
    nav.register("approvals", _("Approvals"), "approvals:inbox", icon="checklist",
                 visible=lambda user: user.role in ("manager", "admin"), order=40,
                 badge=lambda request: pending_count(request.user))

`visible(user)` hides the entry from users it does not concern; `badge(request)` returns a
number (0/None hides the badge). The entry is active when the request's URL namespace
equals `namespace` (defaults to the app part of `url_name`); a `namespace` naming a view
("console:board") makes it active on that page only. Icons must be listed in
static/src/icons.txt. `group="settings"` puts the entry in the top bar's Settings menu
(configuration pages used now and then) instead of the bar itself.

Where a user lands after logging in and on "/" is registered the same way (first match in
`order` wins; the work order list otherwise); `query` narrows the page (a queue of the list):

    nav.register_landing("console:dashboard", when=lambda user: user.role == "manager", order=10)
    nav.register_landing("workorders:list", when=is_finance, query="status=confirmed", order=30)
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class NavEntry:
    key: str
    label: object
    url_name: str
    icon: str
    visible: Callable | None
    order: int
    badge: Callable | None
    namespace: str
    group: str


_entries: dict[str, NavEntry] = {}


def register(key: str, label, url_name: str, *, icon: str = "point", visible: Callable | None = None,
             order: int = 50, badge: Callable | None = None, namespace: str | None = None,
             group: str = "") -> None:
    _entries[key] = NavEntry(key, label, url_name, icon, visible, order, badge,
                             namespace or url_name.split(":", 1)[0], group)


def entries_for(request) -> list[dict]:
    """The entries `request.user` sees, in order; at most one of each group (the top bar, the
    portal's tabs) is active: the entry for this very page (its `url_name`), else one naming this
    view (`namespace="app:view"`), else the first whose app namespace this page is in. Two entries
    of one app and group (a page and its settings) never light up together."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    match = getattr(request, "resolver_match", None)
    ns, view_name = (match.namespace, match.view_name) if match is not None else ("", "")
    out = []
    for e in sorted(_entries.values(), key=lambda e: (e.order, e.key)):
        if e.visible and not e.visible(user):
            continue
        try:
            url = reverse(e.url_name)
        except NoReverseMatch:
            continue
        out.append({"key": e.key, "label": e.label, "url": url, "icon": e.icon, "namespace": e.namespace,
                    "badge": e.badge(request) if e.badge else None, "group": e.group, "active": False,
                    "_url_name": e.url_name})
    # The top bar (its Settings menu included) has one active entry, and so has each set of tabs
    # (the portal's): on a portal page both the bar's entry and the tab for the page light up.
    def bar(d):
        return "" if d["group"] in ("", "settings") else d["group"]

    for group in {bar(d) for d in out}:
        members = [d for d in out if bar(d) == group]
        for test in (lambda d: d["_url_name"] == view_name, lambda d: d["namespace"] == view_name,
                     lambda d: d["namespace"] == ns):
            hit = next((d for d in members if view_name and test(d)), None)
            if hit is not None:
                hit["active"] = True
                break
    for d in out:
        del d["_url_name"]
    return out


# ---- landing page -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Landing:
    url_name: str
    when: Callable
    order: int
    query: str = ""


_landings: dict[tuple[str, str], Landing] = {}


def register_landing(url_name: str, *, when: Callable, order: int = 50, query: str = "") -> None:
    _landings[(url_name, query)] = Landing(url_name, when, order, query)


def _landing(user) -> Landing | None:
    for landing in sorted(_landings.values(), key=lambda e: (e.order, e.url_name, e.query)):
        if landing.when(user):
            return landing
    return None


def landing_for(user) -> str | None:
    """The URL name "/" sends `user` to, or None (the caller's default)."""
    landing = _landing(user)
    return landing.url_name if landing else None


def landing_url(user, default: str = "workorders:list") -> str:
    """Where `user` lands after logging in and on "/": the path with its query (used by
    core.views.LoginView and workorders.views.home)."""
    landing = _landing(user)
    if landing is None:
        return reverse(default)
    url = reverse(landing.url_name)
    return f"{url}?{landing.query}" if landing.query else url
