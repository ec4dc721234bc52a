"""Writes: connectors created, edited and deleted by administrators (audited; secrets encrypted)."""

import re

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from closeloop.audit.services import record_change, snapshot
from closeloop.core.clock import now
from closeloop.core.errors import FieldProblem, Forbidden, ValidationFailed

from . import crypto
from .kinds import KINDS
from .models import Connector
from .selectors import may_configure

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
TEXT_FIELDS = ("key", "name", "kind", "ref_system", "url_template", "link_template", "auth_header")
DEFAULTS = {"kind": "http_json", "enabled": True, "order": 50, "ref_system": "", "link_template": "",
            "auth_header": "", "fields": [], "timeout_ms": 1500}
KNOWN = set(DEFAULTS) | {"key", "name", "url_template", "auth_secret", "clear_secret"}


def _require(actor) -> None:
    if not may_configure(actor):
        raise Forbidden(_("Only administrators may configure connectors."))


def _clean(data: dict, current: dict) -> tuple[dict, list]:
    """The connector's values after `data` (a full or partial set) over `current`, and the problems."""
    problems: list = []
    for k in sorted(set(data) - KNOWN):
        problems.append(FieldProblem(k, _("Unknown field."), "unknown"))
    v = {**current, **{k: data[k] for k in data if k in KNOWN}}
    for k in TEXT_FIELDS:
        if v.get(k) is None:
            v[k] = ""
        if not isinstance(v[k], str):
            problems.append(FieldProblem(k, _("Text expected."), "invalid"))
            v[k] = ""
        v[k] = v[k].strip()
    if not SLUG_RE.match(v["key"]):
        problems.append(FieldProblem("key", _("Lower-case letters, digits, - and _ (up to 40)."),
                                     "required" if not v["key"] else "invalid"))
    if not v["name"]:
        problems.append(FieldProblem("name", _("This field is required."), "required"))
    elif len(v["name"]) > 100:
        problems.append(FieldProblem("name", _("At most 100 characters."), "too_long"))
    if v["ref_system"] and not SLUG_RE.match(v["ref_system"]):
        problems.append(FieldProblem("ref_system", _("Lower-case letters, digits, - and _ (up to 40)."), "invalid"))
    for k in ("url_template", "link_template"):
        if len(v[k]) > 500:
            problems.append(FieldProblem(k, _("At most 500 characters."), "too_long"))
    if not isinstance(v["enabled"], bool):
        problems.append(FieldProblem("enabled", _("true or false."), "invalid"))
    if not isinstance(v["order"], int) or isinstance(v["order"], bool) or not 0 <= v["order"] <= 1000:
        problems.append(FieldProblem("order", _("A whole number from 0 to 1000."), "invalid"))
    secret = data.get("auth_secret")
    if secret is not None and not isinstance(secret, str):
        problems.append(FieldProblem("auth_secret", _("Text expected."), "invalid"))
        secret = None
    if secret and (len(secret) > 2000 or any(ch in secret for ch in "\r\n")):
        problems.append(FieldProblem("auth_secret", _("One line of at most 2000 characters."), "invalid"))
    v["auth_secret_new"] = bool(secret) or (bool(current.get("has_secret")) and not data.get("clear_secret"))
    kind = KINDS.get(v["kind"])
    if kind is None:
        problems.append(FieldProblem("kind", _("One of: %(k)s.") % {"k": ", ".join(KINDS)}, "invalid"))
    else:
        kind.validate(v, problems)
    return v, problems


def _current(c: Connector) -> dict:
    return {**{k: getattr(c, k) for k in DEFAULTS}, "key": c.key, "name": c.name, "url_template": c.url_template,
            "has_secret": bool(c.auth_secret)}


def _apply(c: Connector, v: dict, data: dict, actor) -> None:
    for k in (*DEFAULTS, "key", "name", "url_template"):
        setattr(c, k, v[k])
    c.fields = [{"path": str(f["path"]).strip(), "label": str(f["label"]).strip()} for f in v["fields"]]
    if data.get("auth_secret"):
        c.auth_secret = crypto.encrypt(data["auth_secret"])
    elif data.get("clear_secret"):
        c.auth_secret = ""
    c.updated_at = now()
    c.updated_by = actor


def _save(actor, c: Connector, before) -> Connector:
    try:
        with transaction.atomic():
            c.save()
            record_change(actor=actor, kind="connector", obj=c, before=before, after=snapshot(c),
                          secrets=("auth_secret",))
    except IntegrityError:
        raise ValidationFailed(FieldProblem("key", _("Another connector has this key."), "duplicate")) from None
    return c


def do_create_connector(*, actor, data: dict) -> Connector:
    _require(actor)
    v, problems = _clean(data, {**DEFAULTS, "key": "", "name": "", "url_template": ""})
    if not problems and Connector.objects.filter(key=v["key"]).exists():
        problems.append(FieldProblem("key", _("Another connector has this key."), "duplicate"))
    if problems:
        raise ValidationFailed(problems)
    c = Connector(created_at=now())
    _apply(c, v, data, actor)
    return _save(actor, c, None)


def do_update_connector(*, actor, connector: Connector, data: dict) -> Connector:
    _require(actor)
    v, problems = _clean(data, _current(connector))
    if not problems and Connector.objects.filter(key=v["key"]).exclude(pk=connector.pk).exists():
        problems.append(FieldProblem("key", _("Another connector has this key."), "duplicate"))
    if problems:
        raise ValidationFailed(problems)
    before = snapshot(connector)
    _apply(connector, v, data, actor)
    return _save(actor, connector, before)


def do_delete_connector(*, actor, connector: Connector) -> None:
    _require(actor)
    with transaction.atomic():
        record_change(actor=actor, kind="connector", obj=connector, before=snapshot(connector), after=None,
                      obj_id=connector.pk, label=str(connector), secrets=("auth_secret",))
        connector.delete()
