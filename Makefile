# Every target builds .venv itself from a clean clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast test-soak lint bench bench-quick localstack localstack-stop clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/bucketstream demo

# Debian's chromium and chromium-driver for the status page test (run as root; nothing else
# downloads a browser). The test's fixture installs them too when they are missing.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver)

# The whole suite: lint, unit, functional (moto server over HTTP), integration (LocalStack on the host).
# Two xdist workers (each its own moto server, PostgreSQL and free ports): 205 s against 401 s
# serial for the functional and service tiers on two cores.
test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	bash localstack/run-tests.sh $(BIN)/python -m pytest -q -n 2 --durations=15

# The unit tier: in process, no subprocess, no server (tiers: tests/support/tiers.py), < 60 s.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "unit and not soak"

test-soak: $(STAMP)
	$(BIN)/python -m pytest -q -m soak

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks --mode full

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks --mode quick

# LocalStack on the host (no Docker), in its own venv: localstack/README.md
localstack:
	bash localstack/setup.sh && bash localstack/start.sh

localstack-stop:
	bash localstack/stop.sh

clean:
	-bash localstack/stop.sh
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache demo-output localstack/.venv localstack/.state
