# The two commands a newcomer needs: `make up` (the whole stack) and `make test` (every test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install up test lint docs screenshot clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip uv

# uv.lock pins every package with its hashes: `--locked` installs exactly it (editable workspace
# packages plus the `dev` group, which brings kith-common's `dev` extra) and fails if a
# pyproject.toml changed without `uv lock`. `--inexact` keeps pip and uv in the venv.
install: $(BIN)/python
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --quiet --locked --all-packages --inexact --python $(BIN)/python

up: install
	$(BIN)/kith dev

# axe-core (npm) for the console's accessibility checks; Node.js and npm come with the machine.
# A stamp, not axe.min.js itself: npm keeps the package's own (old) file times.
AXE := tests/console/a11y/node_modules/.installed

$(AXE): tests/console/a11y/package-lock.json
	npm ci --prefix tests/console/a11y --no-audit --no-fund --silent
	touch $@

test: install $(AXE)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The README's console screenshot, from the console journey test (docs/console.png).
screenshot: install $(AXE)
	$(BIN)/python -m pytest tests/console/test_journeys.py -k import_merge_and_reset -q
	cp test-artifacts/console/readme.png docs/console.png

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy libs/kith_common/src services/*/src
	$(BIN)/lint-imports

docs: install
	$(BIN)/kith docs asyncapi > docs/asyncapi.yaml
	$(BIN)/kith docs nats-accounts > deploy/nats/accounts.conf
	$(BIN)/kith docs nats-helm > deploy/k8s/nats/values-auth.yaml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/console/a11y/node_modules
