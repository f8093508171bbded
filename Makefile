# UMA Desktop — the two commands a person needs are `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export UMA_CACHE ?= $(HOME)/.cache/uma-desktop

.PHONY: run test setup system-deps system-deps-gui lint pytest package package-test keycloak-dist keycloak openam-dist openam screenshots benchmarks clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

system-deps:
	@tools/install-system-deps.sh

system-deps-gui:
	@tools/install-system-deps.sh --gui-only

## Start the app in demo mode: two built-in sandbox servers, logged in as alice.
run: system-deps-gui setup
	$(BIN)/uma-desktop --demo

## Everything CI runs: install, lint, type-check, layer check, the whole test suite, then
## the packages built and smoke-tested as installed.
test: system-deps setup keycloak-dist openam-dist lint pytest package-test

lint: setup
	$(BIN)/ruff check uma_desktop tests tools benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	appstreamcli validate --no-net packaging/org.umadesktop.UmaDesktop.metainfo.xml
	desktop-file-validate packaging/org.umadesktop.UmaDesktop.desktop

pytest: setup
	QT_QPA_PLATFORM=offscreen tools/keyring-session.sh $(BIN)/pytest -q --ignore=tests/packaging $(PYTEST_ARGS)

## Wheel + sdist, the one-folder bundle and the Debian package, into dist/ (see tools/package.py).
package: system-deps setup
	$(PY) tools/package.py

## Build the packages, then install each into a throw-away place and smoke-test it.
package-test: package
	QT_QPA_PLATFORM=offscreen tools/keyring-session.sh $(BIN)/pytest -q tests/packaging $(PYTEST_ARGS)

## Download and unpack the pinned Keycloak distribution into $(UMA_CACHE) (not the repo).
keycloak-dist: setup
	$(PY) tools/keycloak.py fetch

## A Keycloak with the test realm on http://127.0.0.1:18080 for manual use (Ctrl-C stops it).
keycloak: keycloak-dist
	$(PY) tools/keycloak.py serve --port 18080

## Download and unpack the pinned OpenAM WAR and Tomcat into $(UMA_CACHE)/openam (not the repo).
openam-dist: setup
	$(PY) tools/openam.py fetch

## An OpenAM (ForgeRock AM family) with the UMA test realm on http://127.0.0.1:18181/openam
## for manual use; configured afresh on every start (about 2 minutes), Ctrl-C stops it.
openam: openam-dist
	$(PY) tools/openam.py serve --port 18181

## Render each main view from the real app on seeded sandboxes into docs/screenshots/.
screenshots: system-deps-gui setup
	QT_QPA_PLATFORM=offscreen $(PY) tools/screenshots.py docs/screenshots

## Speed figures against baselines measured in the same run (see benchmarks/).
benchmarks: keycloak-dist
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist *.egg-info
