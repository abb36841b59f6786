# orderflow: every target works on a fresh machine; the first one that needs it builds .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run test lint typecheck unit bench clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade 'pip<26.3'  # chalice 1.34 requires pip<26.3
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

## Process the repo's own sample files through the whole pipeline on the embedded emulator.
run: $(STAMP)
	$(BIN)/orders run samples/*

## Lint, type check and every test.
test: lint typecheck
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	# W3002: DefinitionS3Location is a local path on purpose; `aws cloudformation package` uploads it
	$(BIN)/cfn-lint --ignore-checks W3002 -- infra/stack.yaml

typecheck: $(STAMP)
	$(BIN)/mypy

## Speed, memory and modelled cost on a generated file (ORDERS=100000 by default).
ORDERS ?= 100000
bench: $(STAMP)
	$(BIN)/python bench/pipeline_bench.py --orders $(ORDERS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
