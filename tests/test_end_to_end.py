"""The whole graph materialized on a copy of the shipped sample, and `mel check` on its files."""

import json
import os
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import duckdb
import pytest

from mel_pipeline.cli import main
from mel_pipeline.reference.catalogue import load_registry
from mel_pipeline.settings import REPO_ROOT
from mel_pipeline.staging.contract import SOURCES
from tests.conftest import GOLDEN_DIGEST, LOAD_TIME, digest, golden_digest

pytestmark = pytest.mark.slow


def mel_run(raw: Path, folder: Path) -> tuple[int, str]:
    """`mel run` on `raw`, the warehouse and marts under `folder`; returns (exit code, output)."""
    environment = {"MEL_RAW_DIR": str(raw), "MEL_WAREHOUSE": str(folder / "warehouse" / "mel.duckdb"),
                   "MEL_MARTS_DIR": str(folder / "marts"), "MEL_AS_OF": "2025-12-31"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        patch.delenv("DAGSTER_HOME", raising=False)
        printed = StringIO()
        with redirect_stdout(printed):
            exit_code = main(["run"])
    return exit_code, printed.getvalue()


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, sample_raw):
    """`mel run` on the sample, everything written under a temporary folder; returns (output, folder)."""
    folder = tmp_path_factory.mktemp("run")
    return *mel_run(sample_raw, folder), folder


def warehouse(folder: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(folder / "warehouse" / "mel.duckdb"), read_only=True)


def test_the_run_succeeds_and_prints_a_summary_per_source(sample_run):
    exit_code, printed, _ = sample_run
    assert exit_code == 0, printed
    assert "run succeeded" in printed
    for source in SOURCES:
        assert any(line.split()[:1] == [source] for line in printed.splitlines()), source


def test_every_file_is_accounted_for_and_every_source_staged(sample_run, sample_raw):
    *_, folder = sample_run
    connection = warehouse(folder)
    unbalanced = connection.execute(
        "SELECT count(*) FROM load_audit WHERE rows_read <> rows_loaded + rows_rejected + rows_superseded").fetchone()[0]
    assert unbalanced == 0
    files_on_disk = sorted(path.relative_to(sample_raw).as_posix() for path in sample_raw.glob("*/*"))
    audited = [file for (file,) in connection.execute("SELECT file FROM load_audit ORDER BY file").fetchall()]
    assert audited == files_on_disk
    for source in SOURCES:
        assert connection.execute(f"SELECT count(*) FROM stg_{source}").fetchone()[0] > 0, source


def test_the_sample_defects_are_rejected_exactly(sample_run):
    *_, folder = sample_run
    connection = warehouse(folder)
    rejected = connection.execute("""
        SELECT source, "check", count(*) FROM rejected_rows GROUP BY ALL ORDER BY ALL""").fetchall()
    assert rejected == [
        ("indicator_reports", "any_present", 1),            # CMP-03 with numerator 'N/A' and no value
        ("indicator_reports", "column_compare", 1),         # ENF-04 numerator above denominator
        ("indicator_reports", "isin", 1),                   # 'Nuevo Leon x'
        ("indicator_reports", "less_than_or_equal_to", 1),  # a period ending in 2031
        ("indicator_reports", "rate_parts", 1),             # the same CMP-03 row: a percentage needs its parts
        ("indicator_reports", "unique", 1),                 # the second copy of MAP_2023 row 3 (row 4)
        ("outcomes", "isin", 1),                            # significance 'muy alta'
        ("participants", "any_present", 1),                 # no identifier at all
        ("participants", "in_range", 1),                    # age 7
        ("participants", "str_matches", 1),                 # an invalid CURP
    ]
    quarantined = connection.execute(
        "SELECT file FROM load_audit WHERE status = 'quarantined'").fetchall()
    assert quarantined == []
    # 62 data rows, counted with csv.reader over the file decoded as cp1252: AWR-01 has 1 + 3 + 11 rows in
    # 2021 H1 and 1 + 4 + 22 in H2 (total, each sex and each state with attendance), CAP-01 1 + 7 per
    # semester, CAP-02 and CAP-03 1 each: 15 + 27 + 16 + 4.
    assert connection.execute("SELECT rows_read, rows_loaded, notes FROM load_audit "
                              "WHERE file = 'indicator_reports/SC-WORKERS_2021_latin1.csv'").fetchall() == [
        (62, 62, "read as Windows-1252 (the file is not UTF-8; Latin-1 text reads the same)")]


def test_every_indicator_has_published_values(sample_run):
    *_, folder = sample_run
    marts = duckdb.connect(str(folder / "marts" / "mel.duckdb"), read_only=True)
    published = {code for (code,) in marts.execute("SELECT DISTINCT indicator_code FROM indicator_values").fetchall()}
    catalogue = {sheet.code for sheet in load_registry(REPO_ROOT / "indicators", SOURCES)}
    assert catalogue - published == set()
    themes = {theme for (theme,) in marts.execute("SELECT DISTINCT theme FROM theme_scorecard").fetchall()}
    assert themes == {"awareness", "capacity", "enforcement", "compliance", "cla"}


