"""Is the collected static manifest there and current?

Pages name their bundles through `{% static %}`, which with the manifest storage needs
`STATIC_ROOT/staticfiles.json` to list every built file. A missing or stale manifest
turns every console page into a 500 while the API keeps working, so `closeloop check
--deploy` and `closeloop serve` ask this module first.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core import checks
from django.utils.translation import gettext as _


def source_files() -> dict[str, Path]:
    """Every file the finders would collect: its static name -> its source path."""
    found: dict[str, Path] = {}
    for finder in finders.get_finders():
        for path, storage in finder.list(apps.get_app_config("staticfiles").ignore_patterns):
            prefix = getattr(storage, "prefix", None)
            name = f"{prefix}/{path}" if prefix else path
            found.setdefault(name.replace("\\", "/"), Path(storage.path(path)))
    return found


def manifest_problems(limit: int = 5) -> list[str]:
    """What is wrong with the collected files, in words an operator can act on; [] when current."""
    root = Path(settings.STATIC_ROOT)
    manifest_path = root / "staticfiles.json"
    if not manifest_path.is_file():
        return [_("the static file manifest %(path)s is missing") % {"path": manifest_path}]
    try:
        paths = json.loads(manifest_path.read_text(encoding="utf-8")).get("paths", {})
    except (OSError, ValueError, AttributeError) as exc:
        return [_("the static file manifest %(path)s cannot be read: %(error)s") % {"path": manifest_path, "error": exc}]
    sources = source_files()
    if not sources:
        return [_("there are no built static files: run `make assets` (npm run build) first")]
    problems = []
    for name, source in sorted(sources.items()):
        collected = root / name
        if name not in paths:
            problems.append(_("%(name)s is not in the manifest") % {"name": name})
        elif not (root / paths[name]).is_file():
            problems.append(_("%(name)s is in the manifest but %(hashed)s is missing") % {
                "name": name, "hashed": paths[name]})
        elif not collected.is_file() or collected.read_bytes() != source.read_bytes():
            problems.append(_("%(name)s changed since it was collected") % {"name": name})
        if len(problems) >= limit:
            break
    return problems


def uses_manifest() -> bool:
    return isinstance(staticfiles_storage, ManifestFilesMixin)


def fix_hint() -> str:
    return _("run `closeloop collectstatic --no-input` after every build of the assets")


@checks.register(checks.Tags.staticfiles, deploy=True)
def check_static_manifest(app_configs=None, **kwargs):
    """`closeloop check --deploy`: the pages would answer 500 without a current manifest."""
    if not uses_manifest():
        return []
    problems = manifest_problems()
    if not problems:
        return []
    return [checks.Error(
        _("Static files are not collected or are stale: %(problems)s.") % {"problems": "; ".join(problems)},
        hint=fix_hint(), id="closeloop.E001",
    )]
