# Two entry points: `make test` and `make demo`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo demo-stop lint typecheck venv controlplane bench clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

venv: $(STAMP)

# Builds (once, then cached outside the tree) kube-apiserver, etcd and helm.
controlplane:
	@hack/controlplane/build.sh >/dev/null

lint: $(STAMP)
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck controlplane
	$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

demo: $(STAMP) controlplane
	$(BIN)/python hack/demo.py $(if $(KEEP),--keep,)

bench: $(STAMP)
	$(BIN)/python bench/sync_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

demo-stop: $(STAMP)
	$(BIN)/python hack/demo.py --stop
