# The two commands of the quick start. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo console test test-fast lint i18n bench-ingest bench-alerts bench-report clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/citybrain demo

# The API and the browser console on the demo's data (http://127.0.0.1:8600/).
console: $(STAMP)
	$(BIN)/citybrain api

# Test processes (pytest-xdist; 0 runs the tests in this process). Tests of one file stay
# together in one process: their module fixtures (a browser, a server) start once.
TEST_WORKERS ?= 2

test: $(STAMP)
	./tools/system-packages
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

# The tests that need neither the broker nor the database (under a minute).
test-fast: $(STAMP)
	$(BIN)/pytest -m "not integration"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# Extract the texts from the code into each package's catalogues (locale/*/LC_MESSAGES/
# messages.po), keep the translations still used, compile the .mo files; then list what
# is left to translate (the test suite fails on the same list).
i18n: $(STAMP)
	$(BIN)/python -m citybrain.kernel.catalogues update

bench-ingest: $(STAMP)
	$(BIN)/python -m bench.ingest

bench-alerts: $(STAMP)
	$(BIN)/python -m bench.alerts

bench-report: $(STAMP)
	$(BIN)/python -m bench.report

clean:
	rm -rf $(VENV) .citybrain .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
