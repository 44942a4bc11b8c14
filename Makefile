# registry-storage: every target sets up what it needs first, so each works on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
AZURITE_VERSION := 3.35.0
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e ".[all]" --group dev
	touch $(STAMP)

$(TOOLS)/node_modules/.bin/azurite-blob:
	mkdir -p $(TOOLS)
	cd $(TOOLS) && npm install --silent --no-audit --no-fund --prefix . azurite@$(AZURITE_VERSION)

## The real registry (distribution 2.8) and skopeo for the interop tests, from Debian's packages (run as root in CI).
$(TOOLS)/.registry-tools:
	@if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y docker-registry skopeo; \
	fi
	mkdir -p $(TOOLS) && touch $@

setup: $(STAMP) $(TOOLS)/node_modules/.bin/azurite-blob $(TOOLS)/.registry-tools

## demo: set up, then run the main job.
demo: $(STAMP)
	$(BIN)/python examples/demo.py
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/registry-storage check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## typecheck: mypy sees the installed layout through a tree of links (host/, client/, drivers/ under the package).
typecheck: $(STAMP)
	rm -rf .typecheck && mkdir -p .typecheck/registry_storage
	ln -s $(CURDIR)/registry_storage/* $(CURDIR)/host $(CURDIR)/client $(CURDIR)/drivers .typecheck/registry_storage/
	$(BIN)/mypy -p registry_storage
	$(BIN)/mypy tests bench examples/demo.py

## test: set up, then run every check: lint, types and the whole test suite (moto and Azurite started by the tests).
test: setup lint typecheck
	PATH="$(CURDIR)/$(BIN):$(CURDIR)/$(TOOLS)/node_modules/.bin:$$PATH" $(BIN)/pytest -p no:cacheprovider

bench: setup
	PATH="$(CURDIR)/$(BIN):$(CURDIR)/$(TOOLS)/node_modules/.bin:$$PATH" $(BIN)/python bench/all.py

clean:
	rm -rf $(VENV) $(TOOLS) build dist *.egg-info
