# The README's two commands: `make demo` and `make test`. Everything installs from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest coverage bench conformance chaos-full clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The official Determined SDK drives the emulator's contract tests. Its full dependency set (boto3,
	# azure, google-cloud, docker, ...) is not needed: the dev extra lists what its bindings and CLI import.
	$(BIN)/python -m pip install --quiet --no-deps determined==0.38.1
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/scim-bridge --log-format console demo

lint: $(STAMP)
	$(BIN)/ruff check bridge tests bench conformance
	$(BIN)/ruff format --check bridge tests bench conformance

# What it checks is [tool.mypy] files in pyproject.toml, so a plain `mypy --strict` checks the same.
typecheck: $(STAMP)
	$(BIN)/mypy --strict

pytest: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck pytest

# The whole suite under branch coverage ([tool.coverage.run] in pyproject.toml), then missed lines and branches
# per module. Not part of `make test`: it is slower, and the figure is for reading, not a gate. `patch =
# ["subprocess"]` there measures the Python processes the tests start too (serve/demo command tests, the chaos
# suite's bridges and emulator): each writes its own .coverage.* file (parallel mode), combined before the
# report. A process killed by SIGKILL (the chaos suite's bridge kills) writes nothing.
coverage: $(STAMP)
	$(BIN)/python -m coverage erase
	$(BIN)/python -m coverage run -m pytest -q; status=$$?; \
	$(BIN)/python -m coverage combine -q && $(BIN)/python -m coverage report -m; exit $$status

# The chaos suite at its flagged size (20,000 operations, 12 bridge kills); `make test` runs the CI size.
chaos-full: $(STAMP)
	$(BIN)/pytest -q -s tests/chaos --chaos-full

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench $(BENCH_ARGS)

# External SCIM suites (shared/conformance/run.sh; conformance/shared_checkout.py finds shared/) against the bridge on the emulator, basic and bearer.
conformance: $(STAMP)
	PYTHON=$(PYTHON) conformance/setup.sh
	$(BIN)/python -m conformance.run_conformance

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info
