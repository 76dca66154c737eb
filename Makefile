# SignFlow: `make run` sets up and serves the app, `make test` sets up and runs the tests.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test check system-deps venv lock migrate seed serve worker beat messages lint format bench bench-load clean
LOCK_FLAGS = --universal --python-version 3.11 --generate-hashes --quiet \
  --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

# The venv installs the pinned, hashed versions of requirements-dev.lock, then SignFlow itself
# without resolving again. While pyproject.toml names a package the lock lacks (someone added it
# and `make lock` has not run yet), the last step installs what is missing and says so.
$(STAMP): pyproject.toml requirements-dev.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet --require-hashes -r requirements-dev.lock
	$(PIP) install --quiet --no-deps -e .
	@$(PY) scripts/lock_check.py requirements-dev.lock || $(PIP) install --quiet -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

## Pin every dependency (main: requirements.lock, for the image; main + dev:
## requirements-dev.lock) with hashes, keeping current pins where pyproject.toml allows them.
## `make lock UPGRADE=1` moves every pin to the newest allowed version.
lock: venv
	$(VENV)/bin/uv pip compile pyproject.toml $(LOCK_FLAGS) -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev -c requirements.lock $(LOCK_FLAGS) \
	  -o requirements-dev.lock

## Debian packages the app and the tests need (WeasyPrint, fonts, poppler, qpdf, Chromium).
system-deps:
	@bash scripts/system-deps.sh

## Set up (venv, migrations, demo data) and serve on http://127.0.0.1:8000 with SQLite,
## in-process tasks and the development outbox.
run: export DEBUG ?= 1
run: system-deps venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo ""
	@echo "SignFlow runs on http://127.0.0.1:8000  (outbox: http://127.0.0.1:8000/dev/outbox/)"
	$(PY) manage.py runserver 127.0.0.1:8000

## Set up and run the whole suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set), one
## process per core (pytest-xdist; each has its own test database, Redis db and var folder, see
## signflow/settings_test.py). A test file stays on one process (--dist loadfile). TEST_JOBS=1
## runs it in one process.
TEST_JOBS ?= auto
test: system-deps venv
	$(VENV)/bin/pytest -p no:cacheprovider -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS)

check: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	DEBUG=1 DATABASE_URL=sqlite:///$(CURDIR)/var/check.sqlite3 $(PY) manage.py makemigrations --check --dry-run

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Regenerate and compile the French and English catalogs: the project's own strings (signflow/,
## templates/) in locale/, each app's in <app>/locale.
APPS := crm documents signing verification webhooks api bulk
messages: venv
	$(VENV)/bin/django-admin makemessages -l fr -l en --no-obsolete \
	  $(foreach dir,$(APPS) tests bench scripts static var deploy .venv,--ignore=$(dir)/*)
	for dir in $(APPS); do \
	  (cd $$dir && ../$(VENV)/bin/django-admin makemessages -l fr -l en --no-obsolete) || exit 1; \
	done
	$(VENV)/bin/django-admin compilemessages $(foreach dir,$(APPS) $(VENV) var,--ignore=$(dir))
	for dir in $(APPS); do (cd $$dir && ../$(VENV)/bin/django-admin compilemessages) || exit 1; done

## One worker on every queue (development). Production runs one worker per group of queues:
## `make worker QUEUES=messages` and `make worker QUEUES=sealing,previews,webhooks,bulk`.
QUEUES := messages,sealing,previews,webhooks,bulk
worker: venv
	$(VENV)/bin/celery -A signflow worker -l info -Q $(QUEUES)

beat: venv
	$(VENV)/bin/celery -A signflow beat -l info

## Every benchmark, then one table of their BENCH lines (project, floor, ratio, target,
## PASS/MISS): bench/run_all.py. The ones that need a PostgreSQL database of their own run
## when BENCH_DATABASE_URL names one, and those that also empty a Redis database when
## BENCH_REDIS_URL does (`make bench BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/sf_bench
## BENCH_REDIS_URL=redis://127.0.0.1:6379/9`). The load run (about 12 minutes) is its own
## target, `make bench-load`; the cost bench runs as its docstring says.
bench: venv
	$(PY) bench/run_all.py

bench-load: venv
	$(PY) bench/bench_load.py

clean:
	rm -rf var/ .pytest_cache .mypy_cache .ruff_cache
