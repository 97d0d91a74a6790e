# Every target installs what it needs: a local venv (.venv) from PyPI, and Java/Maven from Debian
# packages for the real-Kafka tests and demo when the machine lacks them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: help venv system-deps lint format test test-fast test-integration test-matrix demo bench soak image test-image clean

help:
	@echo "make demo         start real Kafka + Connect, a healthy and a failing connector, and the healthcheck"
	@echo "make test         lint + every test (unit, contract, faults, real Kafka Connect)"
	@echo "make test-fast    the tests that need no Java"
	@echo "make test-matrix  the real-Connect tests against every Kafka version we cover"
	@echo "make bench        the benchmark (bench/README.md)"

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

# Java 17+ and Maven for the real Kafka broker and Connect worker (tests/integration/).
system-deps:
	@if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then \
	  echo "installing Java and Maven from Debian packages"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jdk-headless maven; \
	fi

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint system-deps
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: venv
	$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

test-integration: venv system-deps
	$(BIN)/pytest -m integration $(PYTEST_ARGS)

test-matrix: venv system-deps
	KC_HC_KAFKA_VERSIONS=all $(BIN)/pytest -m integration $(PYTEST_ARGS)

demo: venv system-deps
	$(BIN)/python tests/integration/demo.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info
