"""Shared test fixtures: paths, a clean sample copy, and the harness that runs indicators on hand-made rows."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from mel_pipeline.indicators.engine import build_indicator_values, create_shared_views, run_indicator
from mel_pipeline.reference.catalogue import load_registry, shared_views_sql
from mel_pipeline.settings import REPO_ROOT, Settings
from mel_pipeline.staging.contract import SOURCES
from mel_pipeline.staging.ingest import ensure_staging_table
from mel_pipeline.warehouse import AUDIT_TABLES_SQL, configure

SHARED = REPO_ROOT.parent / "shared"
REFERENCE = SHARED / "reference-data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_AS_OF = dt.date(2025, 12, 31)
# Tests write their raw files and read them at once: a file just written is staged, not left for a next run
# as still being written, except in the tests of that rule (which set `settling_seconds` themselves). Set
# in the environment so that the refreshes run in subprocesses agree.
os.environ.setdefault("MEL_SETTLING_SECONDS", "0")


def settings_for(tmp_path: Path, raw_dir: Path | None = None, **overrides) -> Settings:
    """Settings that keep every output of a test inside `tmp_path`."""
    return Settings.from_env(
        raw_dir=raw_dir or tmp_path / "raw", warehouse_path=tmp_path / "warehouse" / "mel.duckdb",
        marts_dir=tmp_path / "marts", **overrides)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings rooted in the test's temporary folder, with a fixed as-of date."""
    return settings_for(tmp_path, as_of=FIXTURE_AS_OF)


def staged_connection(tables: dict[str, list[dict]], as_of: dt.date = FIXTURE_AS_OF) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse whose staging tables hold exactly the given rows (other columns NULL)."""
    connection = duckdb.connect()
    settings = Settings.from_env(as_of=as_of)
    configure(connection, settings)
    connection.execute(AUDIT_TABLES_SQL)
    for source in SOURCES.values():
        ensure_staging_table(connection, source, source.schema(as_of))
    for source_name, rows in tables.items():
        for number, row in enumerate(rows, start=2):
            columns = [*row, "_source_file", "_row_number"]
            connection.execute(
                f"INSERT INTO stg_{source_name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [*row.values(), "fixture.csv", number])
    return connection


def compute_indicators(tables: dict[str, list[dict]], codes: list[str], as_of: dt.date = FIXTURE_AS_OF):
    """Run the named indicators of the real catalogue on fixture rows; returns indicator_values as dicts."""
    sheets = [sheet for sheet in load_registry(REPO_ROOT / "indicators", SOURCES) if sheet.code in codes]
    assert sorted(sheet.code for sheet in sheets) == sorted(codes), "unknown indicator code in the test"
    return compute_sheets(tables, sheets, as_of)


def compute_with_group_size(tables: dict[str, list[dict]], code: str, min_group_size: int, monkeypatch) -> list[dict]:
    """Run one indicator with its sheet's `publication.min_group_size`, and the disclosure threshold, set to
    `min_group_size`, so that a small fixture can show figures computed from groups of answers."""
    monkeypatch.setenv("MEL_SUPPRESSION_THRESHOLD", str(min_group_size))
    sheet = next(sheet for sheet in load_registry(REPO_ROOT / "indicators", SOURCES) if sheet.code == code)
    publication = sheet.publication.model_copy(update={"min_group_size": min_group_size})
    return compute_sheets(tables, [sheet.model_copy(update={"publication": publication})])


def compute_sheets(tables: dict[str, list[dict]], sheets: list, as_of: dt.date = FIXTURE_AS_OF):
    """Run the given (possibly altered) sheets on fixture rows; returns indicator_values as dicts."""
    connection = staged_connection(tables, as_of)
    settings = Settings.from_env(as_of=as_of)
    create_shared_views(connection, shared_views_sql(REPO_ROOT / "indicators"), settings)
    for sheet in sheets:
        run_indicator(connection, sheet, settings)
    build_indicator_values(connection, sheets, as_of)
    result = connection.execute("SELECT * FROM indicator_values")
    columns = [column[0] for column in result.description]
    rows = [dict(zip(columns, row)) for row in result.fetchall()]
    connection.close()
    return rows


DIMENSIONS = ("sex", "state", "employer_size", "supply_chain_tier", "participant_type")


def report(project, code, period, numerator=None, denominator=None, value=None, submitted_on=None, **dims) -> dict:
    """One indicator_reports row; dimensions not given are 'total'."""
    return {"project_code": project, "indicator_code": code, **period, **{d: "total" for d in DIMENSIONS}, **dims,
            "numerator": numerator, "denominator": denominator, "value": value, "submitted_on": submitted_on}


def parts(row: dict) -> tuple:
    """(numerator, denominator, value) of an indicator_values row."""
    return row["numerator"], row["denominator"], row["value"]


def row_of(rows: list[dict], project: str, period_type="semester", disaggregation="total", **where) -> dict:
    """The single row of a project for a period type and disaggregation (the total by default)."""
    return pick(rows, project_code=project, period_type=period_type, disaggregation=disaggregation, **where)


def semester_rows(rows: list[dict], project: str, period: dict, dimension: str) -> list[dict]:
    """One project's rows for one semester and one disaggregation dimension."""
    return [row for row in rows if row["project_code"] == project and row["period_type"] == "semester"
            and row["disaggregation"] == dimension and row["period_start"] == period["period_start"]]


