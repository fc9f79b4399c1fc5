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

.PHONY: run test lint bench install clean

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
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
