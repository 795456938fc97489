# The two commands of the quick start. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench-ingest bench-alerts bench-report clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/citybrain demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest

# The tests that need neither the broker nor the database (under a minute).
test-fast: $(STAMP)
	$(BIN)/pytest -m "not integration"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench-ingest: $(STAMP)
	$(BIN)/python -m bench.ingest

bench-alerts: $(STAMP)
	$(BIN)/python -m bench.alerts

bench-report: $(STAMP)
	$(BIN)/python -m bench.report

clean:
	rm -rf $(VENV) .citybrain .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
