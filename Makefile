# Everything a fresh machine needs: `make run` serves the example app,
# `make test` installs and runs the whole suite (lint, types, tests, browser).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000
# `make run EXAMPLE=fastapi` serves the FastAPI example instead of the Quart one.
EXAMPLE ?= quart
EXAMPLE_MODULE := $(if $(filter fastapi,$(EXAMPLE)),fastapi_app:app,app:app)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SOURCES := quart_appcache tests benchmarks examples

.PHONY: install chromium nginx redis wrk lint test run bench bench-smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium, for the Playwright tests (never `playwright install`).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

# Debian's nginx, the caching reverse proxy the verify tests put in front of the app.
nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
	  echo "installing Debian's nginx"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nginx; }

# Debian's redis-server, the write queue's store for apps on several hosts; the
# tests start their own on a free port.
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing Debian's redis-server"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server; }

lint: install
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/mypy --strict quart_appcache

test: install chromium nginx redis lint
	$(BIN)/pytest

run: install
	cd examples && ../$(BIN)/hypercorn --bind $(HOST):$(PORT) $(EXAMPLE_MODULE)

# wrk drives the serving rows; without it they fall back to a small httpx load.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "installing Debian's wrk"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk; }

bench: install wrk
	$(BIN)/python -m benchmarks

bench-smoke: install
	$(BIN)/python -m benchmarks --smoke

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
