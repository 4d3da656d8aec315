# Connector Hub — `make run` serves the demo on SQLite, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv

# uv from PATH, else a private copy installed from PyPI into .tools/.
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .tools/bin/uv
UV_DEP := .tools/bin/uv
endif
PY := .venv/bin/python
# Where `make run` serves the demo: SITE_URL in .env, the one place the server, the task worker
# and every manage.py command read it from. `make run HOST=... PORT=...` rewrites that line
# (either alone keeps the other part); without them .env decides (http://127.0.0.1:8000).
HOST ?=
PORT ?=
CHROMIUM ?= /usr/bin/chromium
# bench/resolution.py drops and re-creates this database (PostgreSQL only).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/connector_hub_bench

# make mutation: mutmut workers (the machine is small and shared) and the lowest score, %.
MUTATION_CHILDREN ?= 1
MUTATION_MIN ?= 95

.PHONY: help run test lint fmt bench mutation install messages chromium clean cluster

help:
	@echo "make run    - install, migrate, seed the demo and serve it (SQLite) at SITE_URL from .env"
	@echo "              (http://127.0.0.1:8000; make run HOST=... PORT=... changes it)"
	@echo "make test   - the whole test suite (SQLite; set DATABASE_URL for PostgreSQL)"
	@echo "make lint   - ruff, mypy and the import layers (import-linter)"
	@echo "make bench  - benchmarks (ratios measured in one run)"
	@echo "make cluster - two gunicorn servers, the worker and the scheduler on PostgreSQL + Redis"
	@echo "make mutation - mutation testing of the core modules (slow; not part of CI)"

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

.venv/.synced: pyproject.toml uv.lock .python-version | $(UV_DEP)
	$(UV) sync --frozen
	@touch $@

# The hosted pages' translations (locale/*/LC_MESSAGES/django.po, committed) compiled with
# GNU gettext's msgfmt (installed with apt-get when missing and we may, as root).
MO := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))

%.mo: %.po
	@if ! command -v msgfmt >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext; \
	  else echo "msgfmt missing: sudo apt-get install gettext"; exit 1; fi; \
	fi
	msgfmt --check-format -o $@ $<

install: .venv/.synced $(MO)

# After changing a translatable string: refresh the message ids of every language's .po.
messages: install
	$(PY) manage.py makemessages --all --no-location --no-wrap --ignore='.venv/*' --ignore='.tools/*' \
	  --ignore='tests/*' --ignore='staticfiles/*' --ignore='mutants/*'

# Local settings for development: a random SECRET_KEY and a Fernet key (never committed) and
# the site's address.
.env: | .venv/.synced
	@$(PY) -c "import secrets; from cryptography.fernet import Fernet; \
	print('DEBUG=true'); \
	print('SECRET_KEY=' + secrets.token_urlsafe(50)); \
	print('FIELD_ENCRYPTION_KEYS=' + Fernet.generate_key().decode()); \
	print('SITE_URL=http://127.0.0.1:8000')" > $@
	@echo "Wrote .env with a new SECRET_KEY, FIELD_ENCRYPTION_KEYS and SITE_URL"

run: install .env
	@$(PY) -m config.devserver --host '$(HOST)' --port '$(PORT)' --check-free > /dev/null
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo
	@# The task worker (reconnect emails) and the scheduler (token refresh, health checks,
	@# pruning) run beside the server and stop with it.
	$(PY) manage.py db_worker --no-startup-delay & \
	  worker=$$!; $(PY) manage.py crontask --no-heartbeat > /dev/null & \
	  scheduler=$$!; trap 'kill $$worker $$scheduler 2>/dev/null' EXIT INT TERM; \
	  $(PY) manage.py runserver "$$($(PY) -m config.devserver)"

# Two app servers, the worker and the scheduler against PostgreSQL + Redis (scripts/cluster.sh).
cluster: install
	scripts/cluster.sh

# Browser tests drive Debian's Chromium; install it when missing and we may (root).
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Chromium missing: sudo apt-get install chromium (browser tests will skip)"; fi; \
	fi

test: install chromium
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .
	@# The layers contract of pyproject.toml: no app imports one above it.
	.venv/bin/lint-imports

fmt: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: install
	$(PY) bench/run.py
	$(PY) bench/definition.py
	$(PY) bench/outbound.py
	DATABASE_URL="$(BENCH_DATABASE_URL)" $(PY) bench/resolution.py
	DATABASE_URL="$(BENCH_DATABASE_URL)_connections" $(PY) bench/connections.py
	DATABASE_URL="$(BENCH_DATABASE_URL)_connections" $(PY) bench/migrations.py
	DATABASE_URL="$(BENCH_DATABASE_URL)_rollouts" $(PY) bench/rollouts.py
	@# Locust, 16 users, BENCH_SECONDS (10) per target, two gunicorn servers on BENCH_PORTS.
	DATABASE_URL="$(BENCH_DATABASE_URL)_load" $(PY) bench/load.py
	DATABASE_URL="$(BENCH_DATABASE_URL)_runtime" $(PY) bench/runtime.py
	DATABASE_URL="$(BENCH_DATABASE_URL)_events" $(PY) bench/events.py
	DATABASE_URL="$(BENCH_DATABASE_URL)_mcp" $(PY) bench/mcp_tools.py

# Mutation testing of pins, resolution, versioning and changes with their tests ([tool.mutmut]
# in pyproject.toml). Always from scratch: mutants/ (git-ignored) is mutmut's working copy.
mutation: install
	rm -rf mutants
	env -u DATABASE_URL nice -n 19 .venv/bin/mutmut run --max-children $(MUTATION_CHILDREN)
	$(PY) tests/mutation_report.py --min $(MUTATION_MIN)

clean:
	rm -f $(MO)
	rm -rf .venv .tools staticfiles test-artifacts .pytest_cache .mypy_cache .ruff_cache .import_linter_cache mutants
