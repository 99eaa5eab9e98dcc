# The two commands a newcomer needs: `make up` (the whole stack) and `make test` (every test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install up test lint typecheck contracts docs clean

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

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy libs/kith_common/src services/*/src
	$(BIN)/lint-imports

docs: install
	$(BIN)/kith docs asyncapi > docs/asyncapi.yaml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
