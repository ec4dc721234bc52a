"""The deployment files agree with the project (docs/deployment.md): the locks pin every
dependency of pyproject.toml with hashes, inside its range; the image installs from the lock
as a non-root user; compose runs PostgreSQL, migrations, the web and two workers."""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _lock(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    pins = {}
    for block in re.split(r"\n(?=\S)", text):
        m = re.match(r"([A-Za-z0-9_.\-]+)==([^\s\\;]+)", block)
        if m:
            assert "--hash=sha256:" in block, f"{name}: {m.group(1)} has no hash"
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def _requirements(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    if extra:
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return reqs


def test_the_locks_pin_every_dependency_within_its_range():
    for name, extra in (("requirements.lock", None), ("requirements-dev.lock", "dev")):
        pins = _lock(name)
        for req in _requirements(extra):
            version = pins.get(canonicalize_name(req.name))
            assert version, f"{req.name} is not in {name}: run make lock"
            assert req.specifier.contains(version, prereleases=True), f"{name}: {req.name}=={version} not in {req.specifier}"
            assert str(req.specifier) and "==" not in str(req.specifier), f"pyproject.toml: give {req.name} a range"


def test_the_image_installs_from_the_lock_and_runs_as_a_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes --no-deps -r /tmp/requirements.lock" in dockerfile
    stages = dockerfile.split("\nFROM ")
    final = stages[-1]
    assert "USER closeloop" in final and "npm" not in final and "node" not in final.split("\n")[0]
    assert "COPY --from=assets" in dockerfile and "collectstatic" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".git" in ignored and "node_modules" in ignored and ".venv" in ignored


def test_compose_runs_postgres_migrations_web_and_two_workers():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "migrate", "web", "worker"}
    assert services["worker"]["deploy"]["replicas"] == 2 and services["worker"]["command"] == ["worker"]
    assert "--no-worker" in services["web"]["command"]
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("web", "worker", "migrate"):
        assert services[name]["read_only"] is True
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")
    assert "closeloop migrate" in services["migrate"]["command"][0]


def test_the_deploy_examples_exist():
    for path in ("deploy/systemd/closeloop-web.service", "deploy/systemd/closeloop-worker@.service",
                 "deploy/systemd/closeloop-backup.service", "deploy/systemd/closeloop-backup.timer",
                 "deploy/nginx/closeloop.conf", "docs/deployment.md"):
        assert (ROOT / path).is_file(), path
    unit = (ROOT / "deploy/systemd/closeloop-worker@.service").read_text()
    assert "ExecStart=/opt/closeloop/bin/closeloop worker" in unit and "User=closeloop" in unit
    nginx = (ROOT / "deploy/nginx/closeloop.conf").read_text()
    assert "X-Forwarded-Proto" in nginx and "X-Request-ID" in nginx and "location = /metrics" in nginx
