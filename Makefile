# Two commands for a newcomer: `make run` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: run test lint typecheck unit schema bench clean actions demo-db

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(STAMP_RUN)

## Set up and run the main job: validate the packs in config.yml, train their NLU models
## (skipped for packs that have not changed), then chat with the retail assistant in the terminal,
## its custom actions answered by the example action server (started alongside, stopped on exit).
run: $(STAMP_RUN)
	$(BIN)/parley validate
	$(BIN)/parley train
	$(BIN)/parley shell domains/retail

## The example action server on its own (port 5055), and a fresh copy of its demo database.
actions: $(STAMP_RUN)
	$(BIN)/python -m rasa_sdk --actions actions

demo-db: $(STAMP_RUN)
	$(BIN)/python -m actions.backend --reset

## Set up with the dev extras and run everything CI runs: lint, format check, types, tests.
test: $(STAMP_DEV) lint typecheck unit

lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

unit: $(STAMP_DEV)
	$(BIN)/pytest

## Regenerate schema/*.json after changing engine/packs/schema.py.
schema: $(STAMP_RUN)
	$(BIN)/parley schema --write

bench: $(STAMP_DEV)
	$(BIN)/python benchmarks/loader.py
	$(BIN)/python benchmarks/nlu.py
	$(BIN)/python benchmarks/frustration.py
	$(BIN)/python benchmarks/dialogue.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache models reports
