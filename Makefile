# Two commands do everything on a fresh machine with Python 3.11+ and make:
#   make run    the whole system on the embedded broker and database, fed with a sample platform
#   make test   lint, types, and the whole test suite against the real local broker and database
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint typecheck docs docs-check up infra-up infra-down bench clean lock

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/mentormesh demo

# Most tests wait on real processes, the broker and the database rather than compute:
# several workers (each with its own local stack) share two cores well. Tests marked
# `alone` run afterwards, by themselves.
TEST_WORKERS ?= 3

test: lint
	$(BIN)/pytest -n $(TEST_WORKERS) -m "not alone"
	$(BIN)/pytest -m alone

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

docs: install
	$(BIN)/mentormesh docs

up: install
	$(BIN)/mentormesh up

infra-up: install
	$(BIN)/mentormesh infra up

infra-down: install
	$(BIN)/mentormesh infra down

bench: install
	$(BIN)/python bench/matcher.py
	$(BIN)/python bench/network.py
	$(BIN)/python bench/network_quality.py
	$(BIN)/python bench/notifier.py
	$(BIN)/python bench/scaling.py
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/broker_storage.py
	$(BIN)/python bench/database_time.py

# The container image's pinned dependencies, with hashes (needs the package index).
lock: install
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url \
		--no-emit-find-links --output-file=deploy/requirements.lock pyproject.toml
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url \
		--no-emit-find-links --allow-unsafe --output-file=deploy/build-requirements.lock \
		deploy/build-requirements.in

clean:
	rm -rf $(VENV) .mentormesh out .pytest_cache .mypy_cache .ruff_cache .hypothesis
