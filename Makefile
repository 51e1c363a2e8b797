# Scoreboard platform — every entry point a developer or CI needs.
# `make dev` runs the platform; `make test` runs every test tier. Both set themselves up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
BOOTSTRAP := .cache/bootstrap
UV := $(BOOTSTRAP)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
# The interpreter .venv is made from: Debian's python3.11 when the machine has it, as the images
# do (scripts/build-images.sh makes their base from Debian's packages; python:3.11-slim is built
# the same way, with profile-guided optimisation and LTO); otherwise python3 from PATH. pyenv's
# default build has neither optimisation and links a shared libpython: on it `GET /top` costs
# ~17 % more CPU in process, a score write 2-10 % (docs/benchmarks.md, Phase 9). Choose another
# with `make sync PYTHON=...`.
PYTHON ?= $(or $(wildcard /usr/bin/python3.11),python3)
export UV_PYTHON_DOWNLOADS := never
export UV_CACHE_DIR := $(CURDIR)/.cache/uv
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
PYPROJECTS := pyproject.toml $(wildcard */pyproject.toml */*/pyproject.toml)
PYTEST_ARGS ?=
# Where scripts/tools.sh keeps kube-apiserver, etcd, helm, kubectl (CI points it at a
# per-machine cache); the tests read the tool paths from its env.sh.
SCOREBOARD_CACHE ?= $(CURDIR)/.cache
export SCOREBOARD_CACHE
TOOLS_ENV = set -a; for f in env.sh cluster-env.sh; do if [ -f "$(SCOREBOARD_CACHE)/tools/$$f" ]; then . "$(SCOREBOARD_CACHE)/tools/$$f"; fi; done; set +a;
# What `make images` builds and the cluster runs (scripts/build-images.sh names them).
CLUSTER_IMAGES := $(foreach c,api realtime operator,ghcr.io/scoreboard-dev/scoreboard-$(c):dev) \
	scoreboard.local/postgresql:15-bookworm scoreboard.local/redis:7-bookworm

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

$(UV):
	python3 -m venv $(BOOTSTRAP)
	$(BOOTSTRAP)/bin/pip install --quiet uv==$(UV_VERSION)

# Remembers which interpreter .venv was made from, so that choosing another one re-syncs.
PYTHON_STAMP := .cache/venv-python
$(PYTHON_STAMP): FORCE
	@mkdir -p $(@D); [ "$$(cat $@ 2>/dev/null)" = "$(PYTHON)" ] || echo "$(PYTHON)" > $@

$(VENV)/.synced: uv.lock $(PYPROJECTS) $(PYTHON_STAMP) | $(UV)
	$(UV) sync --frozen --all-packages --python "$(PYTHON)"
	@touch $@

.PHONY: sync
sync: $(VENV)/.synced ## create .venv from the lockfile

.PHONY: lock
lock: | $(UV) ## re-resolve uv.lock after changing a pyproject.toml
	$(UV) lock

.PHONY: dev
dev: sync ## run PostgreSQL, Redis, api (:8000) and realtime (:8001) until Ctrl-C
	@exec $(BIN)/scoreboard-dev $(DEV_ARGS)

.PHONY: admin-token
admin-token: sync ## print an admin token for the running `make dev`
	@source .dev/env && $(BIN)/scoreboard-api mint-token --subject admin --scope scoreboard:admin

.PHONY: system-deps
system-deps: ## install the Debian packages the tests use (redis-server, promtool, chromium, wrk)
	@bash scripts/system-deps.sh

.PHONY: tools
tools: ## build/fetch kube-apiserver, etcd, helm, kubectl and monitoring CRDs into .cache/tools
	@bash scripts/tools.sh

.PHONY: test
REDIS_SUITES := tests/integration/api tests/integration/realtime tests/integration/common

COVERAGE_DATA := .cache/coverage
test: sync system-deps tools cluster-tools images ## run every test tier, then the Redis suites on a Redis Cluster; report coverage
	rm -rf $(COVERAGE_DATA) && mkdir -p $(COVERAGE_DATA) test-artifacts
	$(TOOLS_ENV) $(BIN)/coverage run -m pytest $(PYTEST_ARGS)
	$(TOOLS_ENV) $(BIN)/coverage run -m pytest --redis-cluster $(REDIS_SUITES) $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory coverage-report

.PHONY: coverage-report
coverage-report: sync ## combine the coverage data of the last `make test` (pytest and every service process it started)
	@if ls $(COVERAGE_DATA)/data.* >/dev/null 2>&1; then $(BIN)/coverage combine -q; fi
	@$(BIN)/coverage report >test-artifacts/coverage.txt
	@$(BIN)/coverage report --format=total | xargs printf 'coverage: %s%% of the lines of services/, operator/, libs/, tools/ (every tier and the processes it started; per file: test-artifacts/coverage.txt)\n'

.PHONY: test-unit test-integration test-k8s test-e2e test-chaos test-cluster
test-unit: sync ## unit tier only
	$(BIN)/pytest -m unit $(PYTEST_ARGS)
test-integration: sync system-deps tools ## integration tier only
	$(TOOLS_ENV) $(BIN)/pytest -m integration $(PYTEST_ARGS)
test-k8s: sync tools ## k8s tier only
	$(TOOLS_ENV) $(BIN)/pytest -m k8s $(PYTEST_ARGS)
test-chaos: sync system-deps ## fault tier only
	$(BIN)/pytest -m chaos -s $(PYTEST_ARGS)
test-cluster: sync system-deps tools cluster-tools images ## the chart on a real single-node cluster (root)
	$(TOOLS_ENV) $(BIN)/pytest -m cluster -s $(PYTEST_ARGS)
test-e2e: sync system-deps ## browser tier only
	$(BIN)/pytest -m e2e $(PYTEST_ARGS)

.PHONY: lint
lint: sync ## ruff (lint + format check), mypy strict, import-linter layer contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

.PHONY: fmt
fmt: sync ## format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: bench
bench: sync system-deps ## run every benchmark and print the table
	$(BIN)/python -m bench

.PHONY: chart-lint
chart-lint: sync tools ## helm lint --strict, render for several value sets, promtool rule tests
	$(BIN)/pytest tests/integration/test_chart.py tests/integration/test_alert_rules.py $(PYTEST_ARGS)

.PHONY: chart-docs
chart-docs: sync tools ## regenerate the chart's README (helm-docs) and values.schema.json from values.yaml
	@$(TOOLS_ENV) cd charts/scoreboard && "$$SCOREBOARD_HELM_DOCS" --chart-search-root . --sort-values-order file --log-level warning
	$(BIN)/python charts/scoreboard/hack/gen_schema.py

.PHONY: chart-test
chart-test: sync tools ## install/upgrade/uninstall the chart against a real kube-apiserver
	$(BIN)/pytest tests/k8s/test_chart_install.py $(PYTEST_ARGS)

.PHONY: cluster-tools docker-engine images cluster-up cluster-down
cluster-tools: ## build kubelet, controller-manager, scheduler, kube-proxy, CoreDNS, Traefik, kube-router; apt: containerd, runc, CNI, docker.io
	@bash scripts/cluster-tools.sh
docker-engine: cluster-tools ## start Debian's Docker engine when none answers
	@bash scripts/docker-engine.sh
images: docker-engine tools ## build the api, realtime, operator, PostgreSQL, Redis and pause images (no registry needed)
	@bash scripts/build-images.sh
cluster-up: sync tools images ## single-node Kubernetes on this machine (needs root), images loaded
	$(TOOLS_ENV) $(BIN)/scoreboard-cluster up $(foreach i,$(CLUSTER_IMAGES),--image $(i))
cluster-down: sync ## stop the cluster and remove everything it made
	$(TOOLS_ENV) $(BIN)/scoreboard-cluster down

.PHONY: kind-up
kind-up: ## kind cluster + ingress + images + helm install (needs Docker and kind)
	bash scripts/kind-up.sh

.PHONY: clean
clean: ## remove test artifacts (keeps .dev data and caches)
	rm -rf test-artifacts .pytest_cache .mypy_cache .ruff_cache

.PHONY: FORCE
FORCE:
