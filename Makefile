# Set-up and entry points. `make run` and `make test` work on a fresh clone: both create .venv
# from the pinned requirements.lock first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TABLE_SCRIPT := $(VENV)/share/mel-data-docs/bootstrap-table/bootstrap-table.min.js
# `?=` so a caller (the browser test) can point `make ui` at another instance.
DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export DAGSTER_HOME
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := true

.PHONY: setup older-reader run test ui bench sample docs clean

setup: $(STAMP) $(TABLE_SCRIPT)

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# The one Data Docs asset no Python package ships (mel_pipeline/marts/quality.py): bootstrap-table, taken from
# Debian's zoneminder package, which is downloaded and unpacked here, never installed.
$(TABLE_SCRIPT):
	mkdir -p $(@D)/.deb
	cd $(@D)/.deb && { apt-get download -qq zoneminder || { apt-get update -qq && apt-get download -qq zoneminder; }; }
	dpkg-deb --fsys-tarfile $(@D)/.deb/zoneminder_*.deb | tar -x -C $(@D)/.deb \
	    ./usr/share/zoneminder/www/skins/classic/js/bootstrap-table.min.js ./usr/share/zoneminder/www/css/bootstrap-table.min.css
	mv $(@D)/.deb/usr/share/zoneminder/www/css/bootstrap-table.min.css $(@D)/
	mv $(@D)/.deb/usr/share/zoneminder/www/skins/classic/js/bootstrap-table.min.js $@
	rm -rf $(@D)/.deb

run: setup
	$(BIN)/mel run

test: setup older-reader
	$(BIN)/python -m pytest

# The oldest DuckDB the marts promise to open (publish.MARTS_STORAGE_VERSION), for the test that opens them
# as an analyst's older tool would.
OLDER_READER := .venv-duckdb-1.0
older-reader: $(OLDER_READER)/.installed

$(OLDER_READER)/.installed:
	test -x $(OLDER_READER)/bin/python || $(PYTHON) -m venv $(OLDER_READER)
	$(OLDER_READER)/bin/pip install --quiet --disable-pip-version-check duckdb==1.0.0
	touch $@

ui: setup
	$(BIN)/mel ui $(if $(PORT),--port $(PORT))

bench: setup
	$(BIN)/python benchmarks/run.py

sample: setup
	$(BIN)/mel generate --out data/raw --scale 1 --sample --overwrite

docs: setup
	$(BIN)/mel docs

clean:
	rm -rf data/warehouse data/marts/mel.duckdb data/marts/parquet* data/marts/report data/marts/quality
