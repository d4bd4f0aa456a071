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

## Set up and run the main job: validate the packs in config.yml, train their NLU models (skipped
## for packs that have not changed), start the example action server (unless one answers already)
## and serve the assistants; it prints the web chat's URL. Ctrl-C stops both servers.
## The engine listens on 5005 and the action server on 5055 (Rasa's ports) unless config.yml says
## otherwise; override with `make run PORT=8080 ACTIONS_PORT=5056`.
run: $(STAMP_RUN)
	$(if $(ACTIONS_PORT),PARLEY_ACTION_SERVER_URL=http://127.0.0.1:$(ACTIONS_PORT)/webhook) \
	$(BIN)/parley run $(if $(PORT),--port $(PORT))

## The example action server on its own (port 5055), and a fresh copy of its demo database.
actions: $(STAMP_RUN)
	$(BIN)/python -m engine.actions.sdk_server --actions actions

demo-db: $(STAMP_RUN)
	$(BIN)/python -m actions.backend --reset

## Set up with the dev extras (and Debian's headless Chromium for the browser tests) and run
## everything CI runs: lint, format check, types, tests.
test: $(STAMP_DEV) browsers lint typecheck unit

lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

unit: $(STAMP_DEV)
	PARLEY_CHROMIUM=$(CHROMIUM) $(BIN)/pytest

## Headless Chromium for the web chat's browser tests (tests/server/test_webchat_browser.py):
## Debian's chromium and chromium-driver, installed with apt-get when $(CHROMIUM) is missing.
## Playwright drives this browser; it never downloads one. Uses sudo only when not root, and never
## asks for a password. Where it cannot install, it says so and the browser tests are skipped
## (with the reason), except under PARLEY_REQUIRE_SERVICES=1 (CI), where that is an error.
CHROMIUM ?= /usr/bin/chromium
.PHONY: browsers
browsers:
	@cannot() { \
		echo "browsers: $$1" >&2; \
		echo "  Install Chromium so that $(CHROMIUM) exists, or pass CHROMIUM=/path/to/chromium." >&2; \
		if [ "$${PARLEY_REQUIRE_SERVICES:-0}" = "1" ]; then exit 1; fi; \
		echo "  The browser tests will be skipped." >&2; exit 0; \
	}; \
	if [ -x "$(CHROMIUM)" ]; then \
		echo "browsers: $(CHROMIUM) is installed: $$("$(CHROMIUM)" --version 2>/dev/null)"; \
		exit 0; \
	fi; \
	command -v apt-get >/dev/null 2>&1 || cannot "$(CHROMIUM) is missing and apt-get is not available on this machine."; \
	if [ "$$(id -u)" -eq 0 ]; then SUDO=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else cannot "$(CHROMIUM) is missing, and installing it needs root (sudo without a password): run 'make browsers' as root."; \
	fi; \
	echo "browsers: $(CHROMIUM) is missing: installing Debian's chromium and chromium-driver with apt-get"; \
	echo "+ $${SUDO:+$$SUDO }apt-get update"; \
	$$SUDO apt-get update || cannot "apt-get update failed."; \
	echo "+ $${SUDO:+$$SUDO }apt-get install -y --no-install-recommends chromium chromium-driver"; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver \
		|| cannot "apt-get could not install chromium."; \
	[ -x "$(CHROMIUM)" ] || cannot "apt-get finished but $(CHROMIUM) does not exist."; \
	echo "browsers: installed $$("$(CHROMIUM)" --version 2>/dev/null)"

## Regenerate schema/*.json after changing engine/packs/schema.py.
schema: $(STAMP_RUN)
	$(BIN)/parley schema --write

bench: $(STAMP_DEV)
	$(BIN)/python benchmarks/loader.py
	$(BIN)/python benchmarks/nlu.py
	$(BIN)/python benchmarks/frustration.py
	$(BIN)/python benchmarks/dialogue.py
	$(BIN)/python benchmarks/actions.py
	$(BIN)/python benchmarks/server.py
	$(BIN)/python benchmarks/channels.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache models reports
