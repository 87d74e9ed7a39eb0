# WSOP Automation Hub — `make run` serves it, `make test` proves it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080
# The production-mode half of the suite runs against these (see README: "Tests").
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/wsop_hub
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

.PHONY: test-deps install run worker migrate test test-embedded test-production lint bench soak clean

$(BIN)/.installed: requirements.txt requirements-test.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt -r requirements-test.txt
	@touch $@

install: $(BIN)/.installed

# The real Nexrender server the integration tests run on loopback (pinned by package-lock.json).
NEXRENDER_DIR := tests/nexrender
$(NEXRENDER_DIR)/node_modules/.installed: $(NEXRENDER_DIR)/package-lock.json
	cd $(NEXRENDER_DIR) && npm ci --no-audit --no-fund
	@touch $@

test-deps: install $(NEXRENDER_DIR)/node_modules/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

## Set up everything and serve web + render workers + ops workers (schedules), supervised, on
## http://$(HOST):$(PORT)
run: migrate
	@$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py runhub --host $(HOST) --port $(PORT)

## One more render worker cluster beside `make run`
worker: install
	$(BIN)/python manage.py runworkers render

## The whole suite: lint, then every test in the embedded mode (SQLite + ORM broker) and in
## production mode (PostgreSQL + Redis).
test: lint test-embedded test-production

lint: install
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run

test-embedded: test-deps
	env -u DATABASE_URL -u REDIS_URL HUB_TEST_REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS)

test-production: test-deps
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) SECRET_KEY=test-only-secret \
		$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf var/test_hub.sqlite3* .pytest_cache

## Queue benchmarks (JSON on stdout): embedded mode here; production mode with the TEST_* URLs.
bench: install
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python -m bench.queue_latency
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python -m bench.queue_throughput
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) SECRET_KEY=bench-only-secret \
		$(BIN)/python -m bench.queue_latency
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) SECRET_KEY=bench-only-secret \
		$(BIN)/python -m bench.queue_throughput

## A broadcast day at 10x peak with faults (bench/broadcast_day.py; JSON on stdout). Embedded mode
## by default; SOAK_MODE=production runs private PostgreSQL and Redis servers of its own.
## SOAK_ARGS="--minutes 10" for a quick run.
SOAK_MODE ?= embedded
SOAK_ARGS ?=
soak: test-deps
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python -m bench.broadcast_day --mode $(SOAK_MODE) $(SOAK_ARGS)
