# Two commands set everything up on a fresh machine with Python 3.11 and make:
#   make run    venv, install, embedded NATS + SQLite, API + UI + projections (DEMO=1 loads a demo city)
#   make test   venv, install, ruff, mypy --strict, import contracts, unit + integration + e2e tests
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
DEMO   ?=
PYTEST_ARGS ?=
# Test workers: each has its own nats-server and databases; a file's tests stay in one worker (--dist loadfile).
WORKERS ?= 2

.PHONY: run test lint bench install clean drills

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/frontdoor serve --host $(HOST) --port $(PORT) $(if $(DEMO),--demo,)

lint: install
	$(BIN)/ruff check frontdoor events projections tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -n $(WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: install
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.run_all

# Fault drills (issue 14) at full length: the CARE leader killed under writes, PostgreSQL restarted during a
# catch-up, two APIs and two projectors with the active one killed, long Schemathesis runs as every role, and the
# restore drill; then the leader-failover benchmark (ten kills). `make test` runs the same drills in short form.
drills: install
	FRONTDOOR_DRILL_LONG=1 $(BIN)/pytest tests/drills tests/integration/test_backup_restore.py -s $(PYTEST_ARGS)
	$(BIN)/python -m bench.failover

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
