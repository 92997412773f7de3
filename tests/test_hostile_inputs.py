"""Hostile and broken input: each file of tests/hostile/ dropped beside the sample's files of its source.

Every file there is named for its defect and listed in tests/hostile/README.md. A file is ingested into
a copy of a warehouse that already holds the whole sample, together with a copy of one of the
sample's valid files named to be read after it, so the run reads the hostile file and then a good one.
For each file the test asserts its exact outcome (quarantined with a message naming it, or exactly
these rejections by row, column and check), that rows read = rows loaded + rows rejected + rows
superseded for every file of the source, and that every valid file of the source is still loaded,
unchanged. Outcomes are compared as each file was staged, before the keys repeated across files
are settled (`AS_STAGED`): the copy, and corpus rows under the sample's keys, are resubmissions, whose
settling tests/test_ingest.py checks; here their rows count as loaded and are looked for among the
rows set aside as well as among those staged.

Files too large to keep in the repository (a 100 MB cell, a sheet claiming every Excel column) are
written at test time and ingested in a subprocess, with a timeout, whose memory growth is measured.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from openpyxl import Workbook

from mel_pipeline.indicators.engine import build_indicator_values, build_sentinel_signals, create_shared_views
from mel_pipeline.marts.publish import publish_marts
from mel_pipeline.reference.catalogue import load_registry, shared_views_sql, write_catalog
from mel_pipeline.settings import REPO_ROOT
from mel_pipeline.staging.contract import LOAD_ORDER, SOURCES
from mel_pipeline.staging.ingest import ingest_source
from mel_pipeline.warehouse import open_warehouse
from tests.conftest import FIXTURE_AS_OF, settings_for

HOSTILE = Path(__file__).resolve().parent / "hostile"
MB = 1 << 20
# Sorts after every corpus file name, so this valid copy is read after the hostile file in the same run.
AFTER_PREFIX = "zz_valid_after_"


@dataclass(frozen=True)
class Loaded:
    """The file is read: so many rows, these (row, column, check) rejections, optionally staged values."""

    read: int
    loaded: int
    rejections: tuple[tuple[int, str | None, str], ...] = ()
    notes: str | None = None
    staged: tuple[str, list[tuple]] | None = None  # (columns, rows in file order) of what was staged


@dataclass(frozen=True)
class Quarantined:
    """The whole file is refused with one error that names it and says this."""

    says: str


@dataclass(frozen=True)
class NotRead:
    """The file gets an audit row with this status and note, and nothing is read from it."""

    status: str
    notes: str


FUTURE = "less_than_or_equal_to"


EXPECTED = {
    # -- encodings, byte-order marks, line endings, delimiters, number formats
    "indicator_reports/latin1_encoding.csv": Loaded(
        2, 2, notes="read as Windows-1252 (the file is not UTF-8; Latin-1 text reads the same)", staged=("state", [("total",), ("Querétaro",)])),
    "indicator_reports/windows1252_smart_quotes.csv": Loaded(
        2, 2, notes="read as Windows-1252 (the file is not UTF-8; Latin-1 text reads the same)", staged=("notes", [(None,), ("\u201crevisado\u201d \u2013 ok",)])),
    "participants/utf16_byte_order_mark.csv": Loaded(1, 1, notes="read as UTF-16"),
    "indicator_reports/utf8_byte_order_mark.csv": Loaded(
        2, 2, staged=("project_code, value, numerator", [("MAP", 40.0, None), ("CALLE", None, 12.0)])),
    "indicator_reports/crlf_line_endings.csv": Loaded(
        2, 2, staged=("project_code, value, numerator", [("MAP", 40.0, None), ("CALLE", None, 12.0)])),
    "indicator_reports/cr_only_line_endings.csv": Loaded(
        2, 2, staged=("project_code, value, numerator", [("MAP", 40.0, None), ("CALLE", None, 12.0)])),
    "feedback/cr_only_line_endings.csv": Loaded(2, 2, notes="ignored unknown column(s): _index"),
    "indicator_reports/excel_crlf_with_line_breaks_in_cells.csv": Loaded(
        2, 2, staged=("notes", [("primera linea\nsegunda linea",), (None,)])),
    "indicator_reports/mixed_crlf_and_lf_line_endings.csv": Loaded(
        3, 3, staged=("value, notes, _row_number", [(40.0, "enviado", 2), (41.0, "corregido", 3),
                                                    (42.0, "corregido", 4)])),
    "indicator_reports/semicolon_delimiter.csv": Loaded(
        3, 3, staged=("numerator, notes", [(None, None), (12.0, None), (15.0, "nota, con coma")])),
    "sentinel/thousands_separators.csv": Loaded(2, 2, staged=("value", [(1430.0,), (12345.5,)])),
    "indicator_reports/na_and_dash_in_numeric_cells.csv": Loaded(5, 1, (
        (2, "value", "any_present"), (3, "numerator", "rate_parts"), (3, "value", "any_present"),
        (4, "numerator", "rate_parts"), (5, "value", "any_present"))),
    "sentinel/nan_and_infinity_values.csv": Loaded(4, 1, ((3, "value", "dtype"), (4, "value", "dtype"),
                                                          (5, "value", "dtype"))),
    # -- numbers and dates as grantees write them: a separator read only where one reading is possible
    "indicator_reports/ambiguous_thousands_separators.csv": Loaded(
        4, 3, ((3, "value", "ambiguous_number"),),
        staged=("value, numerator, denominator", [(1927.0, None, None), (None, 1040.0, 1052.0), (50.0, 30.0, 60.0)])),
    "indicator_reports/submitted_in_us_date_order.csv": Loaded(2, 1, ((2, "submitted_on", "column_compare"),)),
    "feedback/answers_written_as_words.csv": Loaded(
        2, 1, ((3, "enforcement_improved", "dtype"),), notes="ignored unknown column(s): _index"),
    # -- spreadsheets
    "indicator_reports/merged_two_level_header.xlsx": Loaded(
        2, 2, staged=("sex, value, _row_number", [("total", 40.0, 4), ("female", 25.0, 5)])),
    "indicator_reports/hidden_sheets_before_the_data.xlsx": Loaded(
        1, 1, notes="ignored hidden sheet 'version_anterior'; ignored veryHidden sheet 'calculos'",
        staged=("period_start::VARCHAR, value", [("2022-01-01", 40.0)])),
    "cla_log/dimension_understates_rows.xlsx": Loaded(5, 5),
    "cla_log/rows_beyond_excel_limit.xlsx": Quarantined(
        "sheet 'Sheet' has more than 1,048,576 rows, more than Excel allows, so it was not saved by Excel and cannot be "
        "checked in it; split it into workbooks of at most 1,048,576 rows each, the header included"),
    "cla_log/empty_sheet.xlsx": Quarantined(
        "cla_log/empty_sheet.xlsx: sheet 'Sheet' is empty in its first 20 rows, where the header must be; put the source's column names (docs/data-contract.md) in the "
        "row above the data"),
    "cla_log/truncated.xlsx": Quarantined(
        "not a readable .xlsx workbook (BadZipFile: File is not a zip file); open it in Excel or LibreOffice and save "
        "it again as .xlsx, or ask for it again"),
    "projects/legacy_xls_renamed.xlsx": Quarantined(
        "this is a legacy .xls workbook renamed .xlsx; open it in Excel or LibreOffice and save it as .xlsx"),
    # -- keys, dates, ranges, cross-field and cross-source rules, codes
    "indicator_reports/duplicate_keys.csv": Loaded(3, 1, ((2, "project_code", "unique"), (4, "project_code", "unique"))),
    "outcomes/duplicate_outcome_ids.csv": Loaded(2, 0, ((2, "outcome_id", "unique"), (3, "outcome_id", "unique"))),
    # Rows 2 and 4 are one submission exported twice (only the ignored _index differs): row 2 is kept.
    "feedback/duplicate_submission_ids.csv": Loaded(
        3, 2, ((4, "submission_id", "unique"),), notes="ignored unknown column(s): _index"),
    "participants/same_person_twice_in_an_event.csv": Loaded(
        2, 0, ((2, "project_code", "unique"), (3, "project_code", "unique"))),
    "projects/end_before_start_and_duplicate_code.csv": Loaded(3, 0, (
        (2, "project_code", "unique"), (3, "start_date", "column_compare"), (4, "project_code", "unique"),
        (4, "themes", "str_matches"))),
    "indicator_reports/period_in_the_future.csv": Loaded(
        2, 1, ((3, "period_end", FUTURE), (3, "period_start", "within_project_dates"))),
    "indicator_reports/period_outside_the_project.csv": Loaded(
        3, 1, ((3, "period_start", "within_project_dates"), (4, "period_start", "within_project_dates"))),
    "participants/dates_outside_project_and_future.csv": Loaded(3, 1, (
        (3, "event_date", "within_project_dates"), (4, "event_date", FUTURE),
        (4, "event_date", "within_project_dates"))),
    "msc_stories/dates_before_2015_and_future.csv": Loaded(
        3, 1, ((3, "story_date", "greater_than_or_equal_to"), (4, "story_date", FUTURE))),
    "feedback/submitted_in_the_future.csv": Loaded(
        2, 1, ((3, "submitted_at", FUTURE),), notes="ignored unknown column(s): _index"),
    "cla_log/resolved_before_entry_and_future.csv": Loaded(
        3, 1, ((3, "entry_date", "column_compare"), (4, "entry_date", FUTURE))),
    "indicator_reports/negative_counts.csv": Loaded(
        3, 1, ((3, "value", "greater_than_or_equal_to"), (4, "numerator", "greater_than_or_equal_to"))),
    "targets/negative_target_and_reversed_period.csv": Loaded(
        3, 1, ((3, "target", "greater_than_or_equal_to"), (4, "period_start", "column_compare"))),
    "participants/ages_and_scores_out_of_range.csv": Loaded(
        3, 0, ((2, "age", "in_range"), (3, "age", "dtype"), (4, "post_score", "in_range"))),
    "feedback/scores_out_of_range.csv": Loaded(3, 1, (
        (3, "coercion_observed", "in_range"), (3, "enforcement_improved", "in_range"), (4, "rights_known", "in_range")),
        notes="ignored unknown column(s): _index"),
    "indicator_reports/numerator_above_denominator.csv": Loaded(2, 1, ((3, "numerator", "column_compare"),)),
    "iati/period_end_before_start.xml": Loaded(
        2, 0, ((6, "period_start", "column_compare"), (7, "period_start", "column_compare"))),
    "indicator_reports/unknown_codes.csv": Loaded(5, 1, (
        (3, "indicator_code", "reference"), (4, "sex", "isin"), (5, "state", "isin"), (6, "project_code", "reference"))),
    "outcomes/unknown_codes.csv": Loaded(3, 1, ((3, "theme", "isin"), (4, "actor_type", "isin"))),
    "feedback/unknown_codes.csv": Loaded(4, 1, (
        (3, "stakeholder_group", "isin"), (4, "state", "isin"), (5, "project_code", "reference")),
        notes="ignored unknown column(s): _index"),
    "participants/invalid_identifiers.csv": Loaded(5, 1, (
        (3, "curp", "str_matches"), (4, "phone", "str_matches"), (5, "email", "str_matches"),
        (6, "curp", "any_present"))),
    # -- empty, truncated, damaged and mislabelled files
    "targets/zero_bytes.csv": Quarantined(
        "the file is empty (0 bytes); it was not exported or uploaded whole: send it again"),
    "msc_stories/header_only.csv": Loaded(0, 0),
    "sentinel/blank_first_line.csv": Quarantined(
        "line 1 is blank; delete the blank lines above the header, which must be line 1"),
    "indicator_reports/title_rows_above_header.csv": Quarantined(
        "the header lacks required column(s): project_code (or proyecto/codigo_proyecto), indicator_code (or "
        "codigo_indicador/indicador), period_start (or periodo_inicio/inicio_periodo), period_end (or "
        "periodo_fin/fin_periodo); name them as docs/data-contract.md does (a CSV file's header is its line 1: delete "
        "any title lines above it)"),
    "participants/two_columns_meaning_name.csv": Quarantined(
        "the header has columns 'nombre' and 'nombre_completo', which both mean 'full_name'; keep one and delete the "
        "other"),
    "targets/unsupported_extension.json": Quarantined("'.json' files are not accepted here"),
    "participants/binary_garbage.csv": Quarantined(
        "binary content (a NUL byte at byte 4); this is not a text file: export the data as 'CSV UTF-8' or .xlsx"),
    "msc_stories/binary_without_nul_bytes.csv": Quarantined("not valid UTF-8 (byte 0xbf at line 1, byte 0)"),
    "indicator_reports/truncated_mid_row.csv": Loaded(3, 2, ((4, "sex", "malformed_row"),)),
    "indicator_reports/unterminated_quote_on_last_row.csv": Loaded(3, 2, ((4, "notes", "malformed_row"),)),
    "indicator_reports/unterminated_quote_mid_file.csv": Loaded(
        4, 3, ((3, "notes", "malformed_row"),),
        staged=("project_code, value, numerator, _row_number", [("MAP", 40.0, None, 2), ("CALLE", None, 12.0, 4),
                                                                ("CALLE", None, 13.0, 5)])),
    "feedback/ragged_rows.csv": Loaded(
        4, 2, ((3, None, "malformed_row"), (4, None, "malformed_row")), notes="ignored unknown column(s): _index"),
    "feedback/unterminated_quote.csv": Quarantined("unreadable CSV in the record starting at line 3"),
    "outcomes/multiline_quoted_cells.csv": Loaded(
        2, 1, ((3, "outcome_date", "dtype"),),
        staged=("description", [("Workers asked the CFCRL\nfor a consultation,\non their contract.",)])),
    "indicator_reports/formula_text_cells.csv": Loaded(4, 4, staged=("notes", [
        ('=HYPERLINK("http://example.invalid/?x="&A1,"ver")',), ("+52 1 555 0000",),
        ("@SUM(1+1)*cmd|' /C calc'!A0",), ("-2+3",)])),
    # -- workbooks with several sheets, and formulas never computed (readers: sheets, formula cells)
    "indicator_reports/two_data_sheets.xlsx": Loaded(
        7, 5, ((4, "value", "greater_than_or_equal_to"), (5, "project_code", "unique"))),
    "indicator_reports/summary_sheet_before_the_data.xlsx": Loaded(
        2, 1, ((3, "indicator_code", "reference"),),
        notes="not read: sheet 'Resumen': the header lacks required column(s): period_start (or periodo_inicio/inicio_periodo), "
              "period_end (or periodo_fin/fin_periodo)"),
    "indicator_reports/no_sheet_with_the_columns.xlsx": Quarantined(
        "indicator_reports/no_sheet_with_the_columns.xlsx: no visible sheet is a table of this source: sheet "
        "'Instrucciones' has no header row: none of its first 20 rows names two or more of this source's columns "
        "(project_code, indicator_code, period_start, period_end, ...); sheet 'Resumen': the header lacks required column(s): "
        "period_start (or periodo_inicio/inicio_periodo), period_end (or periodo_fin/fin_periodo); put the source's "
        "column names (docs/data-contract.md) in the row above the data"),
    "indicator_reports/formula_without_computed_value.xlsx": Loaded(
        3, 2, ((4, "value", "malformed_row"),), notes="ignored unknown column(s): control"),
    # -- UTF-16 without a byte-order mark (readers: encodings)
    "indicator_reports/utf16le_without_byte_order_mark.csv": Loaded(
        2, 2, notes="read as UTF-16 (little-endian, without a byte-order mark)",
        staged=("state, notes", [("total", None), ("Querétaro", "revisado \u2013 ok")])),
    "indicator_reports/utf16be_without_byte_order_mark.csv": Loaded(
        2, 2, notes="read as UTF-16 (big-endian, without a byte-order mark)",
        staged=("state, notes", [("total", None), ("Querétaro", "revisado \u2013 ok")])),
    # -- XML
    "iati/external_entity_xxe.xml": Quarantined("line 2 declares a DTD"),
    "iati/billion_laughs.xml": Quarantined("line 2 declares a DTD"),
    "iati/external_dtd_over_the_network.xml": Quarantined("line 2 declares a DTD"),
    "iati/truncated.xml": Quarantined("not well-formed XML at line 5, column 47"),
    "iati/not_an_iati_root.xml": Quarantined("the root element is <html>, not <iati-activities>"),
    "iati/deeply_nested_elements.xml": Quarantined("elements nested more than 64 deep at line 4"),
    # -- files in the folder that are not read (ingest accounting)
    "indicator_reports/.hidden_copy_of_a_report.csv": NotRead("hidden", (
        "not read: its name starts with '.', which hides a file (editors and the system keep their own files so); "
        "rename it without the leading '.' to have it loaded")),
    "cla_log/~$cla_log.xlsx": NotRead("hidden", (
        "not read: a name starting with '~$' is the owner file Office keeps while a workbook is open; "
        "if it holds data, rename it without the '~$' to have it loaded")),
}


def corpus() -> list[str]:
    """Every file of the corpus as 'source/name'."""
    return sorted(path.relative_to(HOSTILE).as_posix() for path in HOSTILE.glob("*/*"))


@dataclass(frozen=True)
class Template:
    """The sample, staged once: its raw folder, its warehouse file, and what each file gave."""

    raw: Path
    warehouse: Path
    audit: dict[str, tuple[str, int, int, int]]  # file -> (status, read, loaded, rejected)
    staged: dict[str, int]  # source -> staged rows


@pytest.fixture(scope="module")
def template(tmp_path_factory, sample_raw) -> Template:
    folder = tmp_path_factory.mktemp("template")
    raw = folder / "raw"
    shutil.copytree(sample_raw, raw)
    settings = settings_for(folder, raw, as_of=FIXTURE_AS_OF)
    with open_warehouse(settings) as connection:
        write_catalog(connection, load_registry(settings.indicators_dir, SOURCES))
        for source in LOAD_ORDER:
            ingest_source(connection, settings, source)
        audit = {file: tuple(rest) for file, *rest in connection.execute(
            "SELECT file, status, rows_read, rows_loaded, rows_rejected FROM load_audit").fetchall()}
        staged = {source: connection.execute(f"SELECT count(*) FROM stg_{source}").fetchone()[0]
                  for source in LOAD_ORDER}
    return Template(raw, settings.warehouse_path, audit, staged)


def valid_file(template: Template, source: str) -> str:
    """The first file of the source that the sample reads (some have a deliberate bad row)."""
    return min(file for file, (status, read, _, _) in template.audit.items()
               if file.startswith(source + "/") and status == "loaded" and read)


def account(connection, source: str) -> list[tuple]:
    """Per file of the source: (file, read, loaded + rejected + superseded, staged rows + distinct rejected rows +
    superseded rows held aside)."""
    return connection.execute(f"""
        SELECT a.file, a.rows_read, a.rows_loaded + a.rows_rejected + a.rows_superseded,
               (SELECT count(*) FROM stg_{source} s WHERE s._source_file = a.file)
               + (SELECT count(DISTINCT r.row_number) FROM rejected_rows r
                   WHERE r.source = a.source AND r.file = a.file AND r.severity = 'row')
               + (SELECT count(*) FROM resubmitted_{source} h WHERE h._source_file = a.file)
               - (SELECT count(*) FROM rejected_rows r
                   WHERE r.source = a.source AND r.file = a.file AND r."check" = 'resubmission')
        FROM load_audit a WHERE a.source = ? ORDER BY a.file""", [source]).fetchall()


# Each file's audit row as the file was staged, before keys repeated across files were settled: the rows
# superseded and those rejected as conflicting resubmissions count as loaded.
AS_STAGED = """
    SELECT file, status, rows_read, rows_loaded + rows_superseded + conflicts, rows_rejected - conflicts, notes
    FROM (SELECT a.*, (SELECT count(*) FROM rejected_rows r WHERE r.source = a.source AND r.file = a.file
                       AND r."check" = 'resubmission') AS conflicts FROM load_audit a WHERE a.source = ?)"""

CASES = [pytest.param(relative, expected, id=relative) if isinstance(expected, (Loaded, Quarantined, NotRead))
         else pytest.param(relative, *expected.values, marks=expected.marks, id=relative)
         for relative, expected in EXPECTED.items()]


@pytest.mark.parametrize("relative, expected", CASES)
def test_a_hostile_file_gets_its_exact_outcome_and_the_valid_files_still_load(template, tmp_path, relative, expected):
    source, name = relative.split("/")
    raw = tmp_path / "raw"
    for folder in {"projects", source}:
        shutil.copytree(template.raw / folder, raw / folder)
    shutil.copy(HOSTILE / relative, raw / source / name)
    valid = valid_file(template, source)
    after = f"{source}/{AFTER_PREFIX}{Path(valid).name}"
    shutil.copy(template.raw / valid, raw / after)
    settings = settings_for(tmp_path, raw, as_of=FIXTURE_AS_OF)
    settings.warehouse_path.parent.mkdir(parents=True)
    shutil.copy(template.warehouse, settings.warehouse_path)

    with open_warehouse(settings) as connection:
        result = ingest_source(connection, settings, source)
        audit = {file: tuple(rest) for file, *rest in connection.execute(AS_STAGED, [source]).fetchall()}
        rejections = connection.execute(
            'SELECT row_number, "column", "check", message, severity FROM rejected_rows WHERE file = ? '
            'AND "check" <> \'resubmission\' ORDER BY row_number, "column", "check"', [relative]).fetchall()
        accounts = account(connection, source)
        every_row = f"(SELECT * FROM stg_{source} UNION ALL SELECT * FROM resubmitted_{source})"
        staged_total = connection.execute(f"SELECT count(*) FROM {every_row}").fetchone()[0]
        staged = (connection.execute(f"SELECT {expected.staged[0]} FROM {every_row} WHERE _source_file = ? "
                                     "ORDER BY _row_number", [relative]).fetchall()
                  if isinstance(expected, Loaded) and expected.staged else None)

    status, read, loaded, rejected, notes = audit.pop(relative)
    if isinstance(expected, Quarantined):
        assert (status, read, loaded, rejected) == ("quarantined", 0, 0, 0)
        [(row, column, check, message, severity)] = rejections
        assert (row, column, check, severity) == (None, None, "file_unreadable", "error")
        assert message.startswith(f"{relative}: ") and expected.says in message, message
        assert [file.status for file in result.files if file.file == relative] == ["quarantined"]
    elif isinstance(expected, NotRead):
        assert (status, read, loaded, rejected, notes) == (expected.status, 0, 0, 0, expected.notes)
        assert rejections == []
    else:
        assert (status, read, loaded, rejected) == ("loaded", expected.read, expected.loaded,
                                                    expected.read - expected.loaded)
        assert [(row, column, check) for row, column, check, *_ in rejections] == list(expected.rejections)
        assert notes == expected.notes
        if expected.staged:
            assert staged == expected.staged[1]
    # The valid copy read after the hostile file loads whole; every sample file of the source is untouched.
    assert audit.pop(after)[:4] == template.audit[valid]
    assert {file: counts[:4] for file, counts in audit.items()} == {
        file: counts for file, counts in template.audit.items() if file.startswith(source + "/")}
    for file, read_rows, accounted, counted in accounts:
        assert read_rows == accounted == counted, file
    hostile_loaded = expected.loaded if isinstance(expected, Loaded) else 0
    assert staged_total == template.staged[source] + hostile_loaded + template.audit[valid][2]


def test_every_corpus_file_has_an_expected_outcome_and_a_line_in_the_readme():
    assert corpus() == sorted(EXPECTED)
    readme = (HOSTILE / "README.md").read_text(encoding="utf-8")
    listed = sorted(line.split("|")[1].strip().strip("`") for line in readme.splitlines()
                    if line.startswith("| `"))
    assert listed == corpus()
    assert len(corpus()) >= 30


# -- Large files, generated at test time and ingested in a subprocess with a timeout.

MEASURE = textwrap.dedent("""
    import datetime as dt, json, resource, sys, time
    from pathlib import Path
    from mel_pipeline.reference.catalogue import load_registry, write_catalog
    from mel_pipeline.staging.contract import SOURCES
    from mel_pipeline.staging.ingest import ingest_source
    from mel_pipeline.settings import Settings
    from mel_pipeline.warehouse import open_warehouse

    raw, warehouse, source = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    settings = Settings.from_env(raw_dir=raw, warehouse_path=warehouse, marts_dir=warehouse.parent / "marts",
                                 as_of=dt.date(2025, 12, 31))
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with open_warehouse(settings) as connection:
        write_catalog(connection, load_registry(settings.indicators_dir, SOURCES))
        ingest_source(connection, settings, "projects")
        ingest_source(connection, settings, source)
        audit = connection.execute("SELECT file, status, rows_read, rows_loaded, rows_rejected FROM load_audit "
                                   "WHERE source = ? ORDER BY file", [source]).fetchall()
        rejections = connection.execute('SELECT file, row_number, "column", "check", message FROM rejected_rows '
                                        "WHERE source = ? ORDER BY file, row_number", [source]).fetchall()
    print(json.dumps({"audit": audit, "rejections": rejections, "seconds": time.monotonic() - started,
                      "growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline) / 1024,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")


def ingest_in_subprocess(tmp_path: Path, sample_raw: Path, source: str, valid: str, big: str, write,
                         memory_limit: str = "256MB") -> dict:
    """Ingest a valid sample file and a generated big one in a fresh process; its outcome and memory use."""
    raw = tmp_path / "raw"
    shutil.copytree(sample_raw / "projects", raw / "projects")
    (raw / source).mkdir()
    shutil.copy(sample_raw / source / valid, raw / source / valid)
    write(raw / source / big)
    environment = {"PATH": "", "MEL_DUCKDB_MEMORY_LIMIT": memory_limit, "MEL_DUCKDB_THREADS": "2",
                   "MEL_SETTLING_SECONDS": "0"}  # the big file was written just now, on purpose
    completed = subprocess.run([sys.executable, "-c", MEASURE, str(raw), str(tmp_path / "warehouse" / "mel.duckdb"),
                                source], capture_output=True, text=True, cwd=REPO_ROOT, env=environment, timeout=180)
    assert completed.returncode == 0, completed.stderr[-3000:]
    # DuckDB may draw a progress bar above the result on a busy machine: the result is the last line.
    outcome = json.loads(completed.stdout.splitlines()[-1])
    outcome["audit"] = {file: tuple(rest) for file, *rest in outcome["audit"]}
    return outcome


def write_with_giant_cell(path: Path, head: str, opening: str, closing: str, size: int = 100 * MB) -> None:
    """`head`, then `opening`, `size` bytes of 'x' in one cell, `closing`: written in blocks, never held whole."""
    block = "x" * MB
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(head + opening)
        for _ in range(size // MB):
            handle.write(block)
        handle.write(closing)


REPORT_HEADER = "project_code,indicator_code,period_start,period_end,sex,state,numerator,denominator,value,notes\n"


def write_report_with_giant_note(path: Path) -> None:
    write_with_giant_cell(path, REPORT_HEADER + "MAP,AWR-01,2022-01-01,2022-06-30,,,,,40,\n",
                          'MAP,AWR-01,2022-07-01,2022-12-31,,,,,41,"', '"\nMAP,AWR-01,2023-01-01,2023-06-30,,,,,42,\n')


@pytest.mark.slow
def test_a_100_mb_cell_rejects_only_its_row_within_bounded_memory(tmp_path, sample_raw):
    # MAP_2021.csv holds none of the keys of the giant file's rows, which would otherwise be resubmissions.
    outcome = ingest_in_subprocess(tmp_path, sample_raw, "indicator_reports", "MAP_2021.csv", "giant_cell.csv",
                                   write_report_with_giant_note)
    assert outcome["audit"]["indicator_reports/giant_cell.csv"] == ("loaded", 3, 2, 1)
    assert outcome["audit"]["indicator_reports/MAP_2021.csv"][0] == "loaded"
    assert [(file, row, check) for file, row, _, check, _ in outcome["rejections"]
            if file.endswith("giant_cell.csv")] == [("indicator_reports/giant_cell.csv", 3, "malformed_row")]
    # DuckDB scans in buffers of its own, whatever the cell's size: the whole process stays under 1 GiB.
    assert outcome["peak_mb"] < 1024, outcome


@pytest.mark.slow
def test_a_100_mb_line_in_a_survey_export_is_refused_before_it_is_held_whole(tmp_path, sample_raw):
    header = '"datos/proyecto";"datos/grupo_actor";"datos/estado";"_uuid";"_submission_time";"comentarios"\n'
    row = '"MAP";"trabajador";"Puebla";"{}";"2022-05-01T10:00:00";'

    def write(path):
        write_with_giant_cell(path, header + row.format("u1") + '"ok"\n', row.format("u2") + '"',
                              '"\n' + row.format("u3") + '"ok"\n')

    outcome = ingest_in_subprocess(tmp_path, sample_raw, "feedback", "kobo_encuesta_actores.csv", "giant_line.csv",
                                   write)
    assert outcome["audit"]["feedback/giant_line.csv"] == ("quarantined", 0, 0, 0)
    assert outcome["audit"]["feedback/kobo_encuesta_actores.csv"] == ("loaded", 240, 240, 0)
    [message] = [message for file, *_, message in outcome["rejections"] if file.endswith("giant_line.csv")]
    assert message.startswith("feedback/giant_line.csv: line 3 is longer than 8,388,608 characters")
    assert outcome["growth_mb"] < 100, outcome


@pytest.mark.slow
def test_a_100_mb_text_in_iati_xml_is_refused_as_it_streams_in(tmp_path, sample_raw):
    def write(path):
        write_with_giant_cell(path, "<?xml version='1.0' encoding='UTF-8'?>\n<iati-activities version=\"2.03\">\n",
                              "<iati-activity><iati-identifier>X</iati-identifier><result type=\"1\"><title>"
                              "<narrative>", "</narrative></title></result></iati-activity></iati-activities>\n")

    outcome = ingest_in_subprocess(tmp_path, sample_raw, "iati", "portfolio_results.xml", "giant_text.xml", write)
    assert outcome["audit"]["iati/giant_text.xml"] == ("quarantined", 0, 0, 0)
    # The sample's 115 baseline and target and 190 actual elements, counted in the file with grep.
    assert outcome["audit"]["iati/portfolio_results.xml"] == ("loaded", 305, 305, 0)
    [message] = [message for file, *_, message in outcome["rejections"] if file.endswith("giant_text.xml")]
    assert message.startswith("iati/giant_text.xml: a text longer than 1,000,000 characters at line 3")
    assert outcome["growth_mb"] < 100, outcome


def write_sheet_claiming_every_column(path: Path, rows: int = 10_000) -> None:
    """A cla_log sheet whose dimension claims A1:XFD1048576 and whose header has a stray cell in XFD1."""
    workbook = Workbook()
    workbook.save(path)
    columns = ["entry_id", "project_code", "entry_type", "entry_date", "description", "status"]

    def row(number, values):
        return f'<row r="{number}">' + "".join(
            f'<c r="{chr(65 + index)}{number}" t="inlineStr"><is><t>{value}</t></is></c>'
            for index, value in enumerate(values))

    with zipfile.ZipFile(path) as source:
        parts = {item.filename: source.read(item.filename) for item in source.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            if name != "xl/worksheets/sheet1.xml":
                target.writestr(name, data)
        with target.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                        b'<dimension ref="A1:XFD1048576"/><sheetData>')
            sheet.write((row(1, columns) + '<c r="XFD1" t="inlineStr"><is><t>x</t></is></c></row>').encode())
            for number in range(2, rows + 2):
                values = [f"CLA-X{number}", "MAP", "feedback_item", "2022-03-01", "Pregunta sobre el taller", "open"]
                sheet.write((row(number, values) + "</row>").encode())
            sheet.write(b"</sheetData></worksheet>")


@pytest.mark.slow
def test_a_sheet_claiming_every_excel_column_costs_no_more_than_its_table(tmp_path, sample_raw):
    outcome = ingest_in_subprocess(tmp_path, sample_raw, "cla_log", "cla_log.xlsx", "every_column.xlsx",
                                   write_sheet_claiming_every_column)
    assert outcome["audit"]["cla_log/every_column.xlsx"] == ("loaded", 10_000, 10_000, 0)
    assert outcome["audit"]["cla_log/cla_log.xlsx"] == ("loaded", 120, 120, 0)
    # Padding each row to the 16,384 columns the sheet claims would take gigabytes and minutes.
    assert outcome["growth_mb"] < 150 and outcome["seconds"] < 60, outcome


@pytest.mark.slow
def test_a_file_too_large_for_the_memory_limit_is_quarantined_not_fatal(tmp_path, sample_raw):
    outcome = ingest_in_subprocess(tmp_path, sample_raw, "indicator_reports", "MAP_2022.csv", "giant_cell.csv",
                                   write_report_with_giant_note, memory_limit="64MB")
    assert outcome["audit"]["indicator_reports/giant_cell.csv"][0] == "quarantined"
    assert outcome["audit"]["indicator_reports/MAP_2022.csv"][0] == "loaded"


def publish_from(tmp_path: Path, raw: Path, sources: list[str]) -> Path:
    """Ingest the given sources of `raw` with the real catalogue and publish marts from them; their path."""
    settings = settings_for(tmp_path, raw, as_of=FIXTURE_AS_OF)
    sheets = load_registry(settings.indicators_dir, SOURCES)
    with open_warehouse(settings) as connection:
        write_catalog(connection, sheets)
        for source in sources:
            ingest_source(connection, settings, source)
        create_shared_views(connection, shared_views_sql(settings.indicators_dir), settings)
        build_indicator_values(connection, sheets, settings.as_of)
        build_sentinel_signals(connection, settings.indicators_dir)
        return publish_marts(connection, settings).path


@pytest.mark.slow
def test_a_valid_sentinel_observation_without_a_label_does_not_veto_the_publish(tmp_path, sample_raw):
    from mel_pipeline.marts.quality import validate_marts

    raw = tmp_path / "raw"
    shutil.copytree(sample_raw / "projects", raw / "projects")
    (raw / "sentinel").mkdir()
    (raw / "sentinel" / "no_label.csv").write_text(
        "series_code,observed_on,geography,value,unit,label,source\n"
        "rights_inquiries_per_1000,2022-01-01,Puebla,4.5,,,hotline\n", encoding="utf-8")
    marts = publish_from(tmp_path, raw, ["projects", "sentinel"])
    assert validate_marts(marts, tmp_path / "quality").suite("sentinel_signals").passed
