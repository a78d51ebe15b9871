# One command sets up and tests on a fresh machine: `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup lint typecheck test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[infra,ingest,session-writer,dev]"
	touch $@

setup: $(STAMP)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy against pulumi_aws's typed argument classes is our stand-in for the
# provider's own check that a preview would run.
typecheck: setup
	$(BIN)/mypy components __main__.py runtime tests bench

test: lint typecheck
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# Benchmarks print figures; they are not tests. wrk is the load generator.
.PHONY: bench-ingest bench-validation
bench-ingest: setup
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.ingest

bench-validation: setup
	$(BIN)/python -m bench.validation
