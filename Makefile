# Two commands set everything up on a fresh machine: `make sandbox` and `make test`.
# The venvs run the functions' runtime Python (template.yaml: python3.13) when the machine has it,
# on PATH or through pyenv, else the closest one (3.11 is the floor: pyproject.toml), else python3.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell python3 tests/deployed/layer.py python || echo python3)
endif
VENV ?= .venv
PY := $(VENV)/bin/python
# A venv made by another interpreter than PYTHON is made again.
python_version = $(shell $(1) -c 'import sys; print(sys.version.split()[0])' 2>/dev/null)
PYTHON_VERSION := $(call python_version,$(PYTHON))
FUNCTIONS := $(wildcard functions/*/app.py)
# checkov and aws-sam-translator pin boto3/pydantic versions the product cannot use: own venv.
SECURITY_VENV ?= .venv-security
export SECURITY_VENV

.PHONY: sandbox test lint typecheck unit integration e2e cfn-lint security security-tools faults explore faults-exhaustive explore-stack deployed bench build clean FORCE

$(VENV)/.installed: requirements-dev.txt layers/rollout_core/requirements.txt \
		$(if $(filter $(PYTHON_VERSION),$(call python_version,$(PY))),,FORCE)
	$(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(SECURITY_VENV)/.installed: requirements-security.txt \
		$(if $(filter $(PYTHON_VERSION),$(call python_version,$(SECURITY_VENV)/bin/python)),,FORCE)
	$(PYTHON) -m venv --clear $(SECURITY_VENV)
	$(SECURITY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SECURITY_VENV)/bin/python -m pip install --quiet -r requirements-security.txt
	touch $@

## security-tools: the venv with checkov and aws-sam-translator (tests/security uses it)
security-tools: $(SECURITY_VENV)/.installed

## sandbox: rehearse the whole stack on moto (built-in scenarios; no AWS account)
sandbox: $(VENV)/.installed
	$(PY) -m sandbox run

## test: ruff, mypy, cfn-lint on template.yaml, then pytest (unit, moto integration, sandbox e2e,
##       fault injection, security: cfn-lint and checkov on the template and its SAM translation, IAM coverage,
##       deployed: the layer installed alone for the runtime's Python, every function started on it, its size)
##       Every CPU runs tests (pytest-xdist); the IAM test reads what they recorded, in a session of its own after them.
IAM_RECORD := .pytest-iam-record
test: lint typecheck cfn-lint $(SECURITY_VENV)/.installed
	rm -rf $(IAM_RECORD)
	IAM_RECORD_DIR=$(IAM_RECORD) $(PY) -m pytest -n auto --dist loadfile -m "not iam_coverage" \
		--durations=12  # the slowest tests, so a run shows where the time budget goes
	IAM_RECORDED=$(IAM_RECORD) $(PY) -m pytest -m iam_coverage tests/security/test_iam_coverage.py

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Each function is its own `app` module, so each is checked on its own.
typecheck: $(VENV)/.installed
	$(PY) -m mypy layers/rollout_core/rollout_core sandbox tests rollout_client bench
	for fn in $(FUNCTIONS); do $(PY) -m mypy $$fn || exit 1; done

cfn-lint: $(VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit
integration: $(VENV)/.installed
	$(PY) -m pytest tests/integration
e2e: $(VENV)/.installed
	$(PY) -m pytest tests/e2e
faults: $(VENV)/.installed
	$(PY) -m pytest tests/faults

## explore: the long explorations, not part of `make test` (each is a target of its own, listed in EXPLORE)
EXPLORE ?= faults-exhaustive explore-stack
explore: $(EXPLORE)

## faults-exhaustive: the crash matrix with every fault kind at every call of every scenario (FAULTS_EVERY_K=1)
faults-exhaustive: $(VENV)/.installed
	FAULTS_EVERY_K=1 $(PY) -m pytest tests/faults/test_crash_matrix.py
## deployed: the layer as sam build makes it, every function started on it under the runtime's Python
deployed: $(VENV)/.installed
	$(PY) -m pytest tests/deployed
## security: linters on template.yaml and its translation, canaries, skips, baseline, IAM coverage
security: $(VENV)/.installed $(SECURITY_VENV)/.installed
	$(PY) -m pytest tests/security

## explore-stack: the stateful exploration of the whole stack (tests/explore), longer than in `make test`:
##                EXPLORE_EXAMPLES examples per seed (default 50), EXPLORE_STEPS rules each (default 20)
explore-stack: $(VENV)/.installed $(SECURITY_VENV)/.installed
	EXPLORE_EXAMPLES=$${EXPLORE_EXAMPLES:-50} EXPLORE_STEPS=$${EXPLORE_STEPS:-20} $(PY) -m pytest tests/explore -s -q

## bench: cold start, controller tick scale, alarm reaction; prints a table, writes bench-results.json
bench: $(VENV)/.installed
	$(PY) -m bench

## build: sam build (needs the SAM CLI and python3.13 on PATH)
build:
	sam build

FORCE:

clean:
	rm -rf $(VENV) $(SECURITY_VENV) .layer-cache .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
