# Two commands do all set-up on a fresh machine, and each is idempotent:
#   make run    venv + install + serve the app on 127.0.0.1:8000 with the shipped weights
#   make test   venv + dev install + MNIST + system packages the tests need + pytest
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# make run PORT=8080, or the server's own settings, as featuremaps serve reads them
HOST   ?= $(or $(FEATUREMAPS_HOST),127.0.0.1)
PORT   ?= $(or $(FEATUREMAPS_PORT),8000)
PYTEST_ARGS ?=

.PHONY: run test test-fast test-docker bench data lint lock check clean

$(BIN)/python:
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

run: $(VENV)/.installed
	$(BIN)/featuremaps serve --host $(HOST) --port $(PORT)

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
