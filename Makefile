# The two commands a newcomer needs: `make up` (the whole stack) and `make test` (every test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PACKAGES := -e libs/kith_common -e services/gateway -e services/importer -e services/dedup -e services/photos -e services/reset

.PHONY: install up test lint typecheck contracts docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip uv

install: $(BIN)/python
	$(BIN)/uv pip install --quiet --python $(BIN)/python $(PACKAGES) -r requirements-dev.txt

up: install
	$(BIN)/kith dev

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
