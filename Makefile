# Docker, Measured: the entry points (fixed by DESIGN.md).
#   make site      build the site into site/ (mkdocs build --strict); fails on a false claim
#   make serve     live preview; a false claim shows in the page, the server stays up
#   make test      set everything up on a fresh machine, then run the tests
#   make engine    make sure a Docker engine answers (installs and starts one as root)
#   make standins  build the offline stand-in base images into the engine

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed


.PHONY: site serve test engine standins browser bench lint clean venv

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

bench: $(STAMP) engine standins
	$(BIN)/python scripts/bench.py

site: $(STAMP)
	$(BIN)/mkdocs build --strict

serve: $(STAMP)
	$(BIN)/mkdocs serve

lint: $(STAMP)
	$(BIN)/ruff check macros tests
	$(BIN)/ruff format --check macros tests

test: $(STAMP) engine standins browser
	$(BIN)/ruff check macros tests
	$(BIN)/pytest

clean:
	rm -rf site .pytest_cache