def test_the_sample_marts_match_the_golden_digest(sample_run):
    """A published figure changes only in a commit that names the bug it fixes and updates
    tests/golden/sample_marts.json with it: `MEL_UPDATE_GOLDEN=1 make test` rewrites the file."""
    *_, folder = sample_run
    published = golden_digest(folder / "marts" / "mel.duckdb")
    if os.environ.get("MEL_UPDATE_GOLDEN") == "1":
        lines = (f"  {json.dumps(name)}: {json.dumps(pinned)}" for name, pinned in sorted(published.items()))
        GOLDEN_DIGEST.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    assert published == json.loads(GOLDEN_DIGEST.read_text(encoding="utf-8"))


OLDER_READER = REPO_ROOT / ".venv-duckdb-1.0" / "bin" / "python"  # made by `make older-reader`


def test_duckdb_1_0_opens_the_marts_and_reads_every_table(sample_run):
    """Analysts' R packages, DBeaver drivers and CLIs lag behind: the marts are written in a format DuckDB 1.0 reads."""
    if not OLDER_READER.exists():
        if os.environ.get("CI"):
            pytest.fail("make older-reader did not install DuckDB 1.0 for this test")
        pytest.skip("DuckDB 1.0 is not installed: `make older-reader` (make test does it)")
    *_, folder = sample_run
    marts = folder / "marts" / "mel.duckdb"
    current = duckdb.connect(str(marts), read_only=True)
    expected = {table: current.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for (table,) in current.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    current.close()
    script = ("import duckdb, json, sys\n"
              "c = duckdb.connect(sys.argv[1], read_only=True)\n"
              "tables = [t for (t,) in c.execute('SELECT table_name FROM duckdb_tables()').fetchall()]\n"
              "print(json.dumps({'version': duckdb.__version__,\n"
              "                  'rows': {t: c.execute(f'SELECT count(*) FROM (SELECT * FROM {t})').fetchone()[0] for t in tables}}))")
    result = subprocess.run([str(OLDER_READER), "-c", script, str(marts)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    read = json.loads(result.stdout)
    assert read["version"] == "1.0.0"
    assert read["rows"] == expected and expected["indicator_values"] > 1000


def test_mel_check_names_file_row_and_column_and_exits_1(sample_raw):
    bad = sample_raw / "outcomes" / "outcomes.csv"
    completed = subprocess.run([sys.executable, "-m", "mel_pipeline.cli", "check", str(bad), "--source", "outcomes"],
                               capture_output=True, text=True, env={"MEL_RAW_DIR": str(sample_raw), "PATH": ""},
                               cwd=REPO_ROOT)
    assert completed.returncode == 1
    assert (f"{bad}:8: significance: 'muy alta' is not an allowed significance: use one of high, low, medium"
            in completed.stdout.splitlines())
    good = sample_raw / "msc_stories" / "msc_stories.csv"
    completed = subprocess.run([sys.executable, "-m", "mel_pipeline.cli", "check", str(good), "--source", "msc_stories"],
                               capture_output=True, text=True, env={"MEL_RAW_DIR": str(sample_raw), "PATH": ""},
                               cwd=REPO_ROOT)
    assert completed.returncode == 0, completed.stdout
    assert completed.stdout.strip().endswith("30 rows read, 30 valid, 0 rejected")


def test_after_one_grantee_file_changes_a_refresh_redoes_only_what_reads_it_and_matches_a_full_one(
        tmp_path, sample_raw):
    raw = tmp_path / "raw"
    shutil.copytree(sample_raw, raw)
    incremental, fresh = tmp_path / "incremental", tmp_path / "fresh"

    def loaded_at(folder: Path) -> dict:
        with warehouse(folder) as connection:
            return dict(connection.execute("SELECT file, loaded_at FROM load_audit").fetchall())

    def computed_at(folder: Path) -> dict:
        with warehouse(folder) as connection:
            return dict(connection.execute("SELECT indicator_code, computed_at FROM indicator_inputs").fetchall())

    assert mel_run(raw, incremental)[0] == 0
    files_before, indicators_before = loaded_at(incremental), computed_at(incremental)
    edited = raw / "indicator_reports" / "CALLE_2021.csv"
    text = edited.read_text(encoding="utf-8")
    # CALLE's ENF-01 total for 2021 H1, one more follow-up: 88 / 199 = 44.2%.
    assert text.count(",87,199,43.7,") == 1
    edited.write_text(text.replace(",87,199,43.7,", ",88,199,44.2,"), encoding="utf-8")
    assert mel_run(raw, incremental)[0] == 0
    assert mel_run(raw, fresh)[0] == 0

    files_after, indicators_after = loaded_at(incremental), computed_at(incremental)
    assert [file for file in files_after if files_after[file] != files_before[file]] == [
        "indicator_reports/CALLE_2021.csv"]
    reading_reports = {sheet.code for sheet in load_registry(REPO_ROOT / "indicators", SOURCES)
                       if "indicator_reports" in sheet.data_sources}
    assert {code for code in indicators_after if indicators_after[code] != indicators_before[code]} == reading_reports
    assert digest(incremental / "marts" / "mel.duckdb", LOAD_TIME) == digest(fresh / "marts" / "mel.duckdb", LOAD_TIME)
