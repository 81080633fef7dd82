# The two commands a new engineer needs: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PY := .venv/bin/python
.DEFAULT_GOAL := help

.PHONY: help deps run up down test lint format check-catalogue

help:
	@echo "make run    start Kafka, PostgreSQL and the four services in the foreground (Ctrl-C stops)"
	@echo "make up     the same in the background (writes .run/stack.env); make down stops it"
	@echo "make test   lint, then the whole test suite against a real Kafka and PostgreSQL"

deps:
	@./deploy/bootstrap.sh

run: deps
	@$(PY) -m deploy.stack run

up: deps
	@$(PY) -m deploy.stack up

down:
	@if [ -x $(PY) ]; then $(PY) -m deploy.stack down; else echo "nothing to stop"; fi

lint: deps
	@echo "==> ruff"
	@.venv/bin/ruff check services deploy tests bench clients
	@.venv/bin/ruff format --check services deploy tests bench clients
	@echo "==> mypy"
	@.venv/bin/mypy

format: deps
	@.venv/bin/ruff format services deploy tests bench clients
	@.venv/bin/ruff check --fix services deploy tests bench clients

check-catalogue: deps
	@.venv/bin/exchange catalogue check

test: deps lint
	@echo "==> pytest (starts its own Kafka and PostgreSQL; stops them at the end)"
	@$(PY) -m pytest

# Throughput, latency and CPU per record against baselines measured in the same run (bench/README.md).
# BENCH_QUICK=1 for a short check; BENCH_S2_SECONDS=600 BENCH_S3_RECORDS=1000000 for the full target run.
.PHONY: bench
bench:
	@./deploy/bootstrap.sh
	@$(PY) -m bench
