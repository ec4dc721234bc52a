"""The dependency direction between apps (docs/architecture.md, "Layers").

Every import from one closeloop app to another must point to a lower layer (apps in one
layer do not import each other). Tests, migrations and the project-level modules
(settings, urls, api, cli) are exempt: they wire the apps together. A new app needs a
line here; a new import that points upwards fails with the offending file and line.
"""

import ast
from pathlib import Path

import closeloop

ROOT = Path(closeloop.__file__).resolve().parent

# Lowest first. An app may import any app in a lower layer, and none in its own or above.
LAYERS = [
    ["core"],
    ["audit", "outbox"],
    ["accounts"],
    ["customers"],
    ["workorders"],
    ["roster"],
    ["notify", "parts"],
    ["sla", "dispatch", "fieldwork", "telemetry"],
    ["rules", "maintenance"],
    ["approvals", "portal", "console", "ledgers", "administration", "analytics"],
    ["demo", "ops", "gallery", "events", "mailin", "purchasing", "connectors"],
]
LEVEL = {app: i for i, apps in enumerate(LAYERS) for app in apps}


def _apps() -> list[str]:
    return sorted(p.parent.name for p in ROOT.glob("*/apps.py"))


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "closeloop" and len(parts) > 1:
                yield node.lineno, parts[1]


def test_every_app_has_a_layer():
    missing = [app for app in _apps() if app not in LEVEL]
    assert not missing, f"add these apps to LAYERS in {__file__}: {missing}"


def test_imports_point_to_lower_layers_only():
    wrong = []
    for app in _apps():
        for path in sorted((ROOT / app).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if {"tests", "migrations"} & set(rel.parts) or path.name.startswith("test_") or path.name == "conftest.py":
                continue
            for line, target in _imports(path):
                if target == app or target not in LEVEL:
                    continue
                if LEVEL[target] >= LEVEL[app]:
                    wrong.append(f"closeloop/{rel}:{line} imports {target} (layer {LEVEL[target]}) "
                                 f"from {app} (layer {LEVEL[app]})")
    assert not wrong, "imports against the layering:\n" + "\n".join(sorted(set(wrong)))
