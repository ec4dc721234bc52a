"""Seed a production-mode database for tests/test_production.py and print what it made.

Run as a script with the production environment (`python tests/production_seed.py`):
it creates the test personas (conftest.World), one work order, and a logged-in session
for each role, and prints them as JSON.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "closeloop.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402

from closeloop.portal.services import qr_path, tracking_path  # noqa: E402
from closeloop.workorders.services import do_create_work_order, do_transition  # noqa: E402
from conftest import World  # noqa: E402


def session_for(user) -> str:
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


w = World()
wo = do_create_work_order(actor=w.dispatcher, data={
    "type": "repair", "title": "呼吸机报警", "site": w.site_a.code, "asset": w.asset_a.serial_number})
wo = do_transition(actor=w.dispatcher, wo=wo, action="assign", data={"assignee": w.eng_x.username})
roles = {"admin": w.admin, "manager": w.manager, "dispatcher": w.dispatcher, "finance": w.finance,
         "engineer": w.eng_x, "customer": w.cust_a}
print(json.dumps({
    "sessions": {role: session_for(user) for role, user in roles.items()},
    "code": wo.code,
    "qr": qr_path(w.asset_a),
    "track": tracking_path(wo),
}))
