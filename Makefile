# Two entry points: `make test` and `make demo`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo demo-stop lint typecheck venv controlplane charttools chart-readme bench bench-latency bench-run-cost bench-scale bench-metrics clean lock image \
	release-check

# One line per step: a cold install is quiet for half a minute otherwise (pip -q).
$(STAMP): requirements.lock pyproject.toml testing/pyproject.toml
	@test -x $(BIN)/python || { echo "[venv] creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "[venv] installing requirements.lock into $(VENV) (cold: half a minute to a few minutes; pip stays quiet)"
	@$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	@echo "[venv] installing personio-sync and personio-sync-testing (editable)"
	@$(BIN)/pip install -q --disable-pip-version-check --no-deps -e . -e testing
	@touch $@
	@echo "[venv] ready: $(VENV)"

venv: $(STAMP)

# The three lock files (docs/image.md): development (no hashes: pip installs the package
# editable next to it), and, hash-pinned for the image, runtime (the same versions as
# development) and build (the wheel build's setuptools). `make lock UPGRADE=1` moves
# every pin to the newest release; without it, existing pins are kept.
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade,)
lock: $(STAMP)
	$(UV_COMPILE) --no-annotate --extra dev -o requirements.lock pyproject.toml
	$(UV_COMPILE) --generate-hashes -c requirements.lock -o requirements-runtime.lock pyproject.toml
	printf 'setuptools>=77\nwheel\n' | \
	  $(UV_COMPILE) --generate-hashes -o requirements-build.lock -

# Builds (once, then cached outside the tree) kube-apiserver, etcd and helm.
controlplane:
	@hack/controlplane/build.sh >/dev/null

# Builds (once, then cached like the control plane) the chart's checkers from their Go
# modules: promtool (the alerts) and helm-docs (the chart's README).
charttools:
	@hack/promtool.sh --path >/dev/null
	@hack/helm-docs.sh --path >/dev/null

# Rewrites charts/personio-sync/README.md from values.yaml's `# --` comments (a test
# fails while it is out of date).
chart-readme:
	hack/helm-docs.sh

# Builds the operator image with podman on a local stand-in base (docs/image.md);
# installs podman, runc and debootstrap first when they are missing (needs root).
image:
	@hack/image/build.sh

lint: $(STAMP)
	$(BIN)/ruff check operator testing tests bench hack charts
	$(BIN)/ruff format --check operator testing tests bench hack charts
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile
	$(BIN)/shellcheck hack/*.sh hack/*/*.sh .ci/run
	hack/actionlint.sh

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck controlplane charttools
	$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

# The release end to end against a local registry, then verified and installed as a user
# would (tests/release, docs/release.md). `make test` runs it as one of pytest's tiers.
release-check: $(STAMP) controlplane
	$(BIN)/pytest -p no:cacheprovider tests/release $(PYTEST_ARGS)

demo: $(STAMP) controlplane
	$(BIN)/python hack/demo.py $(if $(KEEP),--keep,)

bench: $(STAMP)
	$(BIN)/python bench/sync_bench.py

bench-latency: $(STAMP) controlplane
	$(BIN)/python bench/latency_bench.py

bench-run-cost: $(STAMP)
	$(BIN)/python bench/run_cost_bench.py

bench-scale: $(STAMP) controlplane
	$(BIN)/python bench/scale_bench.py $(SCALE_ARGS)

bench-metrics: $(STAMP)
	$(BIN)/python bench/metrics_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

demo-stop: $(STAMP)
	$(BIN)/python hack/demo.py --stop
