# Set-up and entry points. `make run` and `make test` work on a fresh clone: both create .venv
# from the pinned requirements.lock first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := true

.PHONY: setup run test ui bench sample contract clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: setup
	$(BIN)/mel run

test: setup
	$(BIN)/python -m pytest

ui: setup
	$(BIN)/mel ui

bench: setup
	$(BIN)/python benchmarks/run.py

sample: setup
	$(BIN)/mel generate --out data/raw --scale 1 --sample --overwrite

contract: setup
	$(BIN)/mel contract --out docs/data-contract.md

clean:
	rm -rf data/warehouse data/marts/mel.duckdb data/marts/parquet* data/marts/report data/marts/quality
