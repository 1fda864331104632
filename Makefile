# Two commands for a fresh machine: `make run` (the app on the embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench-user-me

run: $(VENV)/.runtime
	$(BIN)/eco2 serve

test: $(VENV)/.dev .tools/bin/helm .tools/checkov/bin/checkov
	$(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations
	$(BIN)/mypy

$(VENV)/bin/pip:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(VENV)/bin/pip
	$(BIN)/pip install --quiet -e '.[embedded]'
	touch $@

$(VENV)/.dev: pyproject.toml | $(VENV)/bin/pip
	$(BIN)/pip install --quiet -e '.[dev,deploy]'
	touch $@ $(VENV)/.runtime

.tools/bin/helm:
	bash scripts/get-helm

.tools/checkov/bin/checkov:
	bash scripts/get-checkov
