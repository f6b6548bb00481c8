# Two commands do all set-up on a fresh machine, and each is idempotent:
#   make run    venv + install + serve the app with the shipped weights, on 127.0.0.1:8000
#               unless HOST=/PORT= or FEATUREMAPS_HOST/_PORT say otherwise
#   make test   venv + dev install + MNIST + system packages the tests need + pytest
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test test-fast test-docker bench data lint lock check clean

$(BIN)/python:
	bash scripts/venv-deps.sh $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# re-install only when the project's metadata or the lock changed; the run-time packages come
# at the exact releases of requirements.lock, as in the Docker image
$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c requirements.lock -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml requirements.lock $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

# `make run HOST=0.0.0.0 PORT=8080`; else the server's own settings (FEATUREMAPS_HOST and
# _PORT, 127.0.0.1:8000 unset). HOST and PORT from the environment are not taken: shells and
# hosting platforms export them for their own ends.
ASKED = $(if $(and $(filter command line,$(origin $(1))),$($(1))),$(2) $($(1)))
run: $(VENV)/.installed
	$(BIN)/featuremaps serve $(call ASKED,HOST,--host) $(call ASKED,PORT,--port)

data: $(VENV)/.installed
	$(BIN)/featuremaps data fetch

test: $(VENV)/.installed-dev data
	bash scripts/system-deps.sh
	$(BIN)/python -m pytest -m "not docker" $(PYTEST_ARGS)

test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not slow and not browser and not docker" $(PYTEST_ARGS)

test-docker: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m docker tests/docker $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev data
	$(BIN)/python -m bench

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check app tests bench scripts
	$(BIN)/mypy

# rewrite requirements.lock from pyproject.toml, resolved afresh in a throw-away venv
lock:
	$(PYTHON) scripts/lock.py

check: lint test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis tests/artifacts
