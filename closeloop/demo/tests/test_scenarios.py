"""Each app's scenario lives in `<app>/demo.py` and is found by the loader, in the order
documented in demo/scenarios.py; no app imports the demo."""

import pathlib
import re

from closeloop.demo import scenarios


def test_it_finds_every_apps_scenario_in_the_documented_order():
    assert [s.label for s in scenarios.discover()] == [
        "sla", "dispatch", "roster", "rules", "telemetry", "parts", "fieldwork", "approvals", "notify", "portal",
        "maintenance", "connectors", "events", "purchasing", "mailin", "analytics"]
    for s in scenarios.discover():
        assert callable(s.module.seed)


def test_no_app_imports_the_demo_app():
    root = pathlib.Path(scenarios.__file__).parent.parent
    offenders = []
    for path in root.rglob("*.py"):
        if path.is_relative_to(root / "demo") or "tests" in path.parts or path.name.startswith(("test_", "conftest")):
            continue  # tests may load the demo company
        if re.search(r"^\s*(from closeloop\.demo\b|from closeloop import demo\b|import closeloop\.demo\b)",
                     path.read_text(), re.M):
            offenders.append(str(path.relative_to(root)))
    # Asking "is this the demo database?" goes through closeloop.core.demo_database.
    assert offenders == []
