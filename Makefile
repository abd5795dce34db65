# Concord: `make run` serves the demo network, `make test` runs the whole suite.
# Needs only Python 3.11 and make; everything else is installed into .venv from uv.lock.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help install run test test-future lint typecheck check bench stop clean static smoke

help:
	@echo "make run     install, migrate, load the demo network, serve web + worker + beat"
	@echo "make test    ruff, bandit, mypy, migrations check and the pytest suite on real PostgreSQL and Redis"
	@echo "make typecheck  mypy with django-stubs over the apps (strict for erp, inventory, orders)"
	@echo "make test-future  the pytest suite again with every process's clock moved CLOCK_SHIFT_DAYS (400) ahead"
	@echo "make bench   seed bench items, print the pgbench baseline and W2/W3 against their floors"
	@echo "make stop    stop the embedded PostgreSQL and Redis"
	@echo "make static  refresh htmx, Alpine.js and Chart.js under static/vendor from the npm registry"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --all-groups --quiet
	@touch $@

.env:
	cp .env.example .env

install: $(VENV)/.installed .env

run: install
	$(PY) -m erp.devserver

lint: install
	$(VENV)/bin/ruff check .

# mypy over the apps, as configured in pyproject.toml; incremental, its cache in .mypy_cache. The django-stubs
# plugin imports the settings, and settings with no server URLs would allocate the embedded servers' ports
# under var/: placeholder URLs stand in (mypy never connects), and a placeholder SECRET_KEY when none is set,
# so the check needs neither servers nor secrets.
MYPY = DATABASE_URL=postgres://typecheck@127.0.0.1:1/typecheck REDIS_URL=redis://127.0.0.1:1/0 \
	SECRET_KEY="$${SECRET_KEY:-typecheck-only}" $(VENV)/bin/mypy

typecheck: install
	$(MYPY)

check: install
	$(PY) -m erp.embedded exec -- $(PY) manage.py makemigrations --check --dry-run

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/bandit -q -c pyproject.toml -r . -ll
	$(MYPY)
	$(PY) -m erp.embedded exec -- bash -c '$(PY) manage.py makemigrations --check --dry-run && $(VENV)/bin/pytest $(PYTEST_ARGS)'

# The suite again, on the date CI may run it: libfaketime (a dev dependency) moves the clock of every process
# the run starts 400 days ahead, the embedded PostgreSQL and Redis included, so Python and the database agree
# on the day. Private servers under var/future: a server already running on the real clock is never reused.
# File times stay real (NO_FAKE_STAT): gunicorn's arbiter compares a worker file's mtime with the monotonic
# clock, and shifted mtimes made it time its workers out.
CLOCK_SHIFT_DAYS ?= 400
test-future: install
	@lib=$$(ls $(VENV)/lib/python3.11/site-packages/libfaketime/vendor/libfaketime/src/libfaketime.so.1) && \
	echo "--- pytest with the clock moved $(CLOCK_SHIFT_DAYS) days ahead: $$(FAKETIME=+$(CLOCK_SHIFT_DAYS)d LD_PRELOAD=$$lib date)" && \
	CONCORD_VAR_DIR=$(CURDIR)/var/future CONCORD_CLOCK_SHIFT_DAYS=$(CLOCK_SHIFT_DAYS) CONCORD_CLOCK_SHIFT_FROM=$$(date +%s) \
	FAKETIME=+$(CLOCK_SHIFT_DAYS)d DONT_FAKE_MONOTONIC=1 NO_FAKE_STAT=1 LD_PRELOAD=$$lib \
	$(PY) -m erp.embedded exec -- $(VENV)/bin/pytest $(PYTEST_ARGS)

# The production path: the same suite's smoke subset against servers named by the environment.
smoke: install
	$(VENV)/bin/pytest -m smoke $(PYTEST_ARGS)

# Not part of `make test`: migrates and loads the demo network into the development database (so it
# works from a fresh clone), seeds bench items, then prints the figures of quality-bars.md (pgbench -N
# baseline, W2, W3) with PASS/FAIL per floor. BENCH_ARGS="--skus 2000 ..."
bench: install
	$(PY) -m erp.embedded exec -- bash -c '$(PY) manage.py migrate --no-input -v0 && $(PY) manage.py load_demo >/dev/null && $(PY) manage.py bench $(BENCH_ARGS)'

stop:
	-$(PY) -m erp.embedded stop

static:
	bash scripts/vendor_static.sh

clean: stop
	rm -rf $(VENV) $(TOOLS) var
