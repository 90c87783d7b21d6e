# Sanlun CRM. `make up` installs and starts everything; `make test` installs and runs every test.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: install up test lint format openapi check-openapi bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,lint]"
	touch $@

## Start the gateway and the four services (embedded PostgreSQL unless SANLUN_DATABASE_URL is set).
up: install
	$(BIN)/sanlun up

## Run every test: unit, integration (real Postgres) and end-to-end (real processes).
test: install
	$(BIN)/pytest

## Lint, import order, formatting, strict types (kernel and domain packages), import contracts.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy sanlun/kernel $(wildcard services/*/domain)
	$(BIN)/lint-imports

## Apply ruff's formatting and safe fixes.
format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Regenerate the committed OpenAPI specs from the code.
openapi: install
	$(BIN)/sanlun openapi export

check-openapi: install
	$(BIN)/sanlun openapi export --check

clean:
	rm -rf $(VENV) .pytest_cache
