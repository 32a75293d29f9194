# Two commands set everything up on a fresh machine: `make sandbox` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FUNCTIONS := $(wildcard functions/*/app.py)

.PHONY: sandbox test lint typecheck unit integration e2e cfn-lint build clean

$(VENV)/.installed: requirements-dev.txt layers/rollout_core/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## sandbox: rehearse the whole stack on moto (built-in scenarios; no AWS account)
sandbox: $(VENV)/.installed
	$(PY) -m sandbox run

## test: ruff, mypy, cfn-lint on template.yaml, then pytest (unit, moto integration, sandbox e2e)
test: lint typecheck cfn-lint
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Each function is its own `app` module, so each is checked on its own.
typecheck: $(VENV)/.installed
	$(PY) -m mypy layers/rollout_core/rollout_core sandbox tests rollout_client
	for fn in $(FUNCTIONS); do $(PY) -m mypy $$fn || exit 1; done

cfn-lint: $(VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit
integration: $(VENV)/.installed
	$(PY) -m pytest tests/integration
e2e: $(VENV)/.installed
	$(PY) -m pytest tests/e2e

## build: sam build (needs the SAM CLI and python3.13 on PATH)
build:
	sam build

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
