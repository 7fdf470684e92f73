# Two commands do all set-up on a fresh machine:
#   make preview   offline preview of a stack (default dev) with the policy pack enforced
#   make test      every test, against a real PostgreSQL, moto's server and the real pack process
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STACK  ?= dev
# A stack's own policy config, when it has one (policies/prod-config.json makes Multi-AZ
# mandatory for prod), is applied as `pulumi preview --policy-pack-config` would apply it.
POLICY_CONFIG ?= $(wildcard policies/$(STACK)-config.json)
PREVIEW_ARGS ?=

REQUIREMENTS := requirements.txt requirements-dev.txt constraints.txt \
                policies/requirements.txt lambda_src/requirements.txt

.PHONY: setup postgres preview test bench lint format

$(VENV)/.installed: $(REQUIREMENTS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check \
		-r requirements-dev.txt -c constraints.txt
	touch $@

setup: $(VENV)/.installed

postgres:
	scripts/ensure-postgres.sh

preview: setup
	$(PY) -m tools.preview --stack $(STACK) \
		$(if $(POLICY_CONFIG),--policy-pack-config $(POLICY_CONFIG)) $(PREVIEW_ARGS)

test: setup postgres
	$(PY) -m pytest

bench: setup postgres
	$(PY) -m bench

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
