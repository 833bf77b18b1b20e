# The two commands of the README's quick start: `make demo` and `make test`.
# Both create the virtual environment and install what they need.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEMO_HOME ?= guichet-demo
TIERS ?=

.PHONY: demo test install install-dev lint typecheck clean

$(VENV)/.core: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found (Python 3.11 is required)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	@touch $@

$(VENV)/.dev: $(VENV)/.core
	$(PIP) install -q -e '.[dev]'
	@if command -v npm >/dev/null 2>&1; then npm ci --silent --no-audit --no-fund; else echo "make: npm not found: the browser tier will be skipped"; fi
	@touch $@

install: $(VENV)/.core
install-dev: $(VENV)/.dev

demo: $(VENV)/.core
	rm -rf $(DEMO_HOME) $(DEMO_HOME)-custodian $(DEMO_HOME)-producer
	$(VENV)/bin/guichet demo --home $(DEMO_HOME)

# `make test` runs every tier; `make test TIERS="unit spec"` some of them (GUICHET_TEST_WORKERS: processes per tier).
test: $(VENV)/.dev
	$(PY) scripts/test_tiers.py $(TIERS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check src tests scripts benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

clean:
	rm -rf $(VENV) build $(DEMO_HOME) $(DEMO_HOME)-custodian $(DEMO_HOME)-producer
