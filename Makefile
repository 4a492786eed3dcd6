# Stepwise: `make run` serves the product, `make test` checks it. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV  := .venv
PY    := $(VENV)/bin/python
# Reinstall only when the dependencies change.
STAMP := $(VENV)/.installed

HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: help install run test lint fmt bench

help:
	@echo "make run    install (once), migrate, create the admin account and serve on http://$(HOST):$(PORT)"
	@echo "make test   install (once), lint, run the test suite"
	@echo "make lint   ruff"
	@echo "make fmt    ruff format and autofix"
	@echo "make bench  engine benchmarks, graph drawing, durable throughput (SQLite and PostgreSQL), API calls/s, live view latency"

$(STAMP): pyproject.toml
	@scripts/make-venv $(VENV)
	@echo "Installing Stepwise and its dependencies into $(VENV) (about a minute the first time) ..."
	@set -o pipefail; $(PY) -m pip install --quiet -e '.[dev]' 2>&1 | { grep -v "is ignored" || true; }
	@touch $@

install: $(STAMP)

run: install
	@scripts/system-deps graphviz
	@echo "Preparing the database ..."
	@$(PY) manage.py migrate --noinput -v 0
	@$(PY) manage.py bootstrap_admin --url "http://$(HOST):$(PORT)/"
	@$(PY) manage.py serve --host "$(HOST)" --port "$(PORT)"

test: install
	@scripts/system-deps graphviz chromium
	@$(MAKE) --no-print-directory lint
	@# pytest exits 5 when no tests ran: that is a failure too, never a green run.
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	    if [ $$rc -eq 5 ]; then echo "pytest ran no tests: failing." >&2; fi; exit $$rc

lint: install
	$(PY) -m ruff check .

fmt: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: install
	$(PY) -m engine.bench
	$(PY) manage.py bench_graph
	@echo "Durable (Standard executions through db_worker processes):"
	$(PY) manage.py bench_durable
	@echo "API (boto3 clients on 8 threads against daphne and db_worker processes):"
	$(PY) manage.py bench_api
	@echo "Live view (an event's commit to a WebSocket client, embedded and with Redis if it runs):"
	$(PY) manage.py bench_live
	@echo "Callbacks and activities (boto3 threads answering tokens, 100 open polls, daphne and a db_worker on SQLite):"
	$(PY) manage.py bench_callbacks
