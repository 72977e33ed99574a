# Every target does its own set-up on a fresh clone: a virtualenv in .venv with what it needs.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: quickstart test lint bench

$(VENV)/.dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

$(VENV)/.all: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all]"
	touch $@

# Runs the quickstart: the hosted API when SKYWORK_API_KEY is set, else the local R1V4 server.
quickstart: $(VENV)/.all
	$(PY) examples/quickstart.py

# The test suite, as CI runs it.
test: $(VENV)/.dev
	$(PY) -m pytest

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check r1v4 langchain_r1v4 llama_index_r1v4
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(VENV)/.dev
	$(PY) -m benchmarks
