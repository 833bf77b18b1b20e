# The two commands of the README's quick start: `make demo` and `make test`.
# Both create the virtual environment and install what they need.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEMO_HOME ?= guichet-demo
TIERS ?=

.PHONY: demo test install install-dev lint typecheck clean

# EXTRAS: optional parts installed with the test tools (CI: `make install-dev EXTRAS=spark,analysis`).
EXTRAS ?=
comma := ,

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found (Python 3.11 is required)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.core: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e .
	@touch $@

# The test tools in one pip run with the core (not after it). The bytecode is compiled after it on every core
# (pip compiles on one: with every extra, 55 s of user CPU for the install with its compiling, 21 s without);
# it must be there ahead, not written at first import: a sandbox's processes read the environment read-only,
# and some machines set PYTHONDONTWRITEBYTECODE. The installed packages' own test folders are left out (a quarter
# of their code, never imported here: 16.5 s instead of 22.7 s on 2 cores).
$(VENV)/.dev: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q --no-compile -e '.[dev$(if $(EXTRAS),$(comma)$(EXTRAS))]'
	$(PY) -m compileall -q -j 0 -x '/tests?/' $(VENV)/lib > /dev/null || echo "make: some installed modules could not be compiled ahead (they compile at import)"
	@if command -v npm >/dev/null 2>&1; then npm ci --silent --no-audit --no-fund; else echo "make: npm not found: the browser tier will be skipped"; fi
	@touch $(VENV)/.core $@

install: $(VENV)/.core
install-dev: $(VENV)/.dev

demo: $(VENV)/.core
	rm -rf $(DEMO_HOME) $(DEMO_HOME)-custodian $(DEMO_HOME)-producer
	$(VENV)/bin/guichet demo --home $(DEMO_HOME)

# `make test` runs every tier; `make test TIERS="unit spec"` some of them (GUICHET_TEST_WORKERS: how many processes).
test: $(VENV)/.dev
	$(PY) scripts/test_tiers.py $(TIERS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check src tests scripts benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

clean:
	rm -rf $(VENV) build $(DEMO_HOME) $(DEMO_HOME)-custodian $(DEMO_HOME)-producer