def pick(rows: list[dict], **where) -> dict:
    """The single row matching every `column=value`; fails loudly if there are none or several."""
    matches = [row for row in rows if all(row[key] == value for key, value in where.items())]
    assert len(matches) == 1, f"{len(matches)} rows match {where}"
    return matches[0]


@pytest.fixture(scope="session")
def sample_raw(tmp_path_factory) -> Path:
    """A private copy of the shipped sample (data/raw), so tests may add or break files."""
    target = tmp_path_factory.mktemp("sample") / "raw"
    shutil.copytree(REPO_ROOT / "data" / "raw", target)
    return target


# When a file was loaded, and under which as-of date (any giving it the same verdict), may differ between
# two warehouses loading the same files; nothing else may.
LOAD_TIME = {"load_audit": ("loaded_at", "contract_version")}


def relation_digest(connection, table: str, skipped: tuple[str, ...] = (), where: str = "true") -> list:
    """[rows, digest of the rows in a fixed order] of a table, `skipped` columns left out; exact to the last bit
    (a DOUBLE's text is the shortest that reads back as the same number)."""
    columns = connection.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
                                 [table]).fetchall()
    shown = ", ".join(f'"{name}"' for (name,) in columns if name not in skipped)
    return list(connection.execute(
        "SELECT count(*), md5(coalesce(string_agg(CAST(t AS VARCHAR), '|' ORDER BY CAST(t AS VARCHAR)), '')) "
        f'FROM (SELECT {shown} FROM "{table}" WHERE {where}) t').fetchone())


def table_digests(connection, exclude=None):
    """relation_digest of every table of an open marts file, `exclude` naming columns to leave out per table."""
    return {table: relation_digest(connection, table, (exclude or {}).get(table, ()))
            for (table,) in connection.execute("SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall()}


def digest(marts: Path, exclude: dict[str, tuple[str, ...]] | None = None) -> dict[str, list]:
    """table_digests of a marts file."""
    connection = duckdb.connect(str(marts), read_only=True)
    try:
        return table_digests(connection, exclude)
    finally:
        connection.close()


GOLDEN_DIGEST = Path(__file__).resolve().parent / "golden" / "sample_marts.json"


def golden_digest(marts: Path) -> dict[str, list]:
    """What the golden test pins of the sample's marts: every table's digest (load times left out), and
    `indicator_values` once more per indicator, so that a change shows which indicators' figures moved."""
    connection = duckdb.connect(str(marts), read_only=True)
    try:
        pinned = table_digests(connection, LOAD_TIME)
        codes = [code for (code,) in connection.execute(
            "SELECT DISTINCT indicator_code FROM indicator_values ORDER BY indicator_code").fetchall()]
        for code in codes:
            pinned[f"indicator_values[{code}]"] = relation_digest(
                connection, "indicator_values", where=f"indicator_code = '{code}'")
        return pinned
    finally:
        connection.close()
