"""Publishing marts: whole-file swap, failed runs leave the old marts, open readers keep a consistent view."""

import subprocess
import sys
import textwrap

import duckdb
import pytest

from mel_pipeline.indicators.engine import build_indicator_values, build_sentinel_signals
from mel_pipeline.marts.publish import MARTS_FILE, publish_marts
from mel_pipeline.reference.catalogue import IndicatorSheet, write_catalog
from tests.conftest import FIXTURE_AS_OF, REPO_ROOT, settings_for, staged_connection

SHEET = IndicatorSheet(code="AWR-01", name="Workers trained", theme="awareness", unit="count",
                       definition="People who completed a labor-rights training.", direction="higher_is_better",
                       accumulation="incremental", aggregation="sum", data_sources=["indicator_reports"],
                       approach="conventional", counts_people=True)


def warehouse_with(value: float) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse whose only indicator result is AWR-01 = value for MAP in 2022 H1."""
    connection = staged_connection({})
    write_catalog(connection, [SHEET])
    build_indicator_values(connection, [SHEET], FIXTURE_AS_OF)
    connection.execute("INSERT INTO indicator_results VALUES ('AWR-01', 'MAP', DATE '2022-01-01', DATE '2022-06-30', "
                       "'total', 'total', NULL, NULL, ?)", [value])
    build_indicator_values(connection, [SHEET], FIXTURE_AS_OF)
    build_sentinel_signals(connection, REPO_ROOT / "indicators")
    return connection


def published_value(path) -> float:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return connection.execute("SELECT value FROM indicator_values WHERE project_code = 'MAP' "
                                  "AND period_type = 'semester'").fetchone()[0]
    finally:
        connection.close()


def test_publish_writes_every_mart_and_its_parquet_copy(tmp_path):
    settings = settings_for(tmp_path)
    published = publish_marts(warehouse_with(40), settings)
    expected = {"indicator_values", "theme_scorecard", "sentinel_signals", "outcome_harvest_summary", "msc_summary",
                "stakeholder_divergence", "indicator_catalog", "load_audit", "rejected_rows"}
    assert set(published.row_counts) == expected
    assert published_value(settings.marts_dir / MARTS_FILE) == 40
    parquet = settings.marts_dir / "parquet"
    assert parquet.is_symlink() and {p.stem for p in parquet.iterdir()} == expected
    value = duckdb.execute(f"SELECT value FROM read_parquet('{parquet}/indicator_values.parquet') "
                           "WHERE project_code = 'MAP' AND period_type = 'semester'").fetchone()[0]
    assert value == 40
    assert [p.name for p in settings.marts_dir.iterdir() if p.name.startswith(".building")] == []


def test_a_failed_publish_leaves_the_previous_marts_untouched(tmp_path):
    settings = settings_for(tmp_path)
    publish_marts(warehouse_with(40), settings)
    before = (settings.marts_dir / MARTS_FILE).read_bytes()
    parquet_target = (settings.marts_dir / "parquet").resolve()

    def veto(path):
        raise RuntimeError("quality check failed")

    with pytest.raises(RuntimeError, match="quality check failed"):
        publish_marts(warehouse_with(99), settings, validate=veto)
    assert (settings.marts_dir / MARTS_FILE).read_bytes() == before
    assert (settings.marts_dir / "parquet").resolve() == parquet_target
    assert sorted(p.name for p in settings.marts_dir.iterdir() if not p.name.startswith(".parquet-")) == [
        MARTS_FILE, "parquet"]


def test_a_reader_with_the_old_file_open_keeps_its_view_and_new_readers_see_the_new_one(tmp_path):
    settings = settings_for(tmp_path)
    publish_marts(warehouse_with(40), settings)
    marts = settings.marts_dir / MARTS_FILE
    reader = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys
        connection = duckdb.connect({str(marts)!r}, read_only=True)
        query = "SELECT sum(value) FILTER (WHERE period_type = 'semester' AND project_code = 'MAP'), count(*) FROM indicator_values"
        print(connection.execute(query).fetchone(), flush=True)
        sys.stdin.readline()
        print(connection.execute(query).fetchone(), flush=True)
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    first = reader.stdout.readline().strip()
    publish_marts(warehouse_with(77), settings)
    second, _ = reader.communicate("go\n", timeout=30)
    assert first == second.strip() and first.startswith("(40.0,")
    assert published_value(marts) == 77


def test_published_periods_are_dates(tmp_path):
    settings = settings_for(tmp_path)
    published = publish_marts(warehouse_with(40), settings)
    connection = duckdb.connect(str(published.path), read_only=True)
    types = dict(connection.execute("SELECT column_name, data_type FROM information_schema.columns "
                                    "WHERE table_name = 'indicator_values'").fetchall())
    assert (types["period_start"], types["period_end"], types["suppressed"]) == ("DATE", "DATE", "BOOLEAN")
