# closeloop — the two commands a new user needs:
#   make demo   set up, load the demo company, serve on http://127.0.0.1:8000 (PORT=8080 to change)
#   make test   set up, lint, run the whole suite on SQLite (and PostgreSQL when
#               CLOSELOOP_TEST_POSTGRES=postgres://user@host:port/db is set)

SHELL := /bin/bash
PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# pyenv (through .python-version) or the system: the first Python >= 3.12 found.
PYTHON ?= $(shell for p in python3.14 python3.13 python3.12 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& { command -v $$p; break; }; done)

.PHONY: setup demo test lint check-tools assets serve clean bench bench-ceiling bench-sla screenshots

check-tools:
	@if [ -z "$(PYTHON)" ]; then \
		echo "closeloop needs Python >= 3.12 (found: $$(python3 --version 2>&1 || echo none))." >&2; \
		echo "Install it (e.g. 'pyenv install 3.12') and run make again." >&2; exit 1; fi
	@if ! command -v node >/dev/null 2>&1 || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)'; then \
		echo "closeloop needs Node.js >= 20 with npm (found: $$(node --version 2>&1 || echo none))." >&2; \
		echo "Install it from your distribution or nodejs.org and run make again." >&2; exit 1; fi

# Installs exactly what requirements-dev.lock pins, each file checked against its hash (the image
# installs requirements.lock the same way); then closeloop itself, editable, without dependencies.
$(VENV)/.installed: pyproject.toml requirements-dev.lock | check-tools
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

node_modules/.installed: package.json package-lock.json | check-tools
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

closeloop/static/dist/.built: node_modules/.installed scripts/build-assets.mjs $(shell find closeloop/static/src -type f 2>/dev/null)
	npm run --silent build
	@touch $@

assets: closeloop/static/dist/.built

setup: $(VENV)/.installed assets

lint: setup
	$(BIN)/ruff check .

test: setup lint
	$(BIN)/pytest
	@if [ -n "$$CLOSELOOP_TEST_POSTGRES" ]; then \
		echo "== again on PostgreSQL ($$CLOSELOOP_TEST_POSTGRES)"; \
		DATABASE_URL="$$CLOSELOOP_TEST_POSTGRES" $(BIN)/pytest || exit 1; \
	else echo "(CLOSELOOP_TEST_POSTGRES not set: PostgreSQL run skipped)"; fi

# The demo's notification channels post to `closeloop notify_sink` on this machine, and its connected
# systems are `closeloop fake_systems`: allow exactly their ports through the SSRF guard (nothing
# else private).
DEMO_ENV := CLOSELOOP_DEMO=1 CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST=127.0.0.1:8025,127.0.0.1:1025,127.0.0.1:8026

demo: setup
	$(DEMO_ENV) $(BIN)/closeloop migrate --no-input -v0
	$(DEMO_ENV) $(BIN)/closeloop demo
	$(DEMO_ENV) $(BIN)/closeloop serve --port $(PORT)

serve: setup
	$(BIN)/closeloop migrate --no-input -v0
	$(BIN)/closeloop serve --port $(PORT)

# Every console/phone/portal page of every role at 1440x900 and 390x844, in zh-Hans and en, saved
# to ./screenshots/ for review (the same pass runs in `make test` and fails on overflow, a wrapped
# top-bar item, a closed dialog drawn open, console errors, CSP violations and 4xx/5xx).
screenshots: setup
	rm -rf screenshots && mkdir -p screenshots
	CLOSELOOP_SCREENSHOT_DIR=$(CURDIR)/screenshots $(BIN)/pytest -q -p no:randomly tests/browser/test_screens.py -k every_page
	@echo "screenshots in ./screenshots/ ($$(ls screenshots | wc -l) pictures)"

bench: setup
	$(PY) bench/workorders.py

# The ceiling: a bare Django + ninja app measured by the same client (docs/performance.md)
bench-ceiling: setup
	$(PY) bench/ceiling/run.py

# SLA worker: deadline -> escalation latency over 100k open work orders (docs/sla.md)
bench-sla: setup
	$(PY) bench/sla.py

# --- dependencies (docs/deployment.md "Dependencies") ----------------------------------------
# pyproject.toml holds ranges; requirements.lock (the image) and requirements-dev.lock (make setup,
# CI) pin every package with its hashes. `make lock` re-pins what the venv has after you changed
# pyproject.toml; `make lock-upgrade` takes the newest versions the ranges allow (e.g. a Django
# security release, the yearly chinesecalendar); then `make test`, commit both locks.
TOOLS := .venv-tools
UV_COMPILE = $(TOOLS)/bin/uv pip compile pyproject.toml --universal --python-version 3.12 --generate-hashes \
	--no-annotate --no-header --quiet

$(TOOLS)/.installed:
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==0.13.8 pip-audit==2.10.1
	@touch $@

tools: $(TOOLS)/.installed

lock: tools
	$(BIN)/pip freeze --exclude-editable | grep -v '^closeloop' > $(TOOLS)/installed.txt
	$(UV_COMPILE) -c $(TOOLS)/installed.txt -o requirements.lock
	$(UV_COMPILE) -c $(TOOLS)/installed.txt --extra dev -o requirements-dev.lock

lock-upgrade: tools
	$(UV_COMPILE) --upgrade -o requirements.lock
	$(UV_COMPILE) --upgrade --extra dev -o requirements-dev.lock
	@echo "re-run make setup (the venv follows requirements-dev.lock), make test, then commit both locks"

# Known vulnerabilities in every locked package, from PyPI's vulnerability data (needs PyPI's JSON
# API; not part of make test: see docs/deployment.md). --strict: a package it cannot check fails.
audit: tools
	$(TOOLS)/bin/pip-audit --strict --disable-pip --require-hashes --vulnerability-service pypi \
		--progress-spinner off -r requirements-dev.lock

clean:
	rm -rf $(VENV) $(TOOLS) node_modules closeloop/static/dist
