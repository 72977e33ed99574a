# Every target does its own set-up on a fresh clone. Tools and test dependencies come from the
# committed lock (uv.lock); uv itself is pinned with hashes in .ci/uv.txt.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
# The lowest and newest runs of .ci/run: the oldest Python requires-python admits, and the newest
# one on the machine: pyenv's where it has them (as on every machine of this kind), else whatever
# python3.10 / python3.13 uv finds on PATH. Override on the command line.
PYTHON_LOWEST ?= $(or $(lastword $(sort $(wildcard $(HOME)/.pyenv/versions/3.10.*/bin/python3.10))),3.10)
PYTHON_NEWEST ?= $(or $(lastword $(sort $(wildcard $(HOME)/.pyenv/versions/3.13.*/bin/python3.13))),3.13)

# mypy: the library (pyproject's packages), then the tests one folder per run, as pytest imports
# them ("prepend" import mode): a folder without __init__.py is its own import root, so its modules
# are top-level (two folders' conftest.py would be one module name in a single run) and
# tests/langchain or tests/llama_index taken as a package would shadow the real frameworks; tests/ is
# on the path for the helpers the folders share (pictures, attempts, shapes...). pyproject's
# python_version is the oldest Python the library supports (3.10); the locked environment installs
# only 3.11+ (its langchain-core needs 3.11), so `lint` checks it as 3.11 and `test-lowest` checks
# the floors' environment, the one that really is 3.10, with pyproject's setting.
MYPY_TESTS := '*.py' real tools docs llama_index langchain core cli testing report reliability
define mypy
	$(1)
	for run in $(MYPY_TESTS); do MYPYPATH=tests $(1) tests/$$run || exit 1; done
endef

.PHONY: quickstart test lint docs notebooks notebooks-real bench lock test-lowest test-newest

$(UV): .ci/uv.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --require-hashes -r .ci/uv.txt
	touch $@

# The dev environment, exactly as locked (--frozen: the lock is used as is, never re-resolved).
$(VENV)/.dev: uv.lock pyproject.toml $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --quiet --frozen --extra dev --python $(PYTHON)
	touch $@

# Runs the quickstart: the hosted API when SKYWORK_API_KEY is set, else the local R1V4 server.
quickstart: $(VENV)/.dev
	$(PY) examples/quickstart.py

# The test suite, as CI runs it.
test: $(VENV)/.dev
	$(PY) -m pytest

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check r1v4 langchain_r1v4 llama_index_r1v4
	$(call mypy,$(VENV)/bin/mypy --python-version 3.11)
	$(VENV)/bin/lint-imports

# The documentation site (mkdocs.yml; written to site/), as CI builds it: --strict, so any
# warning fails it: a public name or method without a docstring, a name of r1v4.__all__ or a
# public subpackage on no page, a broken link, anchor or cross-reference, a page not in the nav.
docs: $(VENV)/.dev
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# Execute the notebooks (docs/notebooks, docs/integrations) against the local R1V4 server and
# save them with their outputs: tests/docs fails while what one shows differs from what it does.
notebooks: $(VENV)/.dev
	$(PY) tests/notebooks.py

# The same for the notebook that shows a real model's tokens, against the real tier's llama.cpp
# server (tests/real compares what holds for any tokens). Each run saves other words: run it after
# changing that notebook or what it shows.
notebooks-real: $(VENV)/.dev
	PYTHONPATH=tests $(PY) tests/real/real_notebooks.py

bench: $(VENV)/.dev
	$(PY) -m benchmarks

# Refresh the locks after changing a dependency or its range in pyproject.toml (and once in a while
# to take new releases on purpose): uv.lock for the dev environment, .ci/lowest.txt for the floors.
lock: $(UV)
	$(UV) lock --upgrade
	$(PYTHON) .ci/floors.py > $(TOOLS)/floors.txt
	$(UV) pip compile pyproject.toml --extra dev --quiet --generate-hashes \
		--upgrade --python-version 3.10 --constraint $(TOOLS)/floors.txt --output-file .ci/lowest.txt \
		--exclude-newer "$$($(PYTHON) .ci/floors.py --released)"

# The suite on the lowest versions pyproject.toml allows (the floors of the direct dependencies,
# on the oldest Python), from the committed .ci/lowest.txt. The real-server tier (tests/real)
# runs in the locked run only, where the llama-server build is pinned (and to keep CI short).
test-lowest: $(UV)
	$(PYTHON) .ci/floors.py --check .ci/lowest.txt
	$(UV) venv --quiet --allow-existing --python $(PYTHON_LOWEST) .venv-lowest
	$(UV) pip sync --quiet --python .venv-lowest .ci/lowest.txt
	$(UV) pip install --quiet --python .venv-lowest --no-deps -e .
	$(call mypy,.venv-lowest/bin/mypy --cache-dir .mypy_cache/lowest)
	.venv-lowest/bin/python -m pytest -p no:cacheprovider -m "not real"

# The suite on the newest releases the registry serves today: no lock, on purpose.
test-newest: $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON_NEWEST) .venv-newest
	$(UV) pip install --quiet --python .venv-newest --upgrade --refresh -e ".[dev]"
	.venv-newest/bin/python -m pytest -p no:cacheprovider -m "not real"
