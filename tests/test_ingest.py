"""Loading files into staging: one clean fixture, one fixture per defect, quarantine, incremental reloads."""

import datetime as dt
import os
import time
from pathlib import Path

from openpyxl import Workbook

import mel_pipeline.staging.ingest as ingest
from mel_pipeline.defs.automation import raw_file_hashes
from mel_pipeline.raw.files import RawFile, sha256_of
from mel_pipeline.reference.catalogue import IndicatorSheet, write_catalog
from mel_pipeline.settings import Settings
from mel_pipeline.staging.ingest import BATCH_BYTES, BATCH_FILES, csv_batches, ingest_source
from mel_pipeline.warehouse import open_warehouse
from tests.conftest import REFERENCE, settings_for

PROJECTS = """project_code,title,grantee,start_date,end_date,themes
CALLE,Improving Working Conditions,AIR,2019-12-15,2024-03-30,enforcement;cla
MAP,Mexico Awareness Raising,Partners of the Americas,2021-01-01,2025-06-30,awareness;cla
"""
HEADER = "project_code,indicator_code,period_start,period_end,sex,state,numerator,denominator,value\n"
CATALOG = [
    IndicatorSheet(code="ENF-01", name="Inspections followed up", theme="enforcement", unit="percent",
                   definition="Inspections followed up within 60 days / inspections.", direction="higher_is_better",
                   accumulation="incremental", aggregation="ratio", data_sources=["indicator_reports"],
                   approach="conventional", reported_by_grantees=True),
    IndicatorSheet(code="AWR-01", name="Workers trained", theme="awareness", unit="count",
                   definition="People who completed a labor-rights training.", direction="higher_is_better",
                   accumulation="incremental", aggregation="sum", data_sources=["indicator_reports"],
                   approach="conventional", reported_by_grantees=True),
]
CLEAN = HEADER + """CALLE,ENF-01,2022-01-01,2022-06-30,,,12,20,
CALLE,ENF-01,2022-01-01,2022-06-30,,Puebla,5,8,
MAP,AWR-01,2022-01-01,2022-06-30,,,,,40
"""


def write(raw: Path, relative: str, content: str | bytes) -> Path:
    path = raw / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def raw_folder(tmp_path: Path, files: dict[str, str | bytes], **overrides) -> Settings:
    """Write the projects register and `files` under tmp_path/raw; the settings of a run over them."""
    raw = tmp_path / "raw"
    write(raw, "projects/projects.csv", PROJECTS)
    for relative, content in files.items():
        write(raw, relative, content)
    return settings_for(tmp_path, raw, as_of=dt.date(2025, 12, 31), **overrides)


def load(tmp_path: Path, files: dict[str, str | bytes], source: str = "indicator_reports", **overrides):
    """Write `files`, then ingest the projects register, the catalogue and `source`; returns (result, audit
    rows, rejections, rows staged).

    `overrides` are settings of the run (e.g. `settling_seconds`)."""
    return ingest_into(raw_folder(tmp_path, files, **overrides), source)


def ingest_into(settings: Settings, source: str = "indicator_reports"):
    """`load` over the raw folder as it is."""
    with open_warehouse(settings) as connection:
        write_catalog(connection, CATALOG)
        ingest_source(connection, settings, "projects")
        result = ingest_source(connection, settings, source)
        audit = connection.execute(
            "SELECT file, status, rows_read, rows_loaded, rows_rejected FROM load_audit WHERE source = ? ORDER BY file",
            [source]).fetchall()
        rejected = connection.execute(
            'SELECT file, row_number, "column", "check", message FROM rejected_rows WHERE source = ? '
            "ORDER BY file, row_number, \"column\", \"check\"", [source]).fetchall()
        staged = connection.execute(f"SELECT count(*) FROM stg_{source}").fetchone()[0]
    return result, audit, rejected, staged


def test_clean_file_loads_every_row(tmp_path):
    _, audit, rejected, staged = load(tmp_path, {"indicator_reports/clean.csv": CLEAN})
    assert audit == [("indicator_reports/clean.csv", "loaded", 3, 3, 0)]
    assert rejected == [] and staged == 3


def test_one_bad_row_is_rejected_and_the_rest_kept(tmp_path):
    bad = CLEAN + "CALLE,ENF-01,2022-07-01,2022-12-31,,,9,4,\n"
    _, audit, rejected, staged = load(tmp_path, {"indicator_reports/bad.csv": bad})
    assert audit == [("indicator_reports/bad.csv", "loaded", 4, 3, 1)]
    assert rejected == [("indicator_reports/bad.csv", 5, "numerator", "column_compare",
                         "numerator (9) must be <= denominator (4)")]
    assert staged == 3


