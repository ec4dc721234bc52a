"""Who may use each URL: every URL pattern and every API operation, in one table.

`test_every_url_and_operation_has_an_entry` walks closeloop.urls (recursively) and the
NinjaAPI's operations and fails when one of them has no line in ACCESS below (or when a line
names something that no longer exists). `test_each_persona_gets_the_listed_outcome` sends each
line's request as each persona and checks the access outcome only (not what the page does).

Adding a URL or an API operation: add a line to ACCESS, under its app's heading:

    E("GET", "things/<int:pk>/",  "login  404  ok  ok  404  ok  ok"),

- method: the HTTP method to exercise (a console route needs at least one line; an API
  operation needs one line per method, keyed by its OpenAPI path, e.g. "/api/v1/things/{pk}").
- route: the URL pattern exactly as the failure message prints it.
- outcomes, one per persona in PERSONAS order (anonymous, customer of org A, engineer of
  team X, dispatcher, finance, manager, admin):
      ok     allowed: the request got past access control (2xx, a redirect that is not to the
             login page, or 400/409/412/422 about the input or the state);
      login  redirected to the login page;  401  API without credentials;
      msg    a console form redirected back with an error message (refused, or the input or
             the state was wrong: give a body= that is right for the allowed personas);
      403    refused;  404  hidden (an object or page the persona may not know about).
- path parameters get fixture objects (class Objects): a parameter takes the fixture PARAMS
  names for the route's start, else the fixture of its own name (`code` is the work order);
  an entry's args={"code": "customer"} or path="/x/{fixture}/" overrides both.
- bodies: BODIES["METHOD route"] (or an entry's body=). The API validates a body before the
  handler runs, so a write needs a valid body or every persona gets 422 ("ok") and a refusal
  goes unseen; a console form needs one the allowed personas get through without "msg".
Run `.venv/bin/pytest tests/test_url_access.py` and read the mismatches it lists. Each
request is rolled back, so every persona meets the same objects.

The fixture work order belongs to customer org A and team X, is assigned to eng_x and resolved
(waiting for the customer's confirmation; a second one, `other_wo`, is new and unassigned). The
customer persona is cust_a (org A) and the engineer eng_x: the work order is "their own".
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib import messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from closeloop.api import api

PERSONAS = ("anonymous", "customer", "engineer", "dispatcher", "finance", "manager", "admin")
USERS = {"anonymous": None, "customer": "cust_a", "engineer": "eng_x", "dispatcher": "dispatcher",
         "finance": "finance", "manager": "manager", "admin": "admin"}
OUTCOMES = {"ok", "login", "msg", "401", "403", "404"}
API_PREFIX = "/api/v1"


@dataclass
class E:
    method: str
    route: str
    who: str
    args: dict = field(default_factory=dict)
    path: str | None = None
    body: object = None  # dict, or a function of the Objects returning one; default BODIES[str(self)]

    @property
    def outcomes(self) -> dict[str, str]:
        words = self.who.split()
        assert len(words) == len(PERSONAS) and set(words) <= OUTCOMES, f"bad outcomes for {self.route}: {self.who}"
        return dict(zip(PERSONAS, words, strict=True))

    @property
    def is_api(self) -> bool:
        return self.route.startswith(API_PREFIX + "/")

    def __str__(self):
        return f"{self.method} {self.route}"


ACCESS: list[E] = [
    # method   route (as the failure message prints it)                     anon   cust   eng    disp   fin    mgr    admin
    # -- core: home, login, language, health, the API's own pages
    E("GET",    "",                                                        "login  ok     ok     ok     ok     ok     ok"),
    E("GET",    "api/v1/",                                                 "404    404    404    404    404    404    404"),
    E("GET",    "api/v1/docs",                                             "ok     ok     ok     ok     ok     ok     ok"),
    E("GET",    "api/v1/openapi.json",                                     "ok     ok     ok     ok     ok     ok     ok"),
    E("GET",    "healthz",                                                 "ok     ok     ok     ok     ok     ok     ok"),
    E("GET",    "livez",                                                   "ok     ok     ok     ok     ok     ok     ok"),
    E("GET",    "readyz",                                                  "ok     ok     ok     ok     ok     ok     ok"),
    E("GET",    "metrics",                                                 "ok     ok     ok     ok     ok     ok     ok"),
    E("POST",   "i18n/language",                                           "ok     ok     ok     ok     ok     ok     ok"),
    E("GET",    "login/",                                                  "ok     ok     ok     ok     ok     ok     ok"),
    E("POST",   "logout/",                                                 "login  login  login  login  login  login  login"),
    # -- accounts
    E("GET",    "settings/tokens/",                                        "login  ok     ok     ok     ok     ok     ok"),
    E("POST",   "settings/tokens/<int:token_id>/revoke",                   "login  msg    ok     msg    msg    msg    ok"),
    E("GET",    "/api/v1/me",                                              "401    ok     ok     ok     ok     ok     ok"),
    E("GET",    "/api/v1/skill-tags",                                      "401    403    ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/skill-tags",                                      "401    403    403    403    403    403    ok"),
    E("DELETE", "/api/v1/skill-tags/{ref}",                                "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/skill-tags/{ref}",                                "401    403    ok     ok     ok     ok     ok"),
    E("PATCH",  "/api/v1/skill-tags/{ref}",                                "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/teams",                                           "401    403    ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/teams",                                           "401    403    403    403    403    403    ok"),
    E("DELETE", "/api/v1/teams/{code}",                                    "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/teams/{code}",                                    "401    403    ok     ok     ok     ok     ok"),
    E("PATCH",  "/api/v1/teams/{code}",                                    "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/tokens",                                          "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/tokens",                                          "401    ok     ok     ok     ok     ok     ok"),
    E("DELETE", "/api/v1/tokens/{token_id}",                               "401    404    ok     404    404    404    ok"),
    E("GET",    "/api/v1/users",                                           "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/users",                                           "401    403    403    403    403    403    ok"),
    E("DELETE", "/api/v1/users/{username}",                                "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/users/{username}",                                "401    404    ok     ok     ok     ok     ok"),
    E("PATCH",  "/api/v1/users/{username}",                                "401    403    403    403    403    403    ok"),
    # -- administration: first run, set-up checklist, reference data pages, pickers
    E("GET",    "setup/",                                                  "404    404    404    404    404    404    404"),
    E("GET",    "settings/setup/",                                         "login  404    404    404    404    404    ok"),
    E("GET",    "settings/customers/",                                     "login  404    404    404    404    ok     ok"),
    E("GET",    "settings/users/",                                         "login  404    404    404    404    404    ok"),
    E("GET",    "settings/<kind:kind>/",                                   "login  404    404    404    404    ok     ok",
      path="/settings/assets/"),
    E("GET",    "settings/<kind:kind>/new",                                "login  404    404    404    404    404    ok",
      path="/settings/teams/new"),
    E("POST",   "settings/<kind:kind>/new",                                "login  404    404    404    404    ok     ok",
      path="/settings/sites/new", body={"customer": "org-a", "code": "new-site", "name": "新站点"}),
    E("GET",    "settings/<kind:kind>/<str:ref>/",                         "login  404    404    404    404    ok     ok",
      path="/settings/customers/org-a/"),
    E("POST",   "settings/<kind:kind>/<str:ref>/active",                   "login  404    404    404    404    ok     ok",
      path="/settings/customers/org-a/active", body={"active": "0"}),
    # service contracts (administration pages; the API's readers are wider, its page users are admins and managers)
    E("GET",    "settings/<kind:kind>/",                                   "login  404    404    404    404    ok     ok",
      path="/settings/contracts/"),
    E("POST",   "settings/<kind:kind>/new",                                "login  404    404    404    404    ok     ok",
      path="/settings/contracts/new", body={"customer": "org-a", "number": "HT-NEW", "starts_on": "2027-01-01",
                                            "ends_on": "2027-12-31"}),
    E("POST",   "settings/<kind:kind>/<str:ref>/",                         "login  404    404    404    404    ok     ok",
      path="/settings/contracts/{contract}/", body={"customer": "org-a", "number": "HT-A-1", "tier": "gold",
                                                    "starts_on": "2026-01-01", "ends_on": "2027-12-31"}),
    E("POST",   "settings/<kind:kind>/<str:ref>/active",                   "login  404    404    404    404    ok     ok",
      path="/settings/contracts/{contract}/active", body={"active": "0"}),
    # team-y has members: the admin's delete is refused with a message (deactivate/move them first)
    E("POST",   "settings/<kind:kind>/<str:ref>/delete",                   "login  404    404    404    404    404    msg",
      path="/settings/teams/team-y/delete"),
    E("GET",    "pick/<str:kind>",                                         "login  404    404    ok     404    ok     ok",
      path="/pick/customers?q=%E7%94%B2%E5%8C%BB"),
    # work order types and the form designer (admins and managers, as the types API)
    E("GET",    "settings/types/",                                         "login  404    404    404    404    ok     ok"),
    E("POST",   "settings/types/<str:ref>/fields/new",                     "login  404    404    404    404    ok     ok",
      path="/settings/types/production/fields/new", body={"label": "批次", "key": "lot", "kind": "text"}),
    E("POST",   "settings/types/<str:ref>/fields/order",                   "login  404    404    404    404    ok     ok",
      path="/settings/types/production/fields/order", body={"keys": ["temperature"]}),
    E("POST",   "settings/types/<str:ref>/fields/<str:field>/",            "login  404    404    404    404    ok     ok",
      path="/settings/types/production/fields/temperature/", body={"f-temperature-label": "温度",
                                                                   "f-temperature-kind": "number"}),
    E("POST",   "settings/types/<str:ref>/fields/<str:field>/remove",      "login  404    404    404    404    ok     ok",
      path="/settings/types/production/fields/temperature/remove"),
    E("GET",    "settings/types/<str:ref>/preview",                        "login  404    404    404    404    ok     ok",
      path="/settings/types/production/preview"),
    E("POST",   "settings/types/<str:ref>/main-line",                      "login  404    404    404    404    ok     ok",
      path="/settings/types/production/main-line",
      body={"stages": ["intake", "dispatch", "accept", "execution", "close"]}),
    E("POST",   "settings/types/<str:ref>/main-line/preview",              "login  404    404    404    404    ok     ok",
      path="/settings/types/production/main-line/preview", body={"stages": ["intake", "execution", "close"]}),
    # -- templates (gallery): admins and managers, as the types they install
    E("GET",    "settings/templates/",                                     "login  404    404    404    404    ok     ok"),
    E("GET",    "settings/templates/export.json",                          "login  404    404    404    404    ok     ok"),
    E("GET",    "settings/templates/import",                               "login  404    404    404    404    ok     ok"),
    E("GET",    "settings/templates/<str:key>/",                           "login  404    404    404    404    ok     ok",
      path="/settings/templates/general/"),
    # -- analytics: engineers see their own team's figures; finance and customers none
    E("GET",    "analytics/",                                              "login  403    ok     ok     403    ok     ok"),
    E("GET",    "analytics/heatmap/",                                      "login  403    ok     ok     403    ok     ok"),
    E("GET",    "analytics/export/<str:chart>.<str:fmt>",                  "login  403    ok     ok     403    ok     ok",
      path="/analytics/export/heatmap.csv"),
    # a customer's own organisation's figures (the portal's "Service figures" tab); staff: 404
    E("GET",    "portal/figures/",                                         "login  ok     404    404    404    404    404"),
    # SLA policies and business calendars, the holiday editor (administrators, as the SLA API)
    E("GET",    "settings/sla-policies/",                                  "login  404    404    404    404    404    ok"),
    E("POST",   "settings/calendars/<str:ref>/holidays",                   "login  404    404    404    404    404    ok",
      path="/settings/calendars/24x7/holidays", body={"year": "2027", "holidays": "2027-01-01"}),
    E("POST",   "settings/calendars/<str:ref>/holidays/import",            "login  404    404    404    404    404    ok",
      path="/settings/calendars/24x7/holidays/import",
      body=lambda fx: {"year": "2027", "file": SimpleUploadedFile("h.csv", b"2027-01-01,holiday\n")}),
    # -- connected systems: settings (administrators) and a work order's context (staff who see it)
    E("GET",    "connectors/context/<str:code>/",                          "login  404    ok     ok     ok     ok     ok"),
    E("GET",    "settings/connectors/",                                    "login  403    403    403    403    403    ok"),
    E("GET",    "settings/connectors/new",                                 "login  403    403    403    403    403    ok"),
    E("POST",   "settings/connectors/new",                                 "login  403    403    403    403    403    ok"),
    E("GET",    "settings/connectors/<int:cid>/",                          "login  403    403    403    403    403    ok"),
    E("POST",   "settings/connectors/<int:cid>/",                          "login  403    403    403    403    403    ok"),
    E("POST",   "settings/connectors/<int:cid>/delete",                    "login  403    403    403    403    403    ok"),
    E("GET",    "/api/v1/connectors",                                      "401    403    403    403    403    403    ok"),
    E("POST",   "/api/v1/connectors",                                      "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/connectors/{cid}",                                "401    403    403    403    403    403    ok"),
    E("PATCH",  "/api/v1/connectors/{cid}",                                "401    403    403    403    403    403    ok"),
    E("DELETE", "/api/v1/connectors/{cid}",                                "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/work-orders/{code}/context",                      "401    404    ok     ok     ok     ok     ok"),
    # -- audit log (configuration changes)
    E("GET",    "settings/audit/",                                         "login  403    403    403    403    403    ok"),
    E("GET",    "/api/v1/audit",                                           "401    403    403    403    403    403    ok"),
    # -- work orders (console)
    E("GET",    "work-orders/",                                            "login  ok     ok     ok     ok     ok     ok"),
    E("GET",    "work-orders/<str:code>/",                                 "login  ok     ok     ok     ok     ok     ok"),
    E("POST",   "work-orders/<str:code>/actions/<str:action>",             "login  ok     msg    ok     msg    ok     ok"),
    E("POST",   "work-orders/<str:code>/approvals",                        "login  404    ok     ok     ok     ok     ok"),
    E("POST",   "work-orders/<str:code>/attachments",                      "login  ok     ok     ok     ok     ok     ok"),
    E("GET",    "work-orders/<str:code>/attachments/<int:attachment_id>",  "login  ok     ok     ok     ok     ok     ok"),
    E("POST",   "work-orders/<str:code>/comments",                         "login  ok     ok     ok     ok     ok     ok"),
    E("POST",   "work-orders/<str:code>/tags",                             "login  msg    ok     ok     msg    ok     ok"),
    E("POST",   "work-orders/<str:code>/watch",                            "login  msg    ok     ok     ok     ok     ok"),
    E("GET",    "work-orders/export.csv",                                  "login  ok     ok     ok     ok     ok     ok"),
    E("GET",    "work-orders/new",                                         "login  ok     ok     ok     404    ok     ok"),
    E("GET",    "work-orders/new/fields",                                  "login  ok     ok     ok     ok     ok     ok"),
    # -- staff console: board, lookup, dashboard, queues, bulk
    E("GET",    "board/",                                                  "login  404    ok     ok     ok     ok     ok"),
    E("POST",   "console/bulk",                                            "login  404    msg    ok     msg    ok     ok"),
    E("GET",    "console/changes",                                         "login  ok     ok     ok     ok     ok     ok"),
    E("POST",   "console/queues",                                          "login  404    ok     ok     ok     ok     ok"),
    E("POST",   "console/queues/<int:queue_id>/delete",                    "login  404    404    ok     404    404    404"),
    E("GET",    "dashboard/",                                              "login  403    403    ok     403    ok     ok"),
    E("GET",    "lookup/",                                                 "login  ok     ok     ok     ok     ok     ok"),
    # -- work orders (API)
    E("GET",    "/api/v1/work-order-types",                                "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/work-order-types",                                "401    403    403    403    403    ok     ok"),
    E("DELETE", "/api/v1/work-order-types/{key}",                          "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/work-order-types/{key}",                          "401    ok     ok     ok     ok     ok     ok"),
    E("PATCH",  "/api/v1/work-order-types/{key}",                          "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/work-order-types/{key}/fields",                   "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/work-order-types/{key}/fields",                   "401    403    403    403    403    ok     ok"),
    E("DELETE", "/api/v1/work-order-types/{key}/fields/{field_key}",       "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/work-order-types/{key}/fields/{field_key}",       "401    ok     ok     ok     ok     ok     ok"),
    E("PATCH",  "/api/v1/work-order-types/{key}/fields/{field_key}",       "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/work-order-types/{key}/main-line",                "401    ok     ok     ok     ok     ok     ok"),
    E("PUT",    "/api/v1/work-order-types/{key}/main-line",                "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/work-orders",                                     "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/work-orders",                                     "401    ok     ok     ok     403    ok     ok"),
    E("GET",    "/api/v1/work-orders/{code}",                              "401    ok     ok     ok     ok     ok     ok"),
    E("PATCH",  "/api/v1/work-orders/{code}",                              "401    403    ok     ok     403    ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/actions/{action}",             "401    ok     403    ok     403    ok     ok"),
    E("GET",    "/api/v1/work-orders/{code}/attachments",                  "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/attachments",                  "401    ok     ok     ok     ok     ok     ok"),
    E("GET",    "/api/v1/work-orders/{code}/attachments/{attachment_id}",  "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/comments",                     "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/external-refs",                "401    403    ok     ok     403    ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/links",                        "401    403    ok     ok     403    ok     ok"),
    E("PUT",    "/api/v1/work-orders/{code}/tags",                         "401    403    ok     ok     403    ok     ok"),
    E("GET",    "/api/v1/work-orders/{code}/timeline",                     "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/watchers",                     "401    403    ok     ok     403    ok     ok"),
    E("DELETE", "/api/v1/work-orders/{code}/watchers/{username}",          "401    403    ok     ok     403    ok     ok"),
    # -- customers
    E("GET",    "/api/v1/assets",                                          "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/assets",                                          "401    403    403    ok     403    ok     ok"),
    E("DELETE", "/api/v1/assets/{serial_number}",                          "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/assets/{serial_number}",                          "401    ok     ok     ok     ok     ok     ok"),
    E("PATCH",  "/api/v1/assets/{serial_number}",                          "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/contacts",                                        "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/contacts",                                        "401    403    403    ok     403    ok     ok"),
    E("DELETE", "/api/v1/contacts/{contact_id}",                           "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/contacts/{contact_id}",                           "401    ok     ok     ok     ok     ok     ok"),
    E("PATCH",  "/api/v1/contacts/{contact_id}",                           "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/customers",                                       "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/customers",                                       "401    403    403    ok     403    ok     ok"),
    E("DELETE", "/api/v1/customers/{code}",                                "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/customers/{code}",                                "401    ok     ok     ok     ok     ok     ok"),
    E("PATCH",  "/api/v1/customers/{code}",                                "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/customers/{code}/contracts",                      "401    ok     403    ok     ok     ok     ok"),
    E("POST",   "/api/v1/customers/{code}/contracts",                      "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/contracts",                                       "401    ok     403    ok     ok     ok     ok"),
    E("POST",   "/api/v1/contracts",                                       "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/contracts/{number}",                              "401    ok     403    ok     ok     ok     ok"),
    E("PATCH",  "/api/v1/contracts/{number}",                              "401    403    403    ok     403    ok     ok"),
    E("DELETE", "/api/v1/contracts/{number}",                              "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/sites",                                           "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/sites",                                           "401    403    403    ok     403    ok     ok"),
    E("DELETE", "/api/v1/sites/{code}",                                    "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/sites/{code}",                                    "401    ok     ok     ok     ok     ok     ok"),
    E("PATCH",  "/api/v1/sites/{code}",                                    "401    403    403    ok     403    ok     ok"),
    # -- SLA
    E("GET",    "/api/v1/sla/calendars",                                   "401    403    403    ok     403    ok     ok"),
    E("POST",   "/api/v1/sla/calendars",                                   "401    403    403    403    403    403    ok"),
    E("PATCH",  "/api/v1/sla/calendars/{key}",                             "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/sla/policies",                                    "401    403    403    ok     403    ok     ok"),
    E("POST",   "/api/v1/sla/policies",                                    "401    403    403    403    403    403    ok"),
    E("PATCH",  "/api/v1/sla/policies/{key}",                              "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/work-orders/{code}/sla",                          "401    ok     ok     ok     ok     ok     ok"),
    # -- notifications
    E("GET",    "notifications/",                                          "login  ok     ok     ok     ok     ok     ok"),
    E("GET",    "notifications/ack/<str:token>",                           "ok     ok     ok     ok     ok     ok     ok"),
    E("POST",   "notifications/chains/<int:cid>/ack",                      "login  msg    ok     ok     ok     ok     ok"),
    E("GET",    "notifications/channels/",                                 "login  403    403    403    403    ok     ok"),
    E("GET",    "notifications/channels/<int:cid>",                        "login  403    403    403    403    ok     ok"),
    E("POST",   "notifications/channels/<int:cid>/resume",                 "login  403    403    403    403    ok     ok"),
    E("POST",   "notifications/channels/<int:cid>/test",                   "login  403    403    403    403    msg    msg"),
    E("GET",    "notifications/deliveries/",                               "login  403    403    403    403    ok     ok"),
    E("POST",   "notifications/deliveries/<int:did>/redeliver",            "login  403    403    403    403    ok     ok"),
    E("POST",   "notifications/flags/<int:fid>/clear",                     "login  403    403    403    403    ok     ok"),
    E("GET",    "notifications/policies/",                                 "login  403    403    403    403    ok     ok"),
    E("GET",    "notifications/preferences",                               "login  ok     ok     ok     ok     ok     ok"),
    E("POST",   "notifications/read",                                      "login  ok     ok     ok     ok     ok     ok"),
    E("GET",    "notifications/unread-badge",                              "login  ok     ok     ok     ok     ok     ok"),
    E("GET",    "/api/v1/notifications/ack-policies",                      "401    403    403    ok     403    ok     ok"),
    E("POST",   "/api/v1/notifications/ack-policies",                      "401    403    403    403    403    ok     ok"),
    E("PATCH",  "/api/v1/notifications/ack-policies/{pid}",                "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/notifications/chains/{cid}/ack",                  "401    403    ok     ok     ok     ok     ok"),
    E("GET",    "/api/v1/notifications/channels",                          "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/notifications/channels",                          "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/notifications/channels/{cid}",                    "401    403    403    403    403    ok     ok"),
    E("PATCH",  "/api/v1/notifications/channels/{cid}",                    "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/notifications/channels/{cid}/resume",             "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/notifications/channels/{cid}/test",               "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/notifications/deliveries",                        "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/notifications/deliveries/{did}/redeliver",        "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/notifications/inbox",                             "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/notifications/inbox/read",                        "401    ok     ok     ok     ok     ok     ok"),
    E("GET",    "/api/v1/notifications/preferences",                       "401    ok     ok     ok     ok     ok     ok"),
    E("PUT",    "/api/v1/notifications/preferences",                       "401    ok     ok     ok     ok     ok     ok"),
    # -- field work
    E("GET",    "fieldwork/gates/",                                        "login  403    403    403    403    ok     ok"),
    E("GET",    "fieldwork/photos/<int:photo_id>",                         "login  404    ok     ok     ok     ok     ok"),
    E("GET",    "fieldwork/qr/<str:kind>/<str:code>/",                     "login  404    404    ok     404    ok     ok"),
    E("GET",    "fieldwork/work-orders/<str:code>/report.pdf",             "login  ok     ok     ok     ok     ok     ok"),
    E("POST",   "fieldwork/work-orders/<str:code>/review",                 "login  msg    msg    ok     msg    ok     ok"),
    E("POST",   "fieldwork/work-orders/<str:code>/signature-link",         "login  msg    ok     ok     msg    ok     ok"),
    E("GET",    "m/",                                                      "login  ok     ok     ok     ok     ok     ok"),
    E("GET",    "m/icon-<int:size>.png",                                   "ok     ok     ok     ok     ok     ok     ok"),
    E("GET",    "m/manifest.webmanifest",                                  "ok     ok     ok     ok     ok     ok     ok"),
    E("GET",    "m/sw.js",                                                 "ok     ok     ok     ok     ok     ok     ok"),
    E("GET",    "m/wo/<str:code>/",                                        "login  404    ok     ok     404    ok     ok"),
    E("GET",    "sign/<str:token>/",                                       "ok     ok     ok     ok     ok     ok     ok"),
    E("GET",    "/api/v1/assets/{serial}/qr",                              "401    404    404    ok     404    ok     ok"),
    E("GET",    "/api/v1/me/field-work",                                   "401    403    ok     403    403    403    403"),
    E("GET",    "/api/v1/sites/{code}/qr",                                 "401    404    404    ok     404    ok     ok"),
    E("GET",    "/api/v1/work-order-types/{key}/closure-gates",            "401    404    ok     ok     ok     ok     ok"),
    E("PUT",    "/api/v1/work-order-types/{key}/closure-gates",            "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/checkins",                     "401    403    ok     ok     403    ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/closure-form",                 "401    403    ok     ok     403    ok     ok"),
    E("PUT",    "/api/v1/work-orders/{code}/closure-form",                 "401    403    ok     ok     403    ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/evidence-review",              "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/work-orders/{code}/gates",                        "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/parts",                        "401    403    ok     ok     403    ok     ok"),
    E("GET",    "/api/v1/work-orders/{code}/photos",                       "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/photos",                       "401    403    ok     ok     403    ok     ok"),
    E("GET",    "/api/v1/work-orders/{code}/report.pdf",                   "401    ok     ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/signature-links",              "401    403    ok     ok     403    ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/signatures",                   "401    ok     ok     ok     403    ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/steps",                        "401    403    ok     ok     403    ok     ok"),
    # -- customer portal
    E("GET",    "portal/",                                                 "login  ok     ok     ok     ok     ok     ok"),
    E("GET",    "portal/new",                                              "login  ok     404    404    404    404    404"),
    E("GET",    "portal/q/<str:token>/",                                   "ok     ok     ok     ok     ok     ok     ok"),
    E("GET",    "portal/q/<str:token>/report",                             "ok     ok     ok     ok     ok     ok     ok"),
    E("GET",    "portal/t/<str:token>/",                                   "ok     ok     ok     ok     ok     ok     ok"),
    E("GET",    "portal/t/<str:token>/attachments/<int:attachment_id>",    "ok     ok     ok     ok     ok     ok     ok"),
    E("POST",   "portal/t/<str:token>/confirm",                            "ok     ok     ok     ok     ok     ok     ok"),
    E("GET",    "portal/t/<str:token>/live",                               "ok     ok     ok     ok     ok     ok     ok"),
    E("POST",   "portal/t/<str:token>/reopen",                             "ok     ok     ok     ok     ok     ok     ok"),
    E("GET",    "portal/w/<str:code>/",                                    "login  ok     404    404    404    404    404"),
    E("POST",   "portal/w/<str:code>/confirm",                             "login  ok     404    404    404    404    404"),
    E("GET",    "portal/w/<str:code>/live",                                "login  ok     404    404    404    404    404"),
    E("POST",   "portal/w/<str:code>/reopen",                              "login  ok     404    404    404    404    404"),
    # -- approvals and handoffs
    E("GET",    "approvals/",                                              "login  404    ok     ok     ok     ok     ok"),
    E("GET",    "approvals/flows/",                                        "login  404    404    404    404    ok     ok"),
    E("GET",    "approvals/flows/<int:pk>/designer",                       "login  404    404    404    404    ok     ok"),
    E("GET",    "approvals/handoffs/",                                     "login  404    404    404    404    ok     ok"),
    E("POST",   "approvals/handoffs/<int:pk>/rate",                        "login  404    msg    msg    msg    ok     ok"),
    E("POST",   "approvals/justifications/<int:pk>",                       "login  404    404    404    404    ok     ok"),
    E("GET",    "approvals/reports/",                                      "login  404    404    404    404    ok     ok"),
    E("GET",    "approvals/requests/<int:pk>/",                            "login  404    ok     ok     ok     ok     ok"),
    E("POST",   "approvals/requests/<int:pk>/bypass",                      "login  404    msg    msg    msg    ok     ok"),
    E("POST",   "approvals/requests/<int:pk>/cancel",                      "login  404    ok     msg    msg    ok     ok"),
    E("POST",   "approvals/requests/<int:pk>/decide",                      "login  404    msg    msg    msg    ok     msg"),
    E("GET",    "/api/v1/approval-flows",                                  "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/approval-flows",                                  "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/approval-flows/check-condition",                  "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/approval-flows/{pk}",                             "401    403    403    403    403    ok     ok"),
    E("PATCH",  "/api/v1/approval-flows/{pk}",                             "401    403    403    403    403    ok     ok"),
    E("PUT",    "/api/v1/approval-flows/{pk}/draft",                       "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/approval-flows/{pk}/preview",                     "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/approval-flows/{pk}/publish",                     "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/approval-flows/{pk}/report",                      "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/approval-flows/{pk}/validate",                    "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/approval-flows/{pk}/versions/{number}",           "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/approval-reports/bypass",                         "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/approvals",                                       "401    403    ok     ok     ok     ok     ok"),
    E("GET",    "/api/v1/approvals/inbox",                                 "401    403    ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/approvals/justifications/{pk}",                   "401    403    404    404    404    ok     ok"),
    E("GET",    "/api/v1/approvals/{pk}",                                  "401    403    ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/approvals/{pk}/bypass",                           "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/approvals/{pk}/cancel",                           "401    403    ok     403    403    ok     ok"),
    E("POST",   "/api/v1/approvals/{pk}/decisions",                        "401    403    403    403    403    ok     403"),
    E("GET",    "/api/v1/handoff-requirements",                            "401    403    ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/handoff-requirements",                            "401    403    403    403    403    ok     ok"),
    E("PATCH",  "/api/v1/handoff-requirements/{pk}",                       "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/handoffs/quality",                                "401    403    ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/handoffs/{pk}/rating",                            "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/work-orders/{code}/approvals",                    "401    403    ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/approvals",                    "401    403    ok     ok     ok     ok     ok"),
    E("GET",    "/api/v1/work-orders/{code}/handoffs",                     "401    403    ok     ok     ok     ok     ok"),
    # -- rules
    E("GET",    "rules/",                                                  "login  404    403    ok     403    ok     ok"),
    E("GET",    "rules/<int:pk>/",                                         "login  404    403    ok     403    ok     ok"),
    E("GET",    "rules/<int:pk>/delete",                                   "login  404    403    403    403    ok     ok"),
    E("POST",   "rules/<int:pk>/enabled",                                  "login  404    403    403    403    ok     ok"),
    E("POST",   "rules/<int:pk>/move",                                     "login  404    403    403    403    ok     ok"),
    E("POST",   "rules/builder/build",                                     "login  404    403    ok     403    ok     ok"),
    E("POST",   "rules/builder/parse",                                     "login  404    403    ok     403    ok     ok"),
    E("GET",    "rules/keywords/",                                         "login  404    403    ok     403    ok     ok"),
    E("GET",    "rules/keywords/<str:name>/",                              "login  404    403    ok     403    ok     ok"),
    E("GET",    "rules/keywords/<str:name>/delete",                        "login  404    403    403    403    ok     ok"),
    E("GET",    "rules/keywords/new",                                      "login  404    403    403    403    ok     ok"),
    E("GET",    "rules/new",                                               "login  404    403    403    403    ok     ok"),
    E("POST",   "/api/v1/conditions/build",                                "401    403    403    ok     403    ok     ok"),
    E("POST",   "/api/v1/conditions/check",                                "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/keyword-libraries",                               "401    403    403    ok     403    ok     ok"),
    E("DELETE", "/api/v1/keyword-libraries/{name}",                        "401    403    403    403    403    ok     ok"),
    E("PUT",    "/api/v1/keyword-libraries/{name}",                        "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/rules",                                           "401    403    403    ok     403    ok     ok"),
    E("POST",   "/api/v1/rules",                                           "401    403    403    403    403    ok     ok"),
    E("DELETE", "/api/v1/rules/{rule_id}",                                 "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/rules/{rule_id}",                                 "401    403    403    ok     403    ok     ok"),
    E("PATCH",  "/api/v1/rules/{rule_id}",                                 "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/rules/{rule_id}/try",                             "401    403    403    ok     403    ok     ok"),
    # -- maintenance
    E("GET",    "maintenance/",                                            "login  404    403    ok     403    ok     ok"),
    E("GET",    "maintenance/<int:pk>/",                                   "login  404    403    ok     403    ok     ok"),
    E("GET",    "maintenance/<int:pk>/delete",                             "login  404    403    ok     403    ok     ok"),
    E("GET",    "maintenance/<int:pk>/edit",                               "login  404    403    ok     403    ok     ok"),
    E("POST",   "maintenance/<int:pk>/run",                                "login  404    403    ok     403    ok     ok"),
    E("GET",    "maintenance/new",                                         "login  404    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/maintenance/forecast/parts",                      "401    403    403    ok     403    ok     ok",
      path="/api/v1/maintenance/forecast/parts?until=2030-12-31"),
    E("GET",    "/api/v1/maintenance/plans",                               "401    403    403    ok     403    ok     ok"),
    E("POST",   "/api/v1/maintenance/plans",                               "401    403    403    ok     403    ok     ok"),
    E("DELETE", "/api/v1/maintenance/plans/{plan_id}",                     "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/maintenance/plans/{plan_id}",                     "401    403    403    ok     403    ok     ok"),
    E("PATCH",  "/api/v1/maintenance/plans/{plan_id}",                     "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/maintenance/plans/{plan_id}/forecast",            "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/maintenance/plans/{plan_id}/occurrences",         "401    403    403    ok     403    ok     ok"),
    # -- dispatch
    E("GET",    "dispatch/roster/",                                        "login  403    403    ok     403    ok     ok"),
    E("GET",    "dispatch/settings/",                                      "login  403    403    403    403    ok     ok"),
    E("POST",   "dispatch/work-orders/<str:code>/assign",                  "login  msg    404    ok     msg    ok     ok"),
    E("POST",   "/api/v1/dispatch/batch/apply",                            "401    403    403    ok     403    ok     ok"),
    E("POST",   "/api/v1/dispatch/batch/preview",                          "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/dispatch/leaves",                                 "401    403    403    ok     403    ok     ok"),
    E("POST",   "/api/v1/dispatch/leaves",                                 "401    403    403    ok     403    ok     ok"),
    E("DELETE", "/api/v1/dispatch/leaves/{leave_id}",                      "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/dispatch/settings",                               "401    403    403    ok     403    ok     ok"),
    E("PUT",    "/api/v1/dispatch/settings",                               "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/dispatch/shifts",                                 "401    403    403    ok     403    ok     ok"),
    E("POST",   "/api/v1/dispatch/shifts",                                 "401    403    403    ok     403    ok     ok"),
    E("DELETE", "/api/v1/dispatch/shifts/{shift_id}",                      "401    403    403    ok     403    ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/dispatch",                     "401    403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/work-orders/{code}/suggestions",                  "401    403    403    ok     403    ok     ok"),
    # -- telemetry: ingestion (gateway tokens only: every user's token is a 401), gateways, meters, conditions
    E("GET",    "settings/telemetry/",                                     "login  403    403    403    403    ok     ok"),
    E("POST",   "settings/telemetry/",                                     "login  403    403    403    403    ok     ok"),
    E("GET",    "settings/telemetry/meters/",                              "login  403    403    403    403    ok     ok"),
    E("POST",   "settings/telemetry/meters/",                              "login  403    403    403    403    ok     ok"),
    E("GET",    "settings/telemetry/conditions/",                          "login  403    403    403    403    ok     ok"),
    E("POST",   "settings/telemetry/conditions/",                          "login  403    403    403    403    ok     ok"),
    E("GET",    "settings/telemetry/assets/<path:serial>/",                "login  403    403    403    403    ok     ok"),
    E("POST",   "settings/telemetry/assets/<path:serial>/",                "login  403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/telemetry/batches",                               "401    401    401    401    401    401    401"),
    E("GET",    "/api/v1/telemetry/gateways",                              "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/telemetry/gateways",                              "401    403    403    403    403    403    ok"),
    E("DELETE", "/api/v1/telemetry/gateways/{gateway_id}",                 "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/telemetry/assets/{serial}/meters",                "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/telemetry/assets/{serial}/readings",              "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/telemetry/assets/{serial}/alarms",                "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/telemetry/meters",                                "401    403    403    403    403    403    ok"),
    E("DELETE", "/api/v1/telemetry/meters/{meter_id}",                     "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/telemetry/conditions",                            "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/telemetry/conditions",                            "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/telemetry/conditions/{condition_id}",             "401    403    403    403    403    ok     ok"),
    E("PATCH",  "/api/v1/telemetry/conditions/{condition_id}",             "401    403    403    403    403    403    ok"),
    E("DELETE", "/api/v1/telemetry/conditions/{condition_id}",             "401    403    403    403    403    403    ok"),
    E("POST",   "/api/v1/telemetry/backtest",                              "401    403    403    403    403    ok     ok"),
    # -- parts and stock: staff read; dispatchers move stock; managers keep the catalogue
    E("GET",    "stock/parts/",                                            "login  404    ok     ok     ok     ok     ok"),
    E("POST",   "stock/parts/",                                            "login  404    msg    msg    msg    ok     ok",
      body={"number": "NEW-1", "name": "新件"}),
    E("GET",    "stock/parts/<str:number>/",                               "login  404    ok     ok     ok     ok     ok"),
    E("POST",   "stock/parts/<str:number>/",                               "login  404    msg    msg    msg    ok     ok",
      body={"name": "改名"}),
    E("GET",    "stock/locations/",                                        "login  404    ok     ok     ok     ok     ok"),
    E("POST",   "stock/locations/",                                        "login  404    msg    msg    msg    ok     ok",
      body={"code": "east", "name": "华东仓", "kind": "regional"}),
    E("GET",    "stock/locations/<slug:code>/",                            "login  404    ok     ok     ok     ok     ok"),
    E("GET",    "stock/move",                                              "login  404    404    ok     404    ok     ok"),
    E("POST",   "stock/move",                                              "login  404    404    ok     404    ok     ok",
      body={"kind": "receipt", "part": "R410A-10", "target": "central", "quantity": "1"}),
    E("GET",    "stock/reorder/",                                          "login  404    ok     ok     ok     ok     ok"),
    E("GET",    "stock/fleet/",                                            "login  404    ok     ok     ok     ok     ok"),
    E("POST",   "stock/work-orders/<str:code>/reserve",                    "login  404    msg    ok     msg    ok     ok",
      body={"part": "R410A-10", "quantity": "1"}),
    E("GET",    "/api/v1/parts",                                           "401    403    ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/parts",                                           "401    403    403    403    403    ok     ok",
      body={"number": "NEW-1", "name": "新件"}),
    E("GET",    "/api/v1/parts/{number}",                                  "401    403    ok     ok     ok     ok     ok"),
    E("PATCH",  "/api/v1/parts/{number}",                                  "401    403    403    403    403    ok     ok",
      body={"name": "改名"}),
    E("GET",    "/api/v1/stock-locations",                                 "401    403    ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/stock-locations",                                 "401    403    403    403    403    ok     ok",
      body={"code": "east", "name": "华东仓", "kind": "regional"}),
    E("GET",    "/api/v1/stock-locations/{code}",                          "401    403    ok     ok     ok     ok     ok"),
    E("PATCH",  "/api/v1/stock-locations/{code}",                          "401    403    403    403    403    ok     ok",
      body={"name": "新名"}),
    E("GET",    "/api/v1/stock-movements",                                 "401    403    ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/stock-movements",                                 "401    403    403    ok     403    ok     ok",
      body={"kind": "receipt", "part": "R410A-10", "target": "central", "quantity": 1}),
    E("GET",    "/api/v1/work-orders/{code}/parts-status",                 "401    403    ok     ok     ok     ok     ok"),
    E("POST",   "/api/v1/work-orders/{code}/reservations",                 "401    403    403    ok     403    ok     ok",
      body={"items": [{"part": "R410A-10", "quantity": 1}]}),
    E("GET",    "/api/v1/reorder-warnings",                                "401    403    ok     ok     ok     ok     ok"),
    E("PUT",    "/api/v1/reorder-points",                                  "401    403    403    403    403    ok     ok",
      body={"part": "R410A-10", "location": "central", "minimum": 1, "target": 5}),
    E("GET",    "/api/v1/fleet",                                           "401    403    ok     ok     ok     ok     ok"),
    # -- purchasing: managers and administrators raise and send; dispatchers and finance read
    E("GET",    "purchasing/",                                             "login  404    404    ok     ok     ok     ok"),
    E("POST",   "purchasing/consolidate",                                  "login  404    404    msg    msg    ok     ok"),
    E("GET",    "purchasing/rules/",                                       "login  404    404    ok     ok     ok     ok"),
    E("POST",   "purchasing/rules/",                                       "login  404    404    msg    msg    ok     ok",
      body={"name": "r", "batch": "B-1", "years": "5", "part": "R410A-10"}),
    E("GET",    "purchasing/settings/",                                    "login  404    404    ok     ok     ok     ok"),
    E("POST",   "purchasing/settings/",                                    "login  404    404    msg    msg    ok     ok",
      body={"period": "month", "forecast_weeks": "8"}),
    E("POST",   "purchasing/requests/<str:code>/send",                     "login  404    404    msg    msg    msg    msg"),
    E("POST",   "purchasing/requests/<str:code>/purchase-order",           "login  404    404    msg    msg    msg    msg",
      body={"po_number": "PO-1"}),
    E("GET",    "/api/v1/purchase-requests",                               "401    403    403    ok     ok     ok     ok"),
    E("GET",    "/api/v1/purchase-requests/pending-needs",                 "401    403    403    ok     ok     ok     ok"),
    E("POST",   "/api/v1/purchase-requests/consolidate",                   "401    403    403    403    403    ok     ok"),
    E("GET",    "/api/v1/purchase-requests/{code}",                        "401    403    403    ok     ok     ok     ok"),
    E("POST",   "/api/v1/purchase-requests/{code}/send",                   "401    403    403    403    403    ok     ok"),
    E("POST",   "/api/v1/purchase-requests/{code}/purchase-order",         "401    403    403    403    403    ok     ok",
      body={"po_number": "PO-1"}),
    E("GET",    "/api/v1/purchase-rules",                                  "401    403    403    ok     ok     ok     ok"),
    E("POST",   "/api/v1/purchase-rules",                                  "401    403    403    403    403    ok     ok",
      body={"name": "r", "batch": "B-1", "years": 5, "part": "R410A-10"}),
    E("GET",    "/api/v1/purchasing/settings",                             "401    403    403    ok     ok     ok     ok"),
    E("PUT",    "/api/v1/purchasing/settings",                             "401    403    403    403    403    ok     ok",
      body={"period": "month"}),
    # -- ledgers: imports (admins and managers) and list exports (each list's visibility)
    E("GET",    "settings/imports/",                                       "login  404    404    404    404    ok     ok"),
    E("POST",   "settings/imports/",                                       "login  404    404    404    404    ok     ok",
      body=lambda fx: {"kind": "customer", "file": SimpleUploadedFile("c.csv", "客户编码,客户名称\nc-9,丙\n".encode())}),
    E("GET",    "settings/imports/<int:batch_id>/",                        "login  404    404    404    404    ok     ok"),
    E("POST",   "settings/imports/<int:batch_id>/",                        "login  404    404    404    404    ok     ok",
      body={"map_code": "0", "map_name": "1"}),
    E("POST",   "settings/imports/<int:batch_id>/confirm",                 "login  404    404    404    404    msg    msg"),
    E("POST",   "settings/imports/<int:batch_id>/rollback",                "login  404    404    404    404    msg    msg"),
    E("POST",   "settings/imports/<int:batch_id>/discard",                 "login  404    404    404    404    ok     ok"),
    E("GET",    "settings/imports/<int:batch_id>/rejected.csv",            "login  404    404    404    404    ok     ok"),
    E("GET",    "exports/<slug:kind>.<slug:fmt>",                          "login  ok     ok     ok     ok     ok     ok",
      path="/exports/customers.xlsx"),
    E("GET",    "exports/<slug:kind>.<slug:fmt>",                          "login  404    404    404    404    ok     ok",
      path="/exports/people.csv"),
    E("GET",    "work-orders/export.xlsx",                                 "login  ok     ok     ok     ok     ok     ok"),
    E("GET",    "/api/v1/exports/{name}",                                  "401    403    403    403    403    ok     ok",
      path="/api/v1/exports/people.xlsx"),
    # -- events: subscriptions out, connected systems in (administrators); the inbound endpoint takes
    #    only a connected system's own token, so every persona's is refused
    E("GET",    "settings/events/",                                        "login  403    403    403    403    403    ok"),
    E("POST",   "settings/events/",                                        "login  403    403    403    403    403    ok"),
    E("GET",    "settings/events/<int:pk>/",                               "login  403    403    403    403    403    ok"),
    E("POST",   "settings/events/<int:pk>/",                               "login  403    403    403    403    403    ok"),
    E("POST",   "settings/events/<int:pk>/rotate",                         "login  403    403    403    403    403    ok"),
    E("POST",   "settings/events/<int:pk>/resume",                         "login  403    403    403    403    403    ok"),
    E("POST",   "settings/events/<int:pk>/delete",                         "login  403    403    403    403    403    ok"),
    E("POST",   "settings/events/deliveries/<int:pk>/redeliver",           "login  403    403    403    403    403    ok"),
    E("GET",    "settings/systems/",                                       "login  403    403    403    403    403    ok"),
    E("POST",   "settings/systems/",                                       "login  403    403    403    403    403    ok"),
    E("GET",    "settings/systems/<int:pk>/",                              "login  403    403    403    403    403    ok"),
    E("POST",   "settings/systems/<int:pk>/",                              "login  403    403    403    403    403    ok"),
    E("POST",   "settings/systems/<int:pk>/rotate",                        "login  403    403    403    403    403    ok"),
    E("POST",   "settings/systems/<int:pk>/delete",                        "login  403    403    403    403    403    ok"),
    E("GET",    "/api/v1/event-types",                                     "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/event-subscriptions",                             "401    403    403    403    403    403    ok"),
    E("POST",   "/api/v1/event-subscriptions",                             "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/event-subscriptions/{sub_id}",                    "401    403    403    403    403    403    ok"),
    E("PATCH",  "/api/v1/event-subscriptions/{sub_id}",                    "401    403    403    403    403    403    ok"),
    E("DELETE", "/api/v1/event-subscriptions/{sub_id}",                    "401    403    403    403    403    403    ok"),
    E("POST",   "/api/v1/event-subscriptions/{sub_id}/rotate-secret",      "401    403    403    403    403    403    ok"),
    E("POST",   "/api/v1/event-subscriptions/{sub_id}/resume",             "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/event-subscriptions/{sub_id}/deliveries",         "401    403    403    403    403    403    ok"),
    E("POST",   "/api/v1/event-deliveries/{delivery_id}/redeliver",        "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/connected-systems",                               "401    403    403    403    403    403    ok"),
    E("POST",   "/api/v1/connected-systems",                               "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/connected-systems/{system_id}",                   "401    403    403    403    403    403    ok"),
    E("PATCH",  "/api/v1/connected-systems/{system_id}",                   "401    403    403    403    403    403    ok"),
    E("DELETE", "/api/v1/connected-systems/{system_id}",                   "401    403    403    403    403    403    ok"),
    E("POST",   "/api/v1/connected-systems/{system_id}/rotate-token",      "401    403    403    403    403    403    ok"),
    E("POST",   "/api/v1/inbound/{system_key}",                            "401    401    401    401    401    401    401"),
    # -- email in (mailin): mailboxes for admins, held mail for dispatchers, managers and admins
    E("GET",    "settings/mailboxes/",                                     "login  403    403    403    403    403    ok"),
    E("POST",   "settings/mailboxes/",                                     "login  403    403    403    403    403    ok",
      body={"name": "S2", "kind": "smtp", "address": "s2@example.com", "type": "repair", "active": "on"}),
    E("GET",    "settings/mailboxes/<int:mid>",                            "login  403    403    403    403    403    ok"),
    E("POST",   "settings/mailboxes/<int:mid>",                            "login  403    403    403    403    403    ok",
      body={"name": "S", "kind": "smtp", "address": "s@example.com", "type": "repair", "active": "on"}),
    E("POST",   "settings/mailboxes/<int:mid>/poll",                       "login  403    403    403    403    403    msg"),
    E("POST",   "settings/mailboxes/<int:mid>/delete",                     "login  403    403    403    403    403    ok"),
    E("GET",    "mail/held/",                                              "login  403    403    ok     403    ok     ok"),
    E("POST",   "mail/held/<int:pk>/accept",                               "login  403    403    ok     403    ok     ok",
      body={"customer": "org-a"}),
    E("POST",   "mail/held/<int:pk>/discard",                              "login  403    403    ok     403    ok     ok"),
    E("GET",    "/api/v1/mailboxes",                                       "401    403    403    403    403    403    ok"),
    E("POST",   "/api/v1/mailboxes",                                       "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/mailboxes/{mid}",                                 "401    403    403    403    403    403    ok"),
    E("PATCH",  "/api/v1/mailboxes/{mid}",                                 "401    403    403    403    403    403    ok"),
    E("DELETE", "/api/v1/mailboxes/{mid}",                                 "401    403    403    403    403    403    ok"),
    E("POST",   "/api/v1/mailboxes/{mid}/poll",                            "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/mailboxes/{mid}/messages",                        "401    403    403    403    403    403    ok"),
    E("GET",    "/api/v1/mail/held",                                       "401    403    403    ok     403    ok     ok"),
    E("POST",   "/api/v1/mail/held/{pk}/accept",                           "401    403    403    ok     403    ok     ok"),
    E("POST",   "/api/v1/mail/held/{pk}/discard",                          "401    403    403    ok     403    ok     ok"),
]


T1, T2 = "2030-01-07T09:00:00+08:00", "2030-01-07T17:00:00+08:00"
#: Channels point here: a closed loopback port, so a test send goes nowhere.
LOCAL_URL = "http://127.0.0.1:9/hook"

#: Request bodies, keyed like the failure messages ("METHOD route"): valid enough that the
#: access check, not input validation, decides (API bodies are validated before the handler runs).
BODIES = {
    "POST /api/v1/mailboxes": {"name": "S2", "kind": "smtp", "address": "s2@example.com", "type": "repair"},
    "PATCH /api/v1/mailboxes/{mid}": {"folder": "INBOX"},
    "POST /api/v1/mail/held/{pk}/accept": {"customer": "org-a"},
    # console forms
    "POST settings/connectors/new": {"key": "erp2", "name": "ERP 2", "ref_system": "erp", "order": "50",
                                     "url_template": "http://127.0.0.1:9/erp/{external_id}", "timeout_ms": "1500",
                                     "field_label": "Promised", "field_path": "delivery.promised"},
    "POST settings/connectors/<int:cid>/": {"key": "crm", "name": "CRM", "ref_system": "crm", "order": "50",
                                            "url_template": "http://127.0.0.1:9/crm/{external_id}", "timeout_ms": "1500",
                                            "field_label": "Stage", "field_path": "stage"},
    "POST /api/v1/connectors": {"key": "erp2", "name": "ERP 2", "ref_system": "erp",
                                "url_template": "http://127.0.0.1:9/erp/{external_id}",
                                "fields": [{"path": "delivery.promised", "label": "Promised"}]},
    "PATCH /api/v1/connectors/{cid}": {"name": "CRM 2"},
    "POST approvals/handoffs/<int:pk>/rate": {"score": "4"},
    "POST approvals/justifications/<int:pk>": {"text": "情况紧急"},
    "POST approvals/requests/<int:pk>/bypass": {"reason": "停机"},
    "POST approvals/requests/<int:pk>/decide": {"decision": "approve"},
    "POST console/bulk": lambda o: {"codes": [o["code"]], "action": "confirm"},
    "POST console/queues": {"name": "我的队列"},
    "POST rules/<int:pk>/move": {"direction": "down"},
    "POST dispatch/work-orders/<str:code>/assign": {"assignee": "eng_x2", "reason": "就近"},
    "POST fieldwork/work-orders/<str:code>/review": {"note": "已核对"},
    "POST notifications/read": {},
    "POST work-orders/<str:code>/actions/<str:action>": {},
    "POST work-orders/<str:code>/approvals": {"action": "order_tool", "amount": "100"},
    "POST work-orders/<str:code>/comments": {"body": "已联系", "public": ""},
    "POST work-orders/<str:code>/tags": {"tags": "icu"},
    "POST work-orders/<str:code>/watch": {"watch": "1"},
    "POST portal/w/<str:code>/confirm": lambda o: {"rating": "5", "signer_name": "王护士", "signature": o["png_url"]},
    "POST portal/w/<str:code>/reopen": {"reason": "又坏了"},
    "POST portal/t/<str:token>/confirm": lambda o: {"rating": "5", "signer_name": "王护士", "signature": o["png_url"]},
    "POST portal/t/<str:token>/reopen": {"reason": "又坏了"},
    # API
    "POST /api/v1/work-orders": {"type": "repair", "title": "新报修", "site": "site-a"},
    "PATCH /api/v1/work-orders/{code}": {"title": "改标题"},
    "POST /api/v1/work-orders/{code}/comments": {"body": "已联系"},
    "POST /api/v1/work-orders/{code}/external-refs": {"system": "crm", "id": "C-9"},
    "POST /api/v1/work-orders/{code}/links": lambda o: {"target": o["other_wo"], "kind": "related"},
    "PUT /api/v1/work-orders/{code}/tags": {"tags": ["icu"]},
    "POST /api/v1/work-orders/{code}/watchers": {"username": "eng_x"},
    "POST /api/v1/customers": {"code": "org-c", "name": "丙医院"},
    "PATCH /api/v1/customers/{code}": {"name": "甲医院(新)"},
    "POST /api/v1/customers/{code}/contracts": {"number": "HT-1", "starts_on": "2030-01-01", "ends_on": "2030-12-31"},
    "POST /api/v1/contracts": {"customer": "org-a", "number": "HT-2", "starts_on": "2030-01-01",
                               "ends_on": "2030-12-31"},
    "PATCH /api/v1/contracts/{number}": {"tier": "platinum", "active": False},
    "POST /api/v1/sites": {"customer": "org-a", "code": "site-c", "name": "分院"},
    "PATCH /api/v1/sites/{code}": {"name": "本部(新)"},
    "POST /api/v1/contacts": {"customer": "org-a", "name": "李医生", "phone": "13800000009"},
    "PATCH /api/v1/contacts/{contact_id}": {"name": "王护士长"},
    "POST /api/v1/assets": {"customer": "org-a", "serial_number": "SN-C-1", "name": "除颤仪"},
    "PATCH /api/v1/assets/{serial_number}": {"name": "呼吸机(新)"},
    "POST /api/v1/users": {"username": "newbie", "role": "engineer"},
    "PATCH /api/v1/users/{username}": {"display_name": "工程师X"},
    "POST /api/v1/teams": {"code": "team-z", "name": "Team Z"},
    "PATCH /api/v1/teams/{code}": {"name": "Team X (new)"},
    "POST /api/v1/skill-tags": {"name": "电气"},
    "PATCH /api/v1/skill-tags/{ref}": {"category": "技能2"},
    "POST /api/v1/tokens": {"name": "mine", "scopes": ["read"]},
    "POST settings/telemetry/": {"name": "gw2"},
    "POST settings/telemetry/meters/": {"assets": "SN-A-1", "kind": "cycles", "unit": "次", "mode": "cumulative"},
    "POST settings/telemetry/conditions/": {"name": "c2", "expression": "alarms.door_delay.count_30d > 5",
                                            "action": "save"},
    "POST settings/telemetry/assets/<path:serial>/": {"kind": "cycles", "unit": "次", "mode": "cumulative"},
    "POST /api/v1/telemetry/batches": {"items": []},
    "POST /api/v1/telemetry/gateways": {"name": "gw2"},
    "POST /api/v1/telemetry/meters": {"assets": ["SN-A-1"], "kind": "cycles", "unit": "次"},
    "POST /api/v1/telemetry/conditions": {"name": "c2", "expression": "alarms.door_delay.count_30d > 5"},
    "PATCH /api/v1/telemetry/conditions/{condition_id}": {"description": "x"},
    "POST /api/v1/telemetry/backtest": {"expression": "alarms.door_delay.count_30d > 5", "assets": ["SN-A-1"]},
    "POST /api/v1/sla/policies": {"key": "p2", "name": "p2", "calendar": "24x7", "targets": {"response": 600}},
    "PATCH /api/v1/sla/policies/{key}": {"name": "std2"},
    "POST /api/v1/sla/calendars": {"key": "c2", "name": "c2", "kind": "always"},
    "PATCH /api/v1/sla/calendars/{key}": {"name": "7x24 (new)"},
    "POST /api/v1/work-order-types": {"key": "install", "name": "安装", "prefix": "IN"},
    "PATCH /api/v1/work-order-types/{key}": {"name": "生产(新)"},
    "POST /api/v1/work-order-types/{key}/fields": {"key": "batch", "label": "批次", "kind": "text"},
    "PATCH /api/v1/work-order-types/{key}/fields/{field_key}": {"label": "温度"},
    "PUT /api/v1/work-order-types/{key}/main-line": {"stages": ["intake", "dispatch", "accept", "execution", "close"]},
    "POST /api/v1/work-orders/{code}/dispatch": {"assignee": "eng_x2", "reason": "就近"},
    "POST /api/v1/dispatch/batch/preview": {},
    "POST /api/v1/dispatch/batch/apply": lambda o: {"items": [{"code": o["other_wo"], "assignee": "eng_x"}]},
    "PUT /api/v1/dispatch/settings": {"settings": [{"type": "repair", "mode": "suggest"}]},
    "POST /api/v1/dispatch/shifts": {"user": "eng_x", "starts_at": T1, "ends_at": T2},
    "POST /api/v1/dispatch/leaves": {"user": "eng_x", "starts_at": T1, "ends_at": T2},
    "POST /api/v1/rules": {"name": "新规则", "actions": []},
    "POST /api/v1/event-subscriptions": {"name": "ERP", "url": "https://erp.example.com/hook", "events": ["*"]},
    "PATCH /api/v1/event-subscriptions/{sub_id}": {"name": "ERP 2"},
    "POST /api/v1/event-subscriptions/{sub_id}/rotate-secret": {"overlap_hours": 1},
    "POST /api/v1/connected-systems": {"key": "crm9", "name": "CRM", "scopes": ["crm"]},
    "PATCH /api/v1/connected-systems/{system_id}": {"name": "CRM 2"},
    "POST /api/v1/inbound/{system_key}": {"id": "m1", "type": "request.upsert", "data": {"external_id": "x"}},
    "POST settings/events/": {"name": "ERP", "url": "https://erp.example.com/hook", "events": "*"},
    "POST settings/events/<int:pk>/": {"name": "ERP", "url": "https://erp.example.com/hook", "events": "*"},
    "POST settings/systems/": {"key": "crm9", "name": "CRM", "scopes": "crm"},
    "POST settings/systems/<int:pk>/": {"name": "CRM", "scopes": "crm"},
    "PATCH /api/v1/rules/{rule_id}": {"name": "改名"},
    "POST /api/v1/maintenance/plans": {"name": "新计划", "type": "repair", "asset": "SN-A-1", "every": 1,
                                       "unit": "month"},
    "PATCH /api/v1/maintenance/plans/{plan_id}": {"name": "改名"},
    "POST /api/v1/rules/{rule_id}/try": lambda o: {"work_order": o["code"]},
    "POST /api/v1/conditions/check": {"condition": "wo.priority == 'urgent'"},
    "POST /api/v1/conditions/build": {"tree": {"all": []}},
    "PUT /api/v1/keyword-libraries/{name}": {"label": "紧急", "words": ["停机", "黑屏"]},
    "POST /api/v1/notifications/inbox/read": {},
    "PUT /api/v1/notifications/preferences": {"preferences": []},
    "POST /api/v1/notifications/channels": {"kind": "webhook", "name": "h2", "config": {"url": LOCAL_URL}},
    "PATCH /api/v1/notifications/channels/{cid}": {"enabled": False},
    "POST /api/v1/notifications/channels/{cid}/test": {},
    "POST /api/v1/notifications/ack-policies": {"name": "p2"},
    "PATCH /api/v1/notifications/ack-policies/{pid}": {"enabled": False},
    "PUT /api/v1/work-order-types/{key}/closure-gates": {"require_signature": False},
    "PUT /api/v1/work-orders/{code}/closure-form": {"data": {}},
    "POST /api/v1/work-orders/{code}/closure-form": {"data": {}},
    "POST /api/v1/work-orders/{code}/steps": {"index": 0, "result": "pass"},
    "POST /api/v1/work-orders/{code}/parts": {"name": "传感器", "quantity": 1},
    "POST /api/v1/work-orders/{code}/checkins": lambda o: {"qr": o["qr_token"]},
    "POST /api/v1/work-orders/{code}/signatures": lambda o: {"signer_name": "王护士", "image_png": o["png_url"],
                                                             "version": o["version"]},
    "POST /api/v1/work-orders/{code}/signature-links": {},
    "POST /api/v1/work-orders/{code}/evidence-review": {"note": "已核对"},
    "POST /api/v1/work-orders/{code}/approvals": {"action": "order_tool", "data": {"amount": 100}},
    "POST /api/v1/approvals/{pk}/decisions": {"decision": "approve"},
    "POST /api/v1/approvals/{pk}/bypass": {"reason": "停机"},
    "POST /api/v1/approvals/justifications/{pk}": {"text": "情况紧急"},
    "POST /api/v1/approval-flows": {"name": "Flow 2", "action": "order_part"},
    "POST /api/v1/approval-flows/check-condition": {"condition": "amount > 5"},
    "PATCH /api/v1/approval-flows/{pk}": {"name": "Purchase 2"},
    "PUT /api/v1/approval-flows/{pk}/draft": {"tree": {"nodes": []}},
    "POST /api/v1/handoff-requirements": {"action": "confirm", "fields": ["resolution"]},
    "PATCH /api/v1/handoff-requirements/{pk}": {"active": False},
    "POST /api/v1/handoffs/{pk}/rating": {"score": 4},
}
UPLOADS = {"POST /api/v1/work-orders/{code}/attachments", "POST /api/v1/work-orders/{code}/photos",
           "POST work-orders/<str:code>/attachments"}


# ---- the URLconf and the API, walked ----------------------------------------------------------------


def console_routes() -> set[str]:
    """Every URL pattern outside the API (the API's operations are listed by method instead)."""
    found: set[str] = set()

    def walk(resolver, prefix):
        for p in resolver.url_patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p, route)
            elif isinstance(p, URLPattern):
                found.add(route)

    walk(get_resolver(), "")
    api_root = API_PREFIX.strip("/") + "/"
    in_schema = {p for _m, p in api_operations()}
    # Under the API: the operations are listed by method (api_operations); any other pattern there
    # (the root, the schema, the docs, an operation hidden from the schema) needs a line of its own.
    return {r for r in found if not r.startswith(api_root)
            or "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r).rstrip("/") not in in_schema}


def api_operations() -> set[tuple[str, str]]:
    schema = api.get_openapi_schema(path_prefix=API_PREFIX + "/")
    ops = set()
    for path, methods in schema["paths"].items():
        for method in methods:
            ops.add((method.upper(), path.rstrip("/") if path != "/" else path))
    return ops


def test_every_url_and_operation_has_an_entry():
    listed_routes = {e.route for e in ACCESS if not e.is_api}
    listed_ops = [(e.method, e.route) for e in ACCESS if e.is_api]
    routes, ops = console_routes(), api_operations()
    missing = [f'    E("GET", "{r}", "login  ?  ?  ?  ?  ?  ?"),' for r in sorted(routes - listed_routes)]
    missing += [f'    E("{m}", "{p}", "401  ?  ?  ?  ?  ?  ?"),' for m, p in sorted(ops - set(listed_ops))]
    stale = sorted(listed_routes - routes) + sorted(f"{m} {p}" for m, p in set(listed_ops) - ops)
    dupes = sorted({f"{m} {p}" for m, p in listed_ops if listed_ops.count((m, p)) > 1})
    msg = []
    if missing:
        msg.append("These URLs / API operations have no line in ACCESS (tests/test_url_access.py). Add one (per "
                   "method for the API) with the outcome for each persona, as the module docstring says:")
        msg += missing
    if stale:
        msg.append("These ACCESS lines name a URL or operation that no longer exists (renamed? update the line):")
        msg += [f"    {s}" for s in stale]
    if dupes:
        msg.append("These API operations are listed twice:")
        msg += [f"    {d}" for d in dupes]
    assert not msg, "\n".join(msg)


# ---- fixture objects for parameterised URLs ---------------------------------------------------------


class Objects(dict):
    """One of each object a URL can name, built on the world (see the module docstring)."""

    def __init__(self, world):
        super().__init__()
        from closeloop.accounts.models import SkillTag
        from closeloop.accounts.services import do_create_token
        from closeloop.approvals import services as approvals
        from closeloop.approvals.models import Handoff, HandoffRequirement
        from closeloop.console.models import Queue
        from closeloop.core.clock import now
        from closeloop.fieldwork.evidence import do_add_photo
        from closeloop.fieldwork.services import do_send_signature_link
        from closeloop.notify.models import AckChain, AckPolicy, Channel, Delivery, FlaggedAddress
        from closeloop.ops.models import WorkerHeartbeat
        from closeloop.portal.services import ensure_tracking, sign_qr
        from closeloop.roster.models import Leave, Shift
        from closeloop.rules.services import do_create_rule, do_save_keyword_library
        from closeloop.sla.models import BusinessCalendar, SLAPolicy
        from closeloop.workorders import services as wo
        from closeloop.workorders.attachments import do_add_attachment

        t = now()
        w = world
        self.world = w
        order = wo.do_create_work_order(actor=w.dispatcher, data={
            "type": "repair", "title": "呼吸机报警", "site": "site-a", "asset": "SN-A-1", "assignee": "eng_x",
            "contact": w.contact_a.pk})
        other = wo.do_create_work_order(actor=w.dispatcher, data={"type": "repair", "title": "监护仪黑屏",
                                                                  "site": "site-a"})
        for action in ("accept", "depart", "arrive", "start"):  # in progress: field work can be recorded
            wo.do_transition(actor=w.eng_x, wo=order, action=action, data={})
            order.refresh_from_db()
        self.wo = order
        wo.do_add_watcher(actor=w.dispatcher, wo=order, user=w.manager)
        att = do_add_attachment(actor=w.dispatcher, wo=order, public=True,
                                   upload=SimpleUploadedFile("a.txt", b"hello", content_type="text/plain"))
        from closeloop.fieldwork.tests.helpers import jpeg, png

        photo = do_add_photo(actor=w.eng_x, wo=order, kind="other",
                             upload=SimpleUploadedFile("p.jpg", jpeg(), content_type="image/jpeg"))
        wo.do_transition(actor=w.eng_x, wo=order, action="complete", data={"resolution": "更换传感器"})
        order.refresh_from_db()  # resolved: the customer's signature can be asked for
        _link, sign_token = do_send_signature_link(actor=w.eng_x, wo=order)
        cal = BusinessCalendar.objects.create(key="24x7", name="7x24", kind="always", tz="Asia/Shanghai")
        policy = SLAPolicy.objects.create(key="std", name="std", order=100, condition="", calendar=cal,
                                          targets={"response": 900}, ladder=[], response_actions=["depart"],
                                          updated_at=t)
        tag = SkillTag.objects.create(name="制冷", category="技能")
        token, _clear = do_create_token(user=w.eng_x, name="eng-x's", scopes=["read"])
        shift = Shift.objects.create(user=w.eng_x, starts_at=t, ends_at=t + timedelta(hours=8))
        leave = Leave.objects.create(user=w.eng_x, starts_at=t + timedelta(days=3), ends_at=t + timedelta(days=4))
        do_save_keyword_library(actor=w.manager, name="urgent", data={"label": "紧急", "words": ["停机"]})
        rule = do_create_rule(actor=w.manager, data={"name": "r", "order": 10, "actions": []})
        do_create_rule(actor=w.manager, data={"name": "r2", "order": 20, "actions": []})
        from closeloop.maintenance.services import do_create_plan

        plan = do_create_plan(actor=w.manager, data={"name": "pm", "type": "repair", "asset": "SN-A-1", "every": 1,
                                                     "unit": "month"})
        channel = Channel.objects.create(kind="webhook", name="hook", created_at=t,
                                         config={"url": LOCAL_URL, "secret": "s"})
        delivery = Delivery.objects.create(key="k", event="x", medium="webhook", channel=channel, recipient="hook",
                                           created_at=t, scheduled_at=t, updated_at=t, status="failed")
        ack_policy = AckPolicy.objects.create(name="p", priorities=["urgent"], steps=[{"after": 0, "do": "im"}])
        ack_token = "ack-token-for-tests"
        chain = AckChain.objects.create(work_order=order, policy=ack_policy, target=w.eng_x, steps=[],
                                        token_hash=hashlib.sha256(ack_token.encode()).hexdigest(), started_at=t,
                                        expires_at=t + timedelta(days=1))
        flag = FlaggedAddress.objects.create(medium="email", address="bad@example.com", flagged_at=t)
        WorkerHeartbeat.objects.create(worker="url-table", started_at=t, seen_at=t)  # /readyz is ready
        from closeloop.connectors.models import Connector

        connector = Connector.objects.create(key="crm", name="CRM", ref_system="crm", enabled=False, created_at=t,
                                             updated_at=t, url_template="http://127.0.0.1:9/crm/{external_id}",
                                             fields=[{"path": "stage", "label": "Stage"}])
        queue = Queue.objects.create(name="mine", owner=w.dispatcher, filters={}, created_at=t)
        tree = {"settings": {"bypass_roles": ["admin", "manager"], "justify_hours": 24}, "auto_approve": [],
                "nodes": [{"id": "mgr", "type": "approver", "name": "Manager",
                           "approvers": {"kind": "role", "role": "manager"}}]}
        flow = approvals.do_create_flow(actor=w.manager, data={
            "name": "Purchase", "action": "purchase_part", "type": "repair", "tree": tree})
        version = approvals.do_publish(actor=w.manager, flow=flow)
        tools = approvals.do_create_flow(actor=w.manager, data={  # for starting a request (one runs already)
            "name": "Tools", "action": "order_tool", "type": "repair", "tree": tree})
        approvals.do_publish(actor=w.manager, flow=tools)
        bypassed = approvals.do_start_request(actor=w.eng_x, wo=order, action="purchase_part", data={"amount": 200})
        justification = approvals.do_bypass(actor=w.manager, req=bypassed, reason="停机")
        request = approvals.do_start_request(actor=w.eng_x, wo=order, action="purchase_part", data={"amount": 100})
        requirement = HandoffRequirement.objects.create(action="complete", fields=["resolution"], created_at=t)
        handoff = Handoff.objects.create(work_order=order, requirement=requirement, action="complete",
                                         from_team=w.team_x, to_team=w.team_y, by=w.eng_x, created_at=t)
        from closeloop.customers.models import ServiceContract

        contract = ServiceContract.objects.create(customer=w.org_a, number="HT-A-1", tier="gold",
                                                  starts_on=t.date(), ends_on=t.date() + timedelta(days=365))
        from closeloop.telemetry import services as telemetry

        gateway, _gw_token = telemetry.do_create_gateway(actor=w.admin, name="gw")
        telemetry.do_add_meters(actor=w.admin, assets=[w.asset_a], kind="temperature", unit="°C")
        condition = telemetry.do_create_condition(actor=w.admin, data={"name": "c", "expression": "asset.batch == \"B\""})
        self.update(gateway_id=gateway.pk, meter_id=w.asset_a.meters.get().pk, condition_id=condition.pk)
        from closeloop.parts.models import Location as StockLocation
        from closeloop.parts.models import Part, Stock

        part = Part.objects.create(number="R410A-10", name="制冷剂", created_at=t)
        central = StockLocation.objects.create(code="central", name="中央仓", kind="central")
        Stock.objects.create(part=part, location=central, quantity=5, updated_at=t)
        from closeloop.customers.models import Asset
        from closeloop.purchasing.models import BatchAgeRule
        from closeloop.purchasing.services import do_consolidate

        Asset.objects.create(customer=w.org_a, name="编码器", model="GEN2", batch="B-OLD", serial_number="ENC-OLD-1",
                             install_date=t.date() - timedelta(days=3000))
        BatchAgeRule.objects.create(name="old", batch="B-OLD", years=5, part=part, created_at=t)
        [purchase] = [pr for pr in do_consolidate(actor=w.manager) if pr.source == "age"]
        self.update(
            part_number=part.number, location=central.code, purchase=purchase.work_order.code,
            code=order.code, other_wo=other.code, action="confirm", version=order.version,
            png_url="data:image/png;base64," + base64.b64encode(png()).decode(), attachment_id=att.pk, photo_id=photo.pk,
            customer=w.org_a.code, site=w.site_a.code, contact_id=w.contact_a.pk, asset=w.asset_a.serial_number,
            serial_number=w.asset_a.serial_number, serial=w.asset_a.serial_number, user="eng_x", watcher="manager",
            team=w.team_x.code, ref=tag.name, token_id=token.pk, policy=policy.key, calendar=cal.key,
            type=w.production.key, field_key="temperature", shift_id=shift.pk, leave_id=leave.pk, rule_id=rule.pk,
            rule=rule.pk, library="urgent", channel=channel.pk, delivery=delivery.pk, ack_policy=ack_policy.pk,
            chain=chain.pk, ack_token=ack_token, flag=flag.pk, queue_id=queue.pk, request=request.pk,
            justification=justification.pk, flow=flow.pk, number=version.number, requirement=requirement.pk,
            handoff=handoff.pk, sign_token=sign_token, track_token=ensure_tracking(order).token,
            qr_token=sign_qr(w.asset_a), size=192, plan_id=plan.pk, kind="site", batch_id=_ledger_batch(w).pk,
            contract=contract.pk, contract_number=contract.number, connector=connector.pk, **_mail_fixtures(w),
        )
        from closeloop.events.models import Delivery as EventDelivery
        from closeloop.events.models import Subscription
        from closeloop.events.services import do_create_system

        sub = Subscription.objects.create(name="ERP", url=LOCAL_URL, events=["*"], secret_enc="", owner=w.admin,
                                          created_at=t, updated_at=t)
        ev_delivery = EventDelivery.objects.create(subscription=sub, webhook_id="msg_1_1", sequence=1,
                                                   event_type="work_order.created", created_at=t, updated_at=t)
        system, _token, _secret = do_create_system(actor=w.admin, data={"key": "crm", "name": "CRM",
                                                                        "scopes": ["crm"]})
        self.update(sub_id=sub.pk, event_sub=sub.pk, delivery_id=ev_delivery.pk, event_delivery=ev_delivery.pk,
                    system_id=system.pk, system_key=system.key)


#: Which fixture a parameter takes, by the start of the route (the first match wins); a parameter
#: not named here takes the fixture of its own name. An entry's args= overrides both.
PARAMS = [
    ("settings/events/deliveries/", {"pk": "event_delivery"}), ("settings/events/", {"pk": "event_sub"}),
    ("settings/systems/", {"pk": "system_id"}),
    ("approvals/requests/", {"pk": "request"}), ("approvals/justifications/", {"pk": "justification"}),
    ("approvals/handoffs/", {"pk": "handoff"}), ("approvals/flows/", {"pk": "flow"}),
    ("rules/keywords/", {"name": "library"}), ("rules/", {"pk": "rule"}), ("maintenance/", {"pk": "plan_id"}),
    ("notifications/chains/", {"cid": "chain"}), ("notifications/channels/", {"cid": "channel"}),
    ("notifications/flags/", {"fid": "flag"}), ("notifications/deliveries/", {"did": "delivery"}),
    ("notifications/ack/", {"token": "ack_token"}), ("sign/", {"token": "sign_token"}),
    ("portal/q/", {"token": "qr_token"}), ("portal/t/", {"token": "track_token"}),
    ("fieldwork/qr/", {"code": "site"}), ("dispatch/work-orders/", {"code": "other_wo"}),
    ("/api/v1/customers/", {"code": "customer"}), ("/api/v1/sites/", {"code": "site"}),
    ("/api/v1/contracts/", {"number": "contract_number"}),
    ("/api/v1/teams/", {"code": "team"}), ("/api/v1/users/", {"username": "user"}),
    ("/api/v1/work-orders/{code}/watchers/", {"username": "watcher"}),
    ("/api/v1/sla/policies/", {"key": "policy"}), ("/api/v1/sla/calendars/", {"key": "calendar"}),
    ("/api/v1/work-order-types/", {"key": "type"}), ("/api/v1/keyword-libraries/", {"name": "library"}),
    ("/api/v1/notifications/channels/", {"cid": "channel"}), ("/api/v1/notifications/chains/", {"cid": "chain"}),
    ("/api/v1/notifications/deliveries/", {"did": "delivery"}),
    ("/api/v1/notifications/ack-policies/", {"pid": "ack_policy"}),
    ("/api/v1/approvals/justifications/", {"pk": "justification"}), ("/api/v1/approvals/", {"pk": "request"}),
    ("/api/v1/approval-flows/", {"pk": "flow"}), ("/api/v1/handoff-requirements/", {"pk": "requirement"}),
    ("/api/v1/handoffs/", {"pk": "handoff"}),
    ("stock/locations/", {"code": "location"}), ("/api/v1/stock-locations/", {"code": "location"}),
    ("purchasing/requests/", {"code": "purchase"}), ("/api/v1/purchase-requests/", {"code": "purchase"}),
    ("stock/parts/", {"number": "part_number"}), ("/api/v1/parts/", {"number": "part_number"}),
    ("settings/mailboxes/", {"mid": "mailbox"}), ("mail/held/", {"pk": "held_mail"}),
    ("/api/v1/mailboxes/", {"mid": "mailbox"}), ("/api/v1/mail/held/", {"pk": "held_mail"}),
    ("settings/connectors/", {"cid": "connector"}), ("/api/v1/connectors/", {"cid": "connector"}),
]
PARAM = re.compile(r"<(?:[^>:]+:)?([^>]+)>|\{(?:path:)?([^}]+)\}")


def concrete_path(e: E, fx: Objects) -> str:
    if e.path is not None:
        return e.path.format(**fx)

    names = next((names for prefix, names in PARAMS if e.route.startswith(prefix)), {})

    def fill(m):
        name = m.group(1) or m.group(2)
        return str(fx[e.args.get(name, names.get(name, name))])

    path = PARAM.sub(fill, e.route)
    return path if e.is_api else "/" + path


def outcome(response) -> str:
    s = response.status_code
    if s in (301, 302, 303) and response.get("Location", "").startswith("/login/"):
        return "login"
    if s in (301, 302, 303) and hasattr(response, "wsgi_request") and any(
            m.level == messages.ERROR for m in messages.get_messages(response.wsgi_request)):
        return "msg"
    if s in (401, 403, 404):
        return str(s)
    if s == 405 or s >= 500:
        return f"unexpected {s}"
    return "ok"


def _ledger_batch(w):
    """An import waiting for its column mapping (confirm and rollback refuse it: "msg")."""
    from closeloop.ledgers import services

    return services.do_upload(w.admin, kind="customer", filename="c.csv",
                              data="客户编码,客户名称\nc-1,丙医院\n".encode())


def _mail_fixtures(w) -> dict:
    """An inbound SMTP mailbox and one held mail from an unknown sender."""
    from closeloop.mailin import services as mailin

    mb = mailin.do_create_mailbox(actor=w.admin, data={"name": "S", "kind": "smtp", "address": "s@example.com",
                                                       "type": "repair"})
    raw = (b"From: stranger@example.org\r\nTo: s@example.com\r\nSubject: help\r\n"
           b"Message-ID: <held@example.org>\r\n\r\nplease\r\n")
    return {"mailbox": mb.pk, "held_mail": mailin.do_receive_message(raw, mb).pk}


def _upload():
    from closeloop.fieldwork.tests.helpers import jpeg

    return SimpleUploadedFile("p.jpg", jpeg(), content_type="image/jpeg")


class Personas:
    """A logged-in console client and an API token for each persona."""

    def __init__(self, world):
        from closeloop.accounts.services import do_create_token

        self.world = world
        self.users = {p: getattr(world, u) if u else None for p, u in USERS.items()}
        self.tokens = {p: do_create_token(user=u, scopes=["read", "write", "admin"] if u.role == "admin"
                                          else ["read", "write"])[1] for p, u in self.users.items() if u}
        self.clients: dict[str, Client] = {}
        self.api_clients: dict = {}

    def console(self, persona) -> Client:
        c = self.clients.get(persona)
        if c is None or (self.users[persona] and "sessionid" not in c.cookies) or (
                self.users[persona] and not c.cookies["sessionid"].value):
            c = self.clients[persona] = Client(raise_request_exception=False)
            if self.users[persona]:
                c.force_login(self.users[persona])
        return c

    def api(self, persona):
        """One client per persona, kept: a new test Client loads the middleware again (WhiteNoise
        scanning the static files each time was two thirds of this test's time)."""
        from conftest import ApiClient

        client = self.api_clients.get(persona)
        if client is None:
            client = self.api_clients[persona] = ApiClient(self.tokens.get(persona))
            client.client.raise_request_exception = False
        return client


def send(e: E, persona: str, fx: Objects, who: Personas) -> str:
    """One request, rolled back afterwards so each persona meets the same objects."""
    path = concrete_path(e, fx)
    body = e.body if e.body is not None else BODIES.get(str(e))
    body = body(fx) if callable(body) else body
    client = who.api(persona) if e.is_api else who.console(persona)  # logged in outside the rollback
    with transaction.atomic():
        if e.is_api:
            if str(e) in UPLOADS:
                r = client.upload(path, {"file": _upload()}, data=body or {})
            elif e.method == "GET":
                r = client.get(path, body)
            elif e.method == "DELETE":
                r = client.delete(path)
            else:
                r = getattr(client, e.method.lower())(path, body)
        else:
            session = client.cookies.get("sessionid")
            session = session.value if session else None
            client.cookies.pop("messages", None)  # only this request's messages count
            if e.method == "GET":
                r = client.get(path, body or {})
            elif str(e) in UPLOADS:
                r = client.post(path, {"file": _upload(), **(body or {})})
            else:
                r = client.post(path, body or {})
            if session and client.cookies.get("sessionid") and client.cookies["sessionid"].value != session:
                who.clients.pop(persona)  # logged out or the session rotated: log in afresh next time
        transaction.set_rollback(True)
    return outcome(r)


@pytest.fixture
def fast_reports(monkeypatch, settings):
    """The PDF report takes seconds to draw; only who may fetch it matters here (the
    fieldwork tests check the report itself). Channels point at a closed loopback port."""
    from closeloop.fieldwork import report

    monkeypatch.setattr(report, "render", lambda wo, user: b"%PDF-1.4 stub")
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = True
    # /readyz's worker and outbox ages are about time, not access (ops/tests/test_health.py checks
    # them): on a busy machine the table takes minutes and the fixture's heartbeat would age out.
    settings.READY_WORKER_MAX_AGE = 0
    settings.READY_OUTBOX_MAX_AGE = 0


def test_each_persona_gets_the_listed_outcome(world, fast_reports):
    fx, who = Objects(world), Personas(world)
    wrong = []
    for e in ACCESS:
        for persona, expected in e.outcomes.items():
            got = send(e, persona, fx, who)
            if got != expected:
                wrong.append(f"{e} as {persona}: expected {expected}, got {got}")
    assert not wrong, "The server disagrees with ACCESS:\n" + "\n".join(wrong)
