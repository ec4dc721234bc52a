"""The connector interface: one small class per kind of system.

A kind says how to check its configuration (`validate`), how to fetch one record by id
(`prepare` in the request's thread, which may read the database; `fetch` in a worker
thread, which must not) and how to show it (`fetch` returns a `Record`: a few labelled
values and a link). The generic HTTP/JSON kind below covers most CRMs and ERPs; a system
that needs more (a SOAP ERP, a signed API) is one more class in KINDS.
"""

import json
import re
import string
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from closeloop.core.errors import FieldProblem
from closeloop.notify.channels import base as transport

PLACEHOLDERS = {"external_id", "code"}
PATH_RE = re.compile(r"^[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+|\[-?\d+\])*$")
HEADER_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
MAX_FIELDS = 12
MAX_VALUE = 300
MIN_TIMEOUT_MS, MAX_TIMEOUT_MS = 100, 5000


class NoRecord(Exception):  # noqa: N818
    """The system answered that it has no record with this id."""


@dataclass
class Record:
    fields: list[tuple[str, str]] = field(default_factory=list)
    link: str = ""


def path_parts(path: str) -> list[str]:
    return [p for p in re.split(r"\.|\[|\]", path) if p != ""]


def resolve(data, path: str):
    """The value at a dotted path ("delivery.promised", "messages.-1.text", "lines[0].sku")."""
    cur = data
    for part in path_parts(path):
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and re.fullmatch(r"-?\d+", part):
            i = int(part)
            cur = cur[i] if -len(cur) <= i < len(cur) else None
        else:
            return None
        if cur is None:
            return None
    return cur


def show_value(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        text = _("yes") if value else _("no")
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


def fill(template: str, *, external_id: str, code: str) -> str:
    return template.format(external_id=quote(external_id, safe=""), code=quote(code, safe=""))


def _check_template(problems: list, name: str, value: str, *, required: bool) -> set:
    """Problems of a URL template; returns the placeholders it uses."""
    if not value:
        if required:
            problems.append(FieldProblem(name, _("This field is required."), "required"))
        return set()
    try:
        used = {f for _t, f, _s, _c in string.Formatter().parse(value) if f is not None}
    except ValueError:
        problems.append(FieldProblem(name, _("Unbalanced braces: write {external_id} or {code}."), "invalid"))
        return set()
    unknown = used - PLACEHOLDERS
    if unknown:
        problems.append(FieldProblem(name, _("Unknown placeholder %(p)s: use {external_id} or {code}.")
                                     % {"p": ", ".join("{" + u + "}" for u in sorted(unknown))}, "invalid"))
        return used
    sub: list = []
    transport.check_url(sub, "x", fill(value, external_id="X1", code="WD1"))
    for p in sub:
        problems.append(FieldProblem(name, p.message, p.code))
    return used


class Kind(ABC):
    """One kind of system: how its settings are checked, what one fetch needs (read in the request,
    from the connector row) and how a record is fetched (in a worker thread, no database)."""

    KIND = ""
    LABEL = ""

    @abstractmethod
    def validate(self, data: dict, problems: list) -> None: ...

    @abstractmethod
    def prepare(self, connector, ident: str, code: str) -> dict: ...

    @abstractmethod
    def fetch(self, spec: dict) -> Record: ...


class HttpJson(Kind):
    """GET a URL made from a template, read a JSON object, show the values at the
    configured paths. 404 (or 410) is "no record"; anything else not 2xx is a failure."""

    KIND = "http_json"
    LABEL = gettext_lazy("HTTP/JSON")

    def validate(self, data: dict, problems: list) -> None:
        used = _check_template(problems, "url_template", data.get("url_template", ""), required=True)
        used |= _check_template(problems, "link_template", data.get("link_template", ""), required=False)
        if "external_id" in used and not data.get("ref_system"):
            problems.append(FieldProblem("ref_system", _(
                "Name the external ref system whose id fills {external_id} (or use {code})."), "required"))
        header = data.get("auth_header", "")
        if header and not HEADER_RE.match(header):
            problems.append(FieldProblem("auth_header", _("A header name, e.g. Authorization."), "invalid"))
        if data.get("auth_secret_new") and not header:
            problems.append(FieldProblem("auth_header", _("Name the header that carries the secret."), "required"))
        fields = data.get("fields")
        if not isinstance(fields, list) or not fields:
            problems.append(FieldProblem("fields", _("Show at least one field."), "required"))
        elif len(fields) > MAX_FIELDS:
            problems.append(FieldProblem("fields", _("At most %(n)d fields.") % {"n": MAX_FIELDS}, "too_many"))
        else:
            for i, f in enumerate(fields):
                if not isinstance(f, dict) or set(f) - {"path", "label"}:
                    problems.append(FieldProblem(f"fields[{i}]", _("A path and a label."), "invalid"))
                    continue
                path, label = str(f.get("path") or "").strip(), str(f.get("label") or "").strip()
                if not PATH_RE.match(path) or len(path) > 200:
                    problems.append(FieldProblem(f"fields[{i}].path", _(
                        "A JSON path like delivery.promised, messages.-1.text or lines[0].sku."), "invalid"))
                if not label or len(label) > 60:
                    problems.append(FieldProblem(f"fields[{i}].label", _("A label of 1 to 60 characters."),
                                                 "required" if not label else "too_long"))
        t = data.get("timeout_ms")
        if not isinstance(t, int) or isinstance(t, bool) or not MIN_TIMEOUT_MS <= t <= MAX_TIMEOUT_MS:
            problems.append(FieldProblem("timeout_ms", _("Between %(a)d and %(b)d milliseconds.")
                                         % {"a": MIN_TIMEOUT_MS, "b": MAX_TIMEOUT_MS}, "out_of_range"))

    def prepare(self, connector, ident: str, code: str) -> dict:
        from .crypto import decrypt

        headers = {"Accept": "application/json", "User-Agent": "closeloop-connectors"}
        if connector.auth_header:
            secret = decrypt(connector.auth_secret)
            if secret is None:
                raise ValueError(_("The stored secret cannot be read (the SECRET_KEY changed): enter it again."))
            if secret:
                headers[connector.auth_header] = secret
        return {"url": fill(connector.url_template, external_id=ident, code=code), "headers": headers,
                "timeout": connector.timeout_ms / 1000, "fields": list(connector.fields),
                "link": fill(connector.link_template, external_id=ident, code=code) if connector.link_template else ""}

    def fetch(self, spec: dict) -> Record:
        t = spec["timeout"]
        try:
            resp = transport.request("GET", spec["url"], check=False, headers=spec["headers"],
                                     timeout=httpx.Timeout(t, connect=t))
        except transport.Retryable as e:
            if isinstance(e.__cause__, httpx.TimeoutException):
                raise TimeoutError(str(e)) from e
            raise
        if resp.status_code in (404, 410):
            raise NoRecord()
        if not 200 <= resp.status_code < 300:
            raise RuntimeError(f"HTTP {resp.status_code}")
        data = resp.json()
        if not isinstance(data, (dict, list)):
            raise RuntimeError(_("The answer is not JSON."))
        return Record(fields=[(f["label"], show_value(resolve(data, f["path"]))) for f in spec["fields"]],
                      link=spec["link"])


KINDS: dict[str, Kind] = {k.KIND: k for k in (HttpJson(),)}
