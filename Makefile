# Two commands do all set-up on a fresh machine:
#   make preview   offline preview of a stack (default dev) with the policy pack enforced
#   make test      every test, against a real PostgreSQL, moto's server and the real pack process
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STACK  ?= dev
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
	$(PY) -m tools.preview --stack $(STACK) $(PREVIEW_ARGS)

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
