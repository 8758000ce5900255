# Docker, Measured: the entry points (fixed by DESIGN.md).
#   make site      build the site into site/ (mkdocs build --strict); fails on a false claim
#   make serve     live preview; a false claim shows in the page, the server stays up
#   make check     the tests that need no engine, no browser and no network (< 1 min, venv only)
#   make test      set everything up on a fresh machine, then run every test: lint, the quick
#                  tier with the clock a year ahead (faketime), then the engine and browser tiers
#   make engine    make sure a Docker engine answers (as root, where none does: installs a
#                  current one from Debian unstable and starts two, one per image store)
#   make standins  build the offline stand-in base images into the engine(s)
#   make bench     speed ratios (BENCH_ARGS="--quick --cold both_stores" for a part; the cold
#                  row both_platforms, amd64 and arm64 at once, only with --cold both_platforms)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The engine `make engine` installs (scripts/engine.sh): its docker CLI, dockerd,
# containerd and docker-proxy come first on PATH for every target and test. Its buildx:
# the docker CLI looks for plugins in fixed directories only (~/.docker/cli-plugins,
# config.json's cliPluginsExtraDirs, /usr/local/lib/docker/cli-plugins, ...), not in
# any environment variable, so scripts/engine.sh links it into
# /usr/local/lib/docker/cli-plugins; a user's ~/.docker stays as it is.
LIVEDOCS_ENGINE_PREFIX ?= /opt/livedocs/docker
export LIVEDOCS_ENGINE_PREFIX
export PATH := $(LIVEDOCS_ENGINE_PREFIX)/usr/bin:$(LIVEDOCS_ENGINE_PREFIX)/usr/sbin:$(PATH)

.PHONY: site serve check test engine standins browser faketime bench lint clean venv

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

engine:
	@bash scripts/engine.sh

standins: $(STAMP) engine
	@bash scripts/standins.sh $(BIN)/python

browser:
	@bash scripts/chromium.sh
	@bash scripts/axe.sh

faketime:
	@bash scripts/debian-packages.sh faketime faketime

bench: $(STAMP) engine standins
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

site: $(STAMP)
	$(BIN)/mkdocs build --strict

serve: $(STAMP)
	$(BIN)/mkdocs serve

lint: $(STAMP)
	$(BIN)/ruff check macros tests scripts
	$(BIN)/ruff format --check macros tests scripts
	$(BIN)/shellcheck scripts/*.sh

# The tiers are pytest markers (pyproject.toml); a test in the quick tier that opens an engine
# socket fails (tests/conftest.py).
QUICK := not engine and not browser and not network

check: $(STAMP)
	$(BIN)/pytest -m "$(QUICK)"

test: $(STAMP) engine standins browser faketime lint
	faketime '+1 year' $(BIN)/pytest -m "$(QUICK)"
	$(BIN)/pytest -m "not ($(QUICK))"

clean:
	rm -rf site .pytest_cache