def test_cross_source_rules_use_the_registers(tmp_path):
    rows = HEADER + ("XYZ,ENF-01,2022-01-01,2022-06-30,,,1,2,\n"      # unknown project
                     "CALLE,ZZZ-99,2022-01-01,2022-06-30,,,1,2,\n"    # unknown indicator
                     "CALLE,ENF-01,2025-01-01,2025-06-30,,,1,2,\n"    # after CALLE ended (2024-03-30)
                     "CALLE,ENF-01,2022-01-01,2022-06-30,,,,,55\n")   # a percentage without its parts
    _, audit, rejected, _ = load(tmp_path, {"indicator_reports/x.csv": rows})
    assert audit == [("indicator_reports/x.csv", "loaded", 4, 0, 4)]
    assert [(row, column, check) for _, row, column, check, _ in rejected] == [
        (2, "project_code", "reference"), (3, "indicator_code", "reference"),
        (4, "period_start", "within_project_dates"), (5, "numerator", "rate_parts")]
    messages = [message for *_, message in rejected]
    assert messages == [
        "'XYZ' is not in the projects register",
        "'ZZZ-99' is not in the indicator catalogue (indicators grantees report)",
        "dates 2025-01-01 to 2025-06-30 fall outside project CALLE's dates (2019-12-15 to 2024-03-30)",
        "ENF-01 is a percentage: give its numerator and denominator, not only a value"]


def test_malformed_rows_keep_the_numbering_of_the_rows_after_them(tmp_path):
    rows = HEADER + ("CALLE,ENF-01,2022-01-01,2022-06-30,,,1,2,,extra\n"
                     "CALLE,ENF-01,2022-01-01,2022-06-30,,Puebla,1\n"
                     "CALLE,ENF-01,2022-07-01,2022-12-31,,,3,2,\n")
    _, audit, rejected, _ = load(tmp_path, {"indicator_reports/ragged.csv": rows})
    assert audit == [("indicator_reports/ragged.csv", "loaded", 3, 0, 3)]
    assert [(row, check) for _, row, _, check, _ in rejected] == [
        (2, "malformed_row"), (3, "malformed_row"), (4, "column_compare")]
    assert [message for *_, message in rejected[:2]] == [
        "line 2: the row has 10 cells where the header has 9", "line 3: the row has 7 cells where the header has 9"]


def test_an_unterminated_quote_costs_only_its_line_and_the_rows_after_it_load(tmp_path):
    rows = HEADER + ('MAP,AWR-01,2022-01-01,2022-06-30,,,,,40\n'
                     'MAP,AWR-01,2022-07-01,2022-12-31,,,,,"41\n'
                     'CALLE,ENF-01,2022-01-01,2022-06-30,,,12,20,\r\n'
                     'CALLE,ENF-01,2022-07-01,2022-12-31,,,13,20,\n')
    _, audit, rejected, staged = load(tmp_path, {"indicator_reports/open_quote.csv": rows})
    assert audit == [("indicator_reports/open_quote.csv", "loaded", 4, 3, 1)]
    assert [(row, column, check) for _, row, column, check, _ in rejected] == [(3, "value", "malformed_row")]
    assert rejected[0][4].startswith("line 3: a quote opened in this cell is never closed")
    assert staged == 3


def test_unreadable_files_are_quarantined_and_others_still_load(tmp_path):
    files = {
        "indicator_reports/a_clean.csv": CLEAN,
        "indicator_reports/b_undecodable.csv": (HEADER + "MAP,AWR-01,2022-01-01,2022-06-30,,Querétaro,,,4\n"
                                                ).encode("cp1252") + b"CALLE\x81\n",
        "indicator_reports/c_empty.csv": b"",
        "indicator_reports/d_binary.csv": bytes(range(256)) * 4,
        "indicator_reports/e_missing_column.csv": "project_code,period_start\nCALLE,2022-01-01\n",
        "indicator_reports/f_excel_named_csv.csv": b"PK\x03\x04rest-of-a-zip",
        "indicator_reports/g_notes.pdf": b"%PDF-1.4",
    }
    result, audit, rejected, staged = load(tmp_path, files)
    assert [(file, status) for file, status, *_ in audit] == [
        ("indicator_reports/a_clean.csv", "loaded"), ("indicator_reports/b_undecodable.csv", "quarantined"),
        ("indicator_reports/c_empty.csv", "quarantined"), ("indicator_reports/d_binary.csv", "quarantined"),
        ("indicator_reports/e_missing_column.csv", "quarantined"),
        ("indicator_reports/f_excel_named_csv.csv", "quarantined"), ("indicator_reports/g_notes.pdf", "quarantined")]
    assert staged == 3
    messages = {file: message for file, row, column, check, message in rejected}
    assert all(check == "file_unreadable" for *_, check, _ in rejected)
    assert messages["indicator_reports/b_undecodable.csv"] == (
        # the é of Querétaro: 90 bytes of header line + 38 bytes into line 2; 0x81, which Windows-1252 leaves
        # undefined, 5 bytes into line 3 (90 + 48 + 5)
        "indicator_reports/b_undecodable.csv: not valid UTF-8 (byte 0xe9 at line 2, byte 128) nor Windows-1252 "
        "(byte 0x81 at line 3, byte 143); save it as 'CSV UTF-8'")
    assert messages["indicator_reports/c_empty.csv"] == (
        "indicator_reports/c_empty.csv: the file is empty (0 bytes); it was not exported or uploaded whole: send it again")
    assert "binary content" in messages["indicator_reports/d_binary.csv"]
    assert messages["indicator_reports/e_missing_column.csv"] == (
        "indicator_reports/e_missing_column.csv: the header lacks required column(s): "
        "indicator_code (or codigo_indicador/indicador), period_end (or periodo_fin/fin_periodo); name them as "
        "docs/data-contract.md does (a CSV file's header is its line 1: delete any title lines above it)")
    assert "spreadsheet or archive" in messages["indicator_reports/f_excel_named_csv.csv"]
    assert "'.pdf' files are not accepted here" in messages["indicator_reports/g_notes.pdf"]
    assert len(result.quarantined) == 6


