# Two commands for a fresh machine: `make run` (the app on the embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# uv (from PyPI, into the venv) installs the same packages as pip several times faster.
UV := $(BIN)/uv
INSTALL := $(UV) pip install --quiet --python $(BIN)/python
# xds-protos (authz) also ships older copies of opentelemetry-proto's and googleapis-common-protos'
# modules. pip installs it before them, so theirs win; uv installs wheels in parallel and the
# last to land wins (the OTLP exporter then fails to import): put theirs back on top.
OVER_XDS := --reinstall-package opentelemetry-proto --reinstall-package googleapis-common-protos

.PHONY: run test lint

run: $(VENV)/.runtime
	$(BIN)/eco2 serve

# Lint, then the suite: what CI runs (.ci/run calls `make test`).
test: lint .tools/bin/helm .tools/checkov/bin/checkov
	$(BIN)/python -m pytest

# The same checks as .pre-commit-config.yaml and the GitHub lint job.
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports pyproject.toml --no-cache

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==0.13.9

$(VENV)/.runtime: pyproject.toml | $(UV)
	$(INSTALL) -e '.[embedded]'
	$(INSTALL) $(OVER_XDS) -e '.[embedded]'
	touch $@

$(VENV)/.dev: pyproject.toml | $(UV)
	$(INSTALL) -e '.[dev,deploy]'
	$(INSTALL) $(OVER_XDS) -e '.[dev,deploy]'
	touch $@ $(VENV)/.runtime

.tools/bin/helm:
	bash scripts/get-helm

.tools/checkov/bin/checkov: | $(UV)
	UV=$(abspath $(UV)) bash scripts/get-checkov
