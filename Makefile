# patient360: `make run` starts the app with demo data; `make test` runs everything CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
DEMO_PATIENTS ?= 500
INSTALLED := $(VENV)/.installed
HTMX := static/vendor/htmx.min.js

.PHONY: help run test install assets bytecode lint typecheck pytest postgres chromium clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "patient360 needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	# Bytecode now: with PYTHONDONTWRITEBYTECODE set (as on CI machines) every process
	# would otherwise compile every imported module from source, seconds per start.
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

install: $(INSTALLED) ## create .venv and install pinned dependencies

$(HTMX): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	mkdir -p static/vendor/graphiql
	cp node_modules/htmx.org/dist/htmx.min.js $(HTMX)
	cp node_modules/react/umd/react.production.min.js \
	   node_modules/react-dom/umd/react-dom.production.min.js \
	   node_modules/graphiql/graphiql.min.js node_modules/graphiql/graphiql.min.css \
	   static/vendor/graphiql/
	@touch $(HTMX)

assets: $(HTMX) ## fetch pinned front-end assets into static/vendor/

run: install assets bytecode ## migrate, seed demo data on first run, match duplicates, serve on http://127.0.0.1:8000
	$(BIN)/patient360 db upgrade
	$(BIN)/patient360 demo --if-empty --no-show-logins --patients $(DEMO_PATIENTS)
	$(BIN)/patient360 mpi scan
	$(BIN)/patient360 serve

bytecode: install
	@# Ours too, as install does for the dependencies: every CLI start (the suite runs
	@# dozens in subprocesses) would otherwise compile every module from source.
	$(BIN)/python -m compileall -q backend portal alembic

postgres: ## make sure PostgreSQL answers on 127.0.0.1:5432 (starts or installs it)
	@.ci/ensure-postgres

chromium: ## make sure Debian's Chromium is installed for the browser tests
	@.ci/ensure-chromium

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install assets bytecode postgres chromium
	$(BIN)/pytest

test: lint typecheck pytest ## lint, type-check and run the whole suite on SQLite and PostgreSQL

clean: ## remove the virtualenv, assets and local data
	rm -rf $(VENV) node_modules static/vendor var .mypy_cache .ruff_cache .pytest_cache
