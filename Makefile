# GrokWeb: `make run` and `make test` each work alone on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SIM_KEY := sim-demo-key-grokweb

.PHONY: setup run test lint messages migrate clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

migrate: setup
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py seed_demo
	@echo "Starting web (http://127.0.0.1:8000), worker, beat$(if $(GATEWAY_BASE_URL),, and the gateway simulator on 127.0.0.1:8900) — Ctrl-C stops them all."
	$(BIN)/honcho -f Procfile.dev start $(if $(GATEWAY_BASE_URL),web worker beat,)

test: setup
	@mkdir -p var
	$(BIN)/pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py check

messages: setup
	$(BIN)/python manage.py makemessages -l zh_Hans --ignore '.venv/*' --ignore 'var/*'
	$(BIN)/python manage.py compilemessages -l zh_Hans --ignore '.venv/*'

clean:
	rm -rf var/broker var/celerybeat-schedule*