def test_excel_title_rows_and_hidden_sheets(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "reporte"
    sheet.append(["Reporte semestral de indicadores"])
    sheet.merge_cells("A1:F1")
    sheet.append([])
    sheet.append(["proyecto", "codigo_indicador", "periodo_inicio", "periodo_fin", "sexo", "valor"])
    sheet.append(["MAP", "AWR-01", dt.datetime(2022, 1, 1), dt.datetime(2022, 6, 30), "Mujer", 25])
    sheet.append(["MAP", "AWR-01", dt.datetime(2022, 1, 1), dt.datetime(2022, 6, 30), "Hombre", "veinte"])
    hidden = workbook.create_sheet("instrucciones")
    hidden.append(["no leer"])
    hidden.sheet_state = "hidden"
    path = tmp_path / "report.xlsx"
    workbook.save(path)
    result, audit, rejected, staged = load(tmp_path, {"indicator_reports/report.xlsx": path.read_bytes()})
    assert audit == [("indicator_reports/report.xlsx", "loaded", 2, 1, 1)]
    # Only what is wrong: 'veinte' is no number, and not also "missing".
    assert rejected == [("indicator_reports/report.xlsx", 5, "value", "dtype", "'veinte' is not a number")]
    assert result.files[0].notes == ["ignored hidden sheet 'instrucciones'"]


def test_small_files_validated_together_keep_their_own_rows_keys_and_verdicts(tmp_path):
    """Three small files staged in one batch, whose row numbers coincide: a key repeated in one file
    is not a duplicate of the other files' rows, and a file with a row DuckDB cannot split sends the
    batch file by file, with the same outcome as alone."""
    spanish = ("proyecto,indicador,inicio_periodo,fin_periodo,sexo,estado,numerador,denominador,valor\n"
               "MAP,AWR-01,2022-07-01,2022-12-31,,,,,40\n")
    repeated = HEADER + "MAP,AWR-01,2022-01-01,2022-06-30,,,,,40\nMAP,AWR-01,2022-01-01,2022-06-30,,,,,41\n"
    files = {"indicator_reports/a.csv": CLEAN, "indicator_reports/b.csv": repeated, "indicator_reports/c.csv": spanish}
    _, audit, rejected, staged = load(tmp_path / "together", files)
    assert audit == [("indicator_reports/a.csv", "loaded", 3, 3, 0), ("indicator_reports/b.csv", "loaded", 2, 0, 2),
                     ("indicator_reports/c.csv", "loaded", 1, 1, 0)]
    assert [(file, row, check) for file, row, _, check, _ in rejected] == [
        ("indicator_reports/b.csv", 2, "unique"), ("indicator_reports/b.csv", 3, "unique")]
    assert staged == 4
    ragged = {**files, "indicator_reports/d.csv": CLEAN.replace("2022-01-01,2022-06-30", "2023-01-01,2023-06-30")
              + "MAP,AWR-01,2022-07-01\n"}
    _, audit, rejected, staged = load(tmp_path / "ragged", ragged)
    assert audit[3] == ("indicator_reports/d.csv", "loaded", 4, 3, 1)
    assert [(file, row, check) for file, row, _, check, _ in rejected] == [
        ("indicator_reports/b.csv", 2, "unique"), ("indicator_reports/b.csv", 3, "unique"),
        ("indicator_reports/d.csv", 5, "malformed_row")]
    assert staged == 7


def test_files_are_batched_in_order_up_to_the_byte_and_file_limits():
    """Sizes in order: a batch closes before the file that would take it over 64 MB or past 100 files."""
    def files(*sizes):
        return [RawFile(Path(f"{index}.csv"), f"s/{index}.csv", "csv", "", size) for index, size in enumerate(sizes)]

    mb = 1 << 20
    assert BATCH_BYTES == 64 * mb and BATCH_FILES == 100
    batches = csv_batches(files(30 * mb, 30 * mb, 5 * mb, 100 * mb, 1 * mb, 64 * mb))
    assert [[raw.relative_path for raw in batch] for batch in batches] == [
        ["s/0.csv", "s/1.csv"], ["s/2.csv"], ["s/3.csv"], ["s/4.csv"], ["s/5.csv"]]
    assert [len(batch) for batch in csv_batches(files(*[10] * 250))] == [100, 100, 50]
    assert csv_batches([]) == []


def test_unchanged_files_are_skipped_changed_ones_reloaded_removed_ones_forgotten(tmp_path):
    raw = tmp_path / "raw"
    load(tmp_path, {"indicator_reports/a.csv": CLEAN, "indicator_reports/b.csv": CLEAN.replace("CALLE", "MAP")})
    (raw / "indicator_reports" / "b.csv").unlink()
    result, audit, _, staged = load(tmp_path, {"indicator_reports/c.csv": HEADER + "MAP,AWR-01,2022-07-01,2022-12-31,,,,,7\n"})
    assert [(file.file, file.status) for file in result.files] == [
        ("indicator_reports/a.csv", "unchanged"), ("indicator_reports/c.csv", "loaded")]
    assert result.removed_files == ["indicator_reports/b.csv"]
    assert [file for file, *_ in audit] == ["indicator_reports/a.csv", "indicator_reports/c.csv"]
    assert staged == 4
    result, *_ = load(tmp_path, {"indicator_reports/a.csv": CLEAN + "MAP,AWR-01,2023-01-01,2023-06-30,,,,,9\n"})
    assert [(file.file, file.status, file.rows_loaded) for file in result.files] == [
        ("indicator_reports/a.csv", "loaded", 4), ("indicator_reports/c.csv", "unchanged", 1)]


def test_a_later_as_of_date_rereads_only_files_with_dates_refused_as_future(tmp_path):
    """A nightly refresh has a new as-of date each day: only a file with a row dated after the old one
    can get a different verdict; going back in time rereads everything."""
    raw = tmp_path / "raw"
    write(raw, "projects/projects.csv", PROJECTS)
    write(raw, "indicator_reports/past.csv", CLEAN)
    write(raw, "indicator_reports/early.csv", HEADER + "MAP,AWR-01,2024-01-01,2024-06-30,,,,,7\n")

    def refresh(as_of: dt.date):
        settings = settings_for(tmp_path, raw, as_of=as_of)
        with open_warehouse(settings) as connection:
            write_catalog(connection, CATALOG)
            ingest_source(connection, settings, "projects")
            result = ingest_source(connection, settings, "indicator_reports")
            staged = connection.execute("SELECT count(*) FROM stg_indicator_reports").fetchone()[0]
        return [(file.file, file.status, file.rows_loaded) for file in result.files], staged

    assert refresh(dt.date(2024, 3, 1)) == ([("indicator_reports/early.csv", "loaded", 0),
                                            ("indicator_reports/past.csv", "loaded", 3)], 3)
    assert refresh(dt.date(2024, 3, 2)) == ([("indicator_reports/early.csv", "loaded", 0),
                                            ("indicator_reports/past.csv", "unchanged", 3)], 3)
    assert refresh(dt.date(2024, 12, 31)) == ([("indicator_reports/early.csv", "loaded", 1),
                                              ("indicator_reports/past.csv", "unchanged", 3)], 4)
    assert refresh(dt.date(2025, 1, 1)) == ([("indicator_reports/early.csv", "unchanged", 1),
                                            ("indicator_reports/past.csv", "unchanged", 3)], 4)
    assert refresh(dt.date(2024, 2, 1)) == ([("indicator_reports/early.csv", "loaded", 0),
                                            ("indicator_reports/past.csv", "loaded", 3)], 3)


def test_a_changed_projects_register_revalidates_the_sources_that_use_it(tmp_path):
    load(tmp_path, {"indicator_reports/a.csv": CLEAN})
    result, *_ = load(tmp_path, {"projects/projects.csv": PROJECTS.replace("2019-12-15", "2019-12-16")})
    assert [(file.file, file.status) for file in result.files] == [("indicator_reports/a.csv", "loaded")]


def test_both_iati_reference_examples_load(tmp_path):
    raw = tmp_path / "raw"
    for example in sorted((REFERENCE / "iati" / "examples").glob("*.xml")):
        write(raw, f"iati/{example.name}", example.read_bytes())
    _, audit, rejected, staged = load(tmp_path, {}, source="iati")
    # The annotated example: one baseline, one target and one actual, all valid. The schema's test file:
    # 20 elements, of which the 10 under the two indicators with measure="NDP" (not in IATI's measure
    # codelist 1-5) are rejected; the other 10 load, their text values ('N=35;P=55') kept as value_text.
    assert audit == [
        ("iati/IATI-Extra-Documentation_activity-standard-example-annotated.xml", "loaded", 3, 3, 0),
        ("iati/IATI-Schemas_should-pass_24-results.xml", "loaded", 20, 10, 10)]
    assert {(column, check, message) for _, _, column, check, message in rejected} == {
        ("measure", "isin", "'NDP' is not an allowed measure: use one of 1, 2, 3, 4, 5")}
    assert staged == 13


def test_windows_1252_with_cr_only_endings_and_utf16_files_load_with_their_encoding_noted(tmp_path):
    """The U.S. MCC's tables come as Windows-1252 with CR-only line endings; Excel saves 'Unicode text' as UTF-16."""
    rows = HEADER + "MAP,AWR-01,2022-01-01,2022-06-30,,Querétaro,,,4\nCALLE,ENF-01,2022-01-01,2022-06-30,,,12,20,\n"
    files = {"indicator_reports/mcc.csv": rows.replace("\n", "\r").encode("cp1252"),
             "indicator_reports/unicode.csv": rows.replace("2022-", "2023-").encode("utf-16")}
    _, audit, rejected, staged = load(tmp_path, files)
    assert audit == [("indicator_reports/mcc.csv", "loaded", 2, 2, 0), ("indicator_reports/unicode.csv", "loaded", 2, 2, 0)]
    assert rejected == [] and staged == 4


SECOND_HALF = "MAP,AWR-01,2022-07-01,2022-12-31,,,,,44\n"


def settle(path: Path, seconds_ago: float = 60) -> None:
    """Date the file's last modification `seconds_ago` back, as if it had been written that long ago."""
    then = time.time() - seconds_ago
    os.utime(path, (then, then))


def test_hidden_and_office_owner_files_get_an_audit_row_saying_how_to_have_them_loaded(tmp_path):
    """A folder of three files has three audit rows: the hidden one and Office's owner file are not read."""
    files = {"indicator_reports/clean.csv": CLEAN, "indicator_reports/.second_half.csv": HEADER + SECOND_HALF,
             "indicator_reports/~$PADF-EMP_2024.xlsx": b"\x0bmaria lopez" + b" " * 40}
    result, audit, rejected, staged = load(tmp_path, files)
    assert audit == [("indicator_reports/.second_half.csv", "hidden", 0, 0, 0),
                     ("indicator_reports/clean.csv", "loaded", 3, 3, 0),
                     ("indicator_reports/~$PADF-EMP_2024.xlsx", "hidden", 0, 0, 0)]
    assert rejected == [] and staged == 3
    notes = {file.file: file.notes for file in result.files}
    assert notes["indicator_reports/.second_half.csv"] == [
        "not read: its name starts with '.', which hides a file (editors and the system keep their own files so); "
        "rename it without the leading '.' to have it loaded"]
    assert notes["indicator_reports/~$PADF-EMP_2024.xlsx"] == [
        "not read: a name starting with '~$' is the owner file Office keeps while a workbook is open; "
        "if it holds data, rename it without the '~$' to have it loaded"]
    settings = settings_for(tmp_path, tmp_path / "raw", as_of=dt.date(2025, 12, 31))

    def hidden_rows_written_at():
        with open_warehouse(settings) as connection:
            return connection.execute("SELECT file, loaded_at FROM load_audit WHERE status = 'hidden' ORDER BY 1").fetchall()

    written = hidden_rows_written_at()
    ingest_into(settings)  # the same folder again: the hidden files' rows stay as written, so the audit is the same
    assert hidden_rows_written_at() == written and len(written) == 2
    raw = tmp_path / "raw" / "indicator_reports"
    (raw / ".second_half.csv").rename(raw / "second_half.csv")
    (raw / "~$PADF-EMP_2024.xlsx").unlink()
    result, audit, _, staged = load(tmp_path, {})
    assert audit == [("indicator_reports/clean.csv", "loaded", 3, 3, 0),
                     ("indicator_reports/second_half.csv", "loaded", 1, 1, 0)]
    assert sorted(result.removed_files) == ["indicator_reports/.second_half.csv", "indicator_reports/~$PADF-EMP_2024.xlsx"]
    assert staged == 4


def test_a_file_modified_within_the_settling_time_is_left_for_the_next_run(tmp_path):
    """Written just now (as a copy still in progress would be): nothing of it is staged, and the run after it
    has settled stages it whole; a file settled already loads in the same run."""
    files = {"indicator_reports/a_settled.csv": CLEAN, "indicator_reports/b_being_copied.csv": HEADER + SECOND_HALF}
    settings = raw_folder(tmp_path, files, settling_seconds=30)
    raw = settings.raw_dir / "indicator_reports"
    settle(settings.raw_dir / "projects" / "projects.csv")
    settle(raw / "a_settled.csv")
    result, audit, rejected, staged = ingest_into(settings)
    assert audit == [("indicator_reports/a_settled.csv", "loaded", 3, 3, 0),
                     ("indicator_reports/b_being_copied.csv", "still_being_written", 0, 0, 0)]
    assert rejected == [] and staged == 3
    [deferred] = result.still_being_written
    assert deferred.notes == ["not staged this run: modified less than 30 seconds before it was read, so it may "
                              "still be being written; the next run reads it"]
    # The same bytes, once settled, are read: a deferred file's audit row keeps no content hash to match.
    settle(raw / "b_being_copied.csv")
    result, audit, _, staged = ingest_into(settings)
    assert [(file.file, file.status) for file in result.files] == [
        ("indicator_reports/a_settled.csv", "unchanged"), ("indicator_reports/b_being_copied.csv", "loaded")]
    assert audit[1] == ("indicator_reports/b_being_copied.csv", "loaded", 1, 1, 0) and staged == 4
    # Rewritten again: the version staged before is withdrawn with it until the new one has settled.
    write(raw.parent, "indicator_reports/b_being_copied.csv", HEADER + SECOND_HALF.replace("44", "45"))
    _, audit, _, staged = ingest_into(settings)
    assert audit[1] == ("indicator_reports/b_being_copied.csv", "still_being_written", 0, 0, 0) and staged == 3


def test_a_file_that_changes_while_it_is_read_is_left_for_the_next_run(tmp_path, monkeypatch):
    """A writer appends to b.csv whenever it is being read (in the batch of small files, then alone):
    nothing of it is staged, a.csv of the same batch still loads, and the next run stages all 3 rows."""
    raw = tmp_path / "raw" / "indicator_reports"
    appended = iter(["MAP,AWR-01,2023-01-01,2023-06-30,,,,,45\n", "MAP,AWR-01,2023-07-01,2023-12-31,,,,,46\n"])
    read = ingest.load_files

    def read_while_b_grows(connection, settings, source, schema, raws):
        results = read(connection, settings, source, schema, raws)
        if any(raw.relative_path == "indicator_reports/b.csv" for raw in raws):
            with (raw / "b.csv").open("a", encoding="utf-8") as writer:
                writer.write(next(appended))
        return results

    monkeypatch.setattr(ingest, "load_files", read_while_b_grows)
    result, audit, rejected, staged = load(tmp_path, {"indicator_reports/a.csv": CLEAN,
                                                      "indicator_reports/b.csv": HEADER + SECOND_HALF})
    assert audit == [("indicator_reports/a.csv", "loaded", 3, 3, 0),
                     ("indicator_reports/b.csv", "still_being_written", 0, 0, 0)]
    assert rejected == [] and staged == 3
    assert result.files[1].notes == ["not staged this run: the file changed while it was being read, so it is "
                                     "still being written; the next run reads it"]
    monkeypatch.undo()
    result, audit, _, staged = load(tmp_path, {})
    assert audit == [("indicator_reports/a.csv", "loaded", 3, 3, 0), ("indicator_reports/b.csv", "loaded", 3, 3, 0)]
    assert [file.status for file in result.files] == ["unchanged", "loaded"] and staged == 6


def test_the_sensor_sees_a_file_still_being_written_only_once_it_has_settled(tmp_path):
    """A tick keeps the hash it saw before for a file modified within the settling time (a new one is left
    out), so the change that starts a run is seen once the file has settled, when the run will stage it."""
    settings = raw_folder(tmp_path, {"indicator_reports/a.csv": CLEAN, "indicator_reports/b.csv": HEADER + SECOND_HALF},
                          settling_seconds=30)
    raw = settings.raw_dir
    for path in (raw / "projects" / "projects.csv", raw / "indicator_reports" / "a.csv"):
        settle(path)
    settled = {"projects/projects.csv": sha256_of(raw / "projects" / "projects.csv"),
               "indicator_reports/a.csv": sha256_of(raw / "indicator_reports" / "a.csv")}
    assert raw_file_hashes(settings, {}) == settled
    assert raw_file_hashes(settings, {**settled, "indicator_reports/b.csv": "its hash before"}) == {
        **settled, "indicator_reports/b.csv": "its hash before"}
    settle(raw / "indicator_reports" / "b.csv")
    assert raw_file_hashes(settings, settled) == {**settled,
                                                  "indicator_reports/b.csv": sha256_of(raw / "indicator_reports" / "b.csv")}


def audit_with_resubmissions(settings: Settings, source: str = "indicator_reports") -> list[tuple]:
    """Per file: (file, status, read, loaded, rejected, superseded, resubmissions)."""
    with open_warehouse(settings) as connection:
        return connection.execute(
            "SELECT file, status, rows_read, rows_loaded, rows_rejected, rows_superseded, resubmissions "
            "FROM load_audit WHERE source = ? ORDER BY file", [source]).fetchall()


def test_a_file_sent_again_under_another_name_supersedes_the_older_copy_instead_of_doubling_it(tmp_path):
    """The probe: outcomes sent again as a '_v2_corregido' copy doubled the portfolio's outcomes (39 -> 78)."""
    settings = raw_folder(tmp_path, {"indicator_reports/reporte.csv": CLEAN,
                                     "indicator_reports/reporte_v2_corregido.csv": CLEAN})
    raw = settings.raw_dir / "indicator_reports"
    settle(raw / "reporte.csv", seconds_ago=120)
    settle(raw / "reporte_v2_corregido.csv", seconds_ago=60)
    _, _, rejected, staged = ingest_into(settings)
    assert rejected == [] and staged == 3
    assert audit_with_resubmissions(settings) == [
        ("indicator_reports/reporte.csv", "loaded", 3, 0, 0, 3,
         "3 rows superseded by indicator_reports/reporte_v2_corregido.csv"),
        ("indicator_reports/reporte_v2_corregido.csv", "loaded", 3, 3, 0, 0,
         "3 rows kept over the same keys in indicator_reports/reporte.csv")]
    # The copy withdrawn, the first file's rows come back without it being read again.
    (raw / "reporte_v2_corregido.csv").unlink()
    result, _, _, staged = ingest_into(settings)
    assert [(file.file, file.status, file.rows_loaded, file.rows_superseded) for file in result.files] == [
        ("indicator_reports/reporte.csv", "unchanged", 3, 0)]
    assert audit_with_resubmissions(settings) == [("indicator_reports/reporte.csv", "loaded", 3, 3, 0, 0, None)]
    assert staged == 3


def test_identical_copies_with_the_same_modification_time_keep_the_file_whose_name_sorts_last(tmp_path):
    settings = raw_folder(tmp_path, {"indicator_reports/a.csv": CLEAN, "indicator_reports/b.csv": CLEAN.splitlines(True)[0]
                                     + CLEAN.splitlines(True)[3]})
    for name in ("a.csv", "b.csv"):
        os.utime(settings.raw_dir / "indicator_reports" / name, (1_700_000_000, 1_700_000_000))
    _, _, _, staged = ingest_into(settings)
    assert staged == 3
    assert audit_with_resubmissions(settings) == [
        ("indicator_reports/a.csv", "loaded", 3, 2, 0, 1, "1 row superseded by indicator_reports/b.csv"),
        ("indicator_reports/b.csv", "loaded", 1, 1, 0, 0, "1 row kept over the same key in indicator_reports/a.csv")]


DATED = "project_code,indicator_code,period_start,period_end,sex,value,submitted_on\n"


def test_a_key_sent_with_other_values_is_settled_by_a_later_submission_date_else_both_rows_are_rejected(tmp_path):
    """Three keys in both files, with other values: one dated later in the old-named file (kept, though its
    file was modified first), one dated the same day in both, one undated; and a key only in each file."""
    old = DATED + ("MAP,AWR-01,2022-01-01,2022-06-30,,40,2022-07-10\n"    # 2: superseded by new.csv row 2
                   "MAP,AWR-01,2022-01-01,2022-06-30,female,25,2022-09-01\n"  # 3: dated later: kept
                   "MAP,AWR-01,2022-01-01,2022-06-30,male,15,2022-07-10\n"    # 4: same day as new.csv row 4
                   "MAP,AWR-01,2022-07-01,2022-12-31,,44,\n"                  # 5: undated in both
                   "MAP,AWR-01,2023-01-01,2023-06-30,,45,2023-07-10\n")       # 6: only here
    new = DATED + ("MAP,AWR-01,2022-01-01,2022-06-30,,41,2022-08-01\n"
                   "MAP,AWR-01,2022-01-01,2022-06-30,female,26,2022-08-01\n"
                   "MAP,AWR-01,2022-01-01,2022-06-30,male,16,2022-07-10\n"
                   "MAP,AWR-01,2022-07-01,2022-12-31,,43,\n"
                   "MAP,AWR-01,2023-07-01,2023-12-31,,46,\n")
    settings = raw_folder(tmp_path, {"indicator_reports/old.csv": old, "indicator_reports/new.csv": new})
    raw = settings.raw_dir / "indicator_reports"
    settle(raw / "new.csv", seconds_ago=120)
    settle(raw / "old.csv", seconds_ago=60)
    _, _, rejected, staged = ingest_into(settings)
    assert audit_with_resubmissions(settings) == [
        ("indicator_reports/new.csv", "loaded", 5, 2, 2, 1,
         "1 row superseded by indicator_reports/old.csv; 2 rows rejected: indicator_reports/old.csv holds the same "
         "keys with other values; 1 row kept over the same key in indicator_reports/old.csv"),
        ("indicator_reports/old.csv", "loaded", 5, 2, 2, 1,
         "1 row superseded by indicator_reports/new.csv; 2 rows rejected: indicator_reports/new.csv holds the same "
         "keys with other values; 1 row kept over the same key in indicator_reports/new.csv")]
    assert rejected == [
        ("indicator_reports/new.csv", 4, "project_code", "resubmission",
         "key (project_code, indicator_code, period_start, period_end, sex, state, employer_size, supply_chain_tier, "
         "participant_type) sent again with other values in indicator_reports/old.csv row 4; neither is dated later "
         "by submitted_on: no row of the key is kept; withdraw or correct the wrong file"),
        ("indicator_reports/new.csv", 5, "project_code", "resubmission",
         "key (project_code, indicator_code, period_start, period_end, sex, state, employer_size, supply_chain_tier, "
         "participant_type) sent again with other values in indicator_reports/old.csv row 5; neither is dated later "
         "by submitted_on: no row of the key is kept; withdraw or correct the wrong file"),
        ("indicator_reports/old.csv", 4, "project_code", "resubmission",
         "key (project_code, indicator_code, period_start, period_end, sex, state, employer_size, supply_chain_tier, "
         "participant_type) sent again with other values in indicator_reports/new.csv row 4; neither is dated later "
         "by submitted_on: no row of the key is kept; withdraw or correct the wrong file"),
        ("indicator_reports/old.csv", 5, "project_code", "resubmission",
         "key (project_code, indicator_code, period_start, period_end, sex, state, employer_size, supply_chain_tier, "
         "participant_type) sent again with other values in indicator_reports/new.csv row 5; neither is dated later "
         "by submitted_on: no row of the key is kept; withdraw or correct the wrong file")]
    with open_warehouse(settings) as connection:
        kept = connection.execute("SELECT _source_file, _row_number, value FROM stg_indicator_reports "
                                  "ORDER BY _source_file, _row_number").fetchall()
    assert kept == [("indicator_reports/new.csv", 2, 41.0), ("indicator_reports/new.csv", 6, 46.0),
                    ("indicator_reports/old.csv", 3, 25.0), ("indicator_reports/old.csv", 6, 45.0)]
    assert staged == 4


def test_the_sample_outcomes_sent_again_as_a_corrected_copy_count_39_outcomes_not_78(tmp_path, sample_raw):
    """The probe, on the shipped outcomes: 40 records, one rejected for its significance ('muy alta')."""
    raw = tmp_path / "raw"
    write(raw, "projects/projects.csv", (sample_raw / "projects" / "projects.csv").read_bytes())
    sent = (sample_raw / "outcomes" / "outcomes.csv").read_bytes()
    write(raw, "outcomes/outcomes.csv", sent)
    write(raw, "outcomes/outcomes_v2_corregido.csv", sent)
    settle(raw / "outcomes" / "outcomes.csv", seconds_ago=120)
    settings = settings_for(tmp_path, raw, as_of=dt.date(2025, 12, 31))
    _, _, rejected, staged = ingest_into(settings, "outcomes")
    assert staged == 39
    assert audit_with_resubmissions(settings, "outcomes") == [
        ("outcomes/outcomes.csv", "loaded", 40, 0, 1, 39, "39 rows superseded by outcomes/outcomes_v2_corregido.csv"),
        ("outcomes/outcomes_v2_corregido.csv", "loaded", 40, 39, 1, 0,
         "39 rows kept over the same keys in outcomes/outcomes.csv")]
    assert [(file, row, check) for file, row, _, check, _ in rejected] == [
        ("outcomes/outcomes.csv", 8, "isin"), ("outcomes/outcomes_v2_corregido.csv", 8, "isin")]
