# The two commands of the README:
#   make run   set up and run the app on the embedded default (SQLite, local files, in-process tasks)
#   make test  set up and run the test suite (DATABASE_URL selects PostgreSQL; SQLite otherwise)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The bundled model (models/NAME.keras with its card, LiteRT export and quality-gate statistics):
# the newest there; `make run` registers it if new and makes it the active version.
BUNDLED_MODEL ?= $(lastword $(sort $(wildcard models/*.keras)))

.PHONY: run test lint install install-dev browser interop-tools

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/python manage.py migrate --noinput
	$(if $(BUNDLED_MODEL),$(BIN)/python manage.py register_model $(BUNDLED_MODEL) --if-new --activate,@echo "No bundled model in models/")
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# Headless Chromium for the browser test, from Debian's packages (root only; the test skips without it).
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# WeasyPrint (the PDF reports) needs Pango and a font; pdftotext (poppler-utils) reads the reports and
# dciodvfy (dicom3tools) checks the DICOM exports in the tests. From Debian's packages (root only; the
# tests that need the two tools skip without them, except in CI).
interop-tools:
	@if { ! command -v pdftotext >/dev/null || ! command -v dciodvfy >/dev/null \
		|| ! ldconfig -p | grep -q libpangoft2-1.0; } \
		&& [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils dicom3tools \
			libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core >/dev/null; \
	fi

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: install-dev browser interop-tools
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=skinportal.settings.test
	$(BIN)/pytest $(PYTEST_ARGS)
