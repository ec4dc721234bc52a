"""The first run: the administrator account and the company's settings, once."""

import re
import zoneinfo

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from closeloop.accounts import usernames
from closeloop.accounts.models import Role, User
from closeloop.audit.services import record_change, snapshot
from closeloop.core.clock import now
from closeloop.core.errors import Conflict
from closeloop.core.validation import Cleaner

from .models import CompanySettings

FIRST_RUN_FIELDS = {"username", "password", "password2", "display_name", "name", "time_zone", "language",
                    "site_url"}
USERNAME_RE = re.compile(r"^[\w.@+-]{1,150}$")


def _clean_company(c: Cleaner) -> None:
    c.text("name", max_len=200, required=True)
    tz = (c.data.get("time_zone") or "").strip()
    if not tz:
        c.problem("time_zone", _("Choose a time zone."), "required")
    else:
        try:
            zoneinfo.ZoneInfo(tz)
            c.out["time_zone"] = tz
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            c.problem("time_zone", _("Not a known time zone (for example Asia/Shanghai)."))
    c.choice("language", [code for code, _label in settings.LANGUAGES], default=settings.LANGUAGE_CODE)
    url = (c.data.get("site_url") or "").strip().rstrip("/")
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
            if len(url) > 300:
                raise ValidationError("too long")
            c.out["site_url"] = url
        except ValidationError:
            c.problem("site_url", _("Give the full address, for example https://service.example.com."))
    else:
        c.out["site_url"] = ""


@transaction.atomic
def do_first_run(*, data: dict) -> User:
    """Create the administrator and the company settings on an empty installation.

    Refuses (409) once any user exists. Safe against two visitors at once: the settings row's
    fixed primary key is inserted first, so the second transaction fails on it (or, on a
    database that serialises writers, finds the first one's user) and creates nothing."""
    if User.objects.exists():
        raise Conflict(_("This installation is already set up."))
    c = Cleaner(data, allowed=FIRST_RUN_FIELDS)
    username = (data.get("username") or "").strip()
    if not username:
        c.problem("username", _("Choose a username."), "required")
    elif not USERNAME_RE.match(username):
        c.problem("username", _("Letters, digits and @ . + - _ only, at most 150."))
    elif usernames.problem(username):
        c.problem("username", usernames.problem(username), "look_alike")
    c.text("display_name", max_len=100)
    password = data.get("password") or ""
    if not password:
        c.problem("password", _("Choose a password."), "required")
    else:
        try:
            validate_password(password, user=User(username=username))
        except ValidationError as e:
            c.problem("password", " ".join(str(m) for m in e.messages), "weak")
        if password != (data.get("password2") or ""):
            c.problem("password2", _("The two passwords differ."), "mismatch")
    _clean_company(c)
    c.check()
    out = c.out
    try:
        with transaction.atomic():
            company = CompanySettings(pk=1, name=out["name"], time_zone=out["time_zone"], language=out["language"],
                                      site_url=out["site_url"], created_at=now())
            company.save(force_insert=True)
    except IntegrityError:
        raise Conflict(_("This installation is already set up.")) from None
    if User.objects.exists():  # a concurrent first run won on a database without the row clash
        raise Conflict(_("This installation is already set up."))
    user = User(username=username, role=Role.ADMIN, is_staff=True, is_superuser=True,
                display_name=out.get("display_name", ""), language=out["language"], time_zone=out["time_zone"])
    user.set_password(password)
    user.save()
    record_change(actor=user, kind="company", obj=company, before=None, after=snapshot(company, exclude=("created_at",)))
    return user


@transaction.atomic
def do_update_company(*, actor: User, data: dict) -> CompanySettings:
    """Administrators change the company's name, zone, language and public address."""
    from .selectors import may_see_setup

    if not may_see_setup(actor):
        from closeloop.core.errors import Forbidden

        raise Forbidden(_("Only administrators change the company settings."))
    company = CompanySettings.objects.select_for_update().get(pk=1)
    before = snapshot(company, exclude=("created_at",))
    c = Cleaner(data, allowed={"name", "time_zone", "language", "site_url"})
    _clean_company(c)
    c.check()
    for k, v in c.out.items():
        setattr(company, k, v)
    company.save()
    record_change(actor=actor, kind="company", obj=company, before=before, after=snapshot(company, exclude=("created_at",)))
    return company
