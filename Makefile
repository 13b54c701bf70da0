# Every target sets itself up: the virtualenv, the Python dependencies and (where needed) the
# control-plane binaries built from Go modules into ~/.cache/ccoperator (first run only).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Checkov in a virtualenv of its own: its pins (packaging, python-dateutil, ...) conflict with
# the project's dependencies.
CHECKOV_VENV    ?= .venv-checkov
CHECKOV_VERSION ?= 3.3.30
CHECKOV_STAMP   := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
# The harness is importable without the virtualenv: build.py needs only the standard library.
ENVTEST := PYTHONPATH=operator $(PYTHON) -m ccoperator_envtest
KUBECTL ?= $(or $(shell command -v kubectl 2>/dev/null),$(shell $(ENVTEST).build --print 2>/dev/null)/kubectl)
# What `make deploy` applies: deploy/ itself, or your overlay (deploy/overlays/example/ shows one).
DEPLOY  ?= deploy/

.PHONY: help venv binaries tools generate image test test-unit demo run sim install deploy lint image-check bench chaos clean

help:
	@echo "make demo      start a local control plane + identity simulator + operator, apply examples/"
	@echo "make test      run the whole test suite (unit, contract, integration, e2e)"
	@echo "make lint      ruff + mypy (strict on ccoperator, ccoperator_envtest) + import-linter (layers) + hadolint + checkov (offline)"
	@echo "make tools     build the Go tools (helm, promtool, checkers) into ~/.cache/ccoperator/tools (first run only)"
	@echo "make generate  rewrite the copies of crds/ and examples/ (package data; tools/sync_copies.py)"
	@echo "make image     build the image from Dockerfile with podman (local Debian base; prints the tag)"
	@echo "make image-check  the Dockerfile's install steps in a clean virtualenv"
	@echo "make run       run the operator against the current kubeconfig (CCOPERATOR_* settings)"
	@echo "make sim       run the identity simulator on 127.0.0.1:8085"
	@echo "make install   install the three CRDs (crds/) into the current kubeconfig's cluster"
	@echo "make deploy    kubectl apply -k deploy/ (or DEPLOY=deploy/overlays/<yours>/; README, Install)"
	@echo "make bench     benchmarks (not part of make test); results in docs/"
	@echo "make chaos     only the fault-injection suite (tests/faults, also part of make test)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lint,bench]'
	@touch $@

venv: $(STAMP)

binaries: venv
	$(BIN)/python -m ccoperator_envtest.build

# Go tools pinned in ccoperator_envtest/gotools.py, cached like the control plane.
tools: venv
	$(BIN)/python -m ccoperator_envtest.gotools
	$(BIN)/python -m tests.gitops.tools

# crds/ and examples/ are the sources; their copies elsewhere are generated (and tested).
generate:
	$(PYTHON) tools/sync_copies.py

test: venv binaries tools $(CHECKOV_STAMP)
	$(BIN)/pytest

test-unit: venv
	$(BIN)/pytest tests/unit

demo: venv binaries
	$(BIN)/ccoperator demo

run: venv
	$(BIN)/ccoperator run

sim: venv
	$(BIN)/ccoperator sim --port 8085

install:
	$(KUBECTL) apply -k crds/

deploy:
	$(KUBECTL) apply -k $(DEPLOY)

$(CHECKOV_STAMP):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	@touch $@

# Checkov runs offline on the rendered deploy/ kustomizations, the Argo CD snippet, the
# Dockerfile and charts/ when present (tests/gitops/checkov_lint.py).
lint: venv $(CHECKOV_STAMP)
	$(BIN)/ruff check operator tests tools
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile
	$(BIN)/python -m tests.gitops.checkov_lint --checkov $(CHECKOV_VENV)/bin/checkov --kubectl $(KUBECTL)

# The Dockerfile built with podman on a debootstrapped Debian base (no registry needed), cached
# by a digest of the Dockerfile and the package sources: ccoperator_envtest/image.py.
image: venv
	$(BIN)/python -m ccoperator_envtest.image --context .

# What the Dockerfile's build stage does, in a clean virtualenv (no container engine here):
# install the package alone and start the entrypoint.
image-check:
	rm -rf build/image-check && $(PYTHON) -m venv build/image-check
	build/image-check/bin/pip install --quiet .
	build/image-check/bin/ccoperator --help >/dev/null
	build/image-check/bin/ccoperator run --help | grep -q -- --identity-url
	@echo "image-check: package installs alone and its entrypoint runs"

bench: venv binaries
	$(BIN)/python -m tests.bench.run

chaos: venv binaries
	$(BIN)/pytest -m chaos tests/faults

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .mypy_cache .pytest_cache .ruff_cache
