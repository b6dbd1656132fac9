# The two commands of the README:
#   make start   set everything up, synthesize the booking-platform example, print what it builds, then serve the
#                API locally (redis-server + DynamoDB Local + events; PORT=8080 by default; Ctrl-C stops everything)
#   make test    set everything up, run the fast test tier (seconds), then lint, type-check, check generated files
#                and run the rest of the test suite
# Everything they need is installed here: a venv with the pinned Python deps, the npm tools, redis-server (apt).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup start test test-fast lint typecheck generated-check unit chaos bench projen docgen clean dist floors

setup: $(VENV)/.installed node_modules/.installed system-packages

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (found " + sys.version.split()[0] + "); set PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node >= 18) is required: apt-get install nodejs npm"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

system-packages:
	@command -v java >/dev/null || { echo "Java >= 17 is required for DynamoDB Local: apt-get install openjdk-17-jre-headless"; exit 1; }
	@command -v redis-server >/dev/null || { \
	  echo "installing redis-server (apt)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq redis-server >/dev/null; }

PORT ?= 8080

start: setup
	$(BIN)/python scripts/summarize_example.py
	$(BIN)/cached-booking-api local --port $(PORT)

lint: setup
	$(BIN)/ruff check src test examples bench scripts .projenrc.py
	$(BIN)/ruff format --check src test examples bench scripts

typecheck: setup
	$(BIN)/mypy

# Generated files (projen output, API.md) must be committed in sync with their sources.
generated-check: setup
	PROJEN_DISABLE_POST=1 $(BIN)/python .projenrc.py
	$(BIN)/python scripts/docgen.py
	git diff --exit-code -- . ':!*.lock' || { echo "generated files are stale: run 'make projen docgen' and commit"; exit 1; }

# The fast tier: tests marked `fast` need no Java, Redis or aws-cdk-lib and run in seconds, in one process. The tier
# itself refuses to import aws-cdk-lib/jsii or start a test server (test/conftest.py), so a wrongly marked test fails.
test-fast: setup
	CBA_TEST_TIER=fast PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 $(BIN)/python -m pytest -q -p no:cacheprovider

# Everything the fast tier does not run (servers, synthesized templates, wheels), on 2 workers. The JS synth baseline
# is installed for the test that keeps it building the example's platform (test/examples/test_booking_platform.py).
unit: setup bench/js-synth/node_modules/.installed
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not fast"

test: test-fast lint typecheck generated-check unit

chaos: setup
	$(BIN)/python -m pytest -m chaos test/local

bench: setup bench/js-synth/node_modules/.installed
	$(BIN)/python bench/search_bench.py
	$(BIN)/python bench/booking_bench.py
	$(BIN)/python bench/local_bench.py
	$(BIN)/python bench/perf_bench.py
	$(BIN)/python bench/hit_ratio_bench.py
	$(BIN)/python bench/inventory_bench.py
	$(BIN)/python bench/load_bench.py

# The JavaScript synth baseline of bench/perf_bench.py (aws-cdk-lib from npm, same version as the Python one).
bench/js-synth/node_modules/.installed: bench/js-synth/package.json bench/js-synth/package-lock.json
	npm ci --prefix bench/js-synth --no-audit --no-fund --loglevel=error
	touch $@

# What the CI "package" job and the release workflow run: the sdist, the wheel built from it, twine check --strict,
# their contents (LICENSE, NOTICE, handler sources), then the wheel with each extra in a clean venv + the CLI.
dist: setup
	$(BIN)/python scripts/release.py build
	$(BIN)/python scripts/release.py check
	$(BIN)/python scripts/release.py smoke

# The declared lower bounds (.ci/floors-constraints.txt, generated from .projenrc.py) in a venv of their own, then the
# runtime and construct tests against them, and a build with the setuptools floor. Not part of `make test` (minutes).
FLOORS := .venv-floors
floors: setup
	rm -rf $(FLOORS)
	$(PYTHON) -m venv $(FLOORS)
	$(FLOORS)/bin/python -m pip install --quiet --upgrade pip
	$(FLOORS)/bin/python -m pip install --quiet -c .ci/floors-constraints.txt -r .ci/floors-test-requirements.txt \
	  -e '.[local]'
	$(FLOORS)/bin/python scripts/release.py floors-installed .ci/floors-constraints.txt
	$(FLOORS)/bin/python -m pytest -n 2 --dist loadfile -p no:cacheprovider test/runtime test/infrastructure
	$(FLOORS)/bin/python scripts/release.py build --no-isolation --outdir $(FLOORS)/dist
	$(BIN)/python scripts/release.py check --outdir $(FLOORS)/dist

projen: setup
	PROJEN_DISABLE_POST=1 $(BIN)/python .projenrc.py

docgen: setup
	$(BIN)/python scripts/docgen.py

clean:
	rm -rf $(VENV) $(FLOORS) node_modules cdk.out dist build .pytest_cache .mypy_cache .ruff_cache
