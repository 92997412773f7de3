"""Discovering and reading raw files: content hashes remembered between runs, workbooks read sheet by sheet,
formulas without a computed value named by their cell, and text encodings told apart by their bytes."""

import os
import shutil
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from mel_pipeline.raw import files
from mel_pipeline.raw.files import (
    HashCache,
    RawFile,
    TextFacts,
    UnreadableFile,
    check_readable,
    discover,
    sha256_of,
    utf16_without_bom,
)
from mel_pipeline.raw.tabular import read_xlsx
from mel_pipeline.reference.catalogue import load_registry, write_catalog
from mel_pipeline.staging.contract import SOURCES
from mel_pipeline.staging.ingest import ingest_source
from mel_pipeline.warehouse import open_warehouse
from tests.conftest import FIXTURE_AS_OF, settings_for


def test_a_file_is_hashed_again_only_when_it_may_have_changed(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    (raw / "targets").mkdir(parents=True)
    kept, edited = raw / "targets" / "a.csv", raw / "targets" / "b.csv"
    kept.write_text("x,y\n1,2\n")
    edited.write_text("x,y\n3,4\n")
    cache = tmp_path / "hashes.json"
    read = []
    monkeypatch.setattr(files, "sha256_of", lambda path: read.append(path.name) or sha256_of(path))

    def hashes() -> dict[str, str]:
        cached = HashCache(cache)
        found = {file.relative_path: file.sha256 for file in discover(raw / "targets", raw, ("csv",), cached)}
        cached.save()
        return found

    first = hashes()
    stamp = edited.stat()
    edited.write_text("x,y\n5,6\n")  # the same size, and the old modification time put back
    os.utime(edited, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    second = hashes()
    cache.write_text("{not json")
    third = hashes()
    assert read == ["a.csv", "b.csv", "b.csv", "a.csv", "b.csv"]
    assert first["targets/a.csv"] == second["targets/a.csv"] == third["targets/a.csv"] == sha256_of(kept)
    assert first["targets/b.csv"] != second["targets/b.csv"] == third["targets/b.csv"] == sha256_of(edited)


HOSTILE = Path(__file__).resolve().parent / "hostile"


def ingest_fixture(tmp_path: Path, sample_raw: Path, relative: str) -> tuple[tuple, list[tuple], list[tuple]]:
    """Ingest one corpus file beside the sample's projects: its audit row, its rejections and its staged rows."""
    source, name = relative.split("/")
    raw = tmp_path / "raw"
    shutil.copytree(sample_raw / "projects", raw / "projects")
    (raw / source).mkdir()
    shutil.copy(HOSTILE / relative, raw / source / name)
    settings = settings_for(tmp_path, raw, as_of=FIXTURE_AS_OF)
    with open_warehouse(settings) as connection:
        write_catalog(connection, load_registry(settings.indicators_dir, SOURCES))
        ingest_source(connection, settings, "projects")
        ingest_source(connection, settings, source)
        audit = connection.execute("SELECT status, rows_read, rows_loaded, rows_rejected, notes FROM load_audit "
                                   "WHERE file = ?", [relative]).fetchone()
        rejections = connection.execute('SELECT row_number, "column", message FROM rejected_rows WHERE file = ? '
                                        'ORDER BY row_number, "column"', [relative]).fetchall()
        staged = connection.execute(f"SELECT _row_number, state, value FROM stg_{source} WHERE _source_file = ? "
                                    "ORDER BY state, _row_number", [relative]).fetchall()
    return audit, rejections, staged


def test_every_sheet_with_the_sources_header_is_read_and_a_rejection_names_its_sheet(tmp_path, sample_raw):
    audit, rejections, staged = ingest_fixture(tmp_path, sample_raw, "indicator_reports/two_data_sheets.xlsx")
    # Jalisco: rows 2-5, all valid. Puebla: a title row, the header in row 2 with value and state swapped,
    # row 3 valid, row 4 a negative value, row 5 an exact copy of row 3. Rows 3 to 5 exist on both sheets:
    # Puebla's copy must not reject Jalisco's row 5, nor its row 3 count as Jalisco's.
    assert audit == ("loaded", 7, 5, 2, None)
    assert staged == [(2, "Jalisco", 40.0), (3, "Jalisco", 41.0), (4, "Jalisco", 42.0), (5, "Jalisco", 43.0),
                      (3, "Puebla", 30.0)]
    assert rejections == [
        (4, "value", "sheet 'Puebla': -5 is below the minimum 0"),
        (5, "project_code", "sheet 'Puebla': exact copy of row 3 (same key (project_code, indicator_code, "
                            "period_start, period_end, sex, state, employer_size, supply_chain_tier, participant_type) "
                            "and the same values): only row 3 is kept")]


def test_a_summary_sheet_before_the_data_is_named_as_not_read_and_the_data_sheet_is_read(tmp_path, sample_raw):
    audit, rejections, staged = ingest_fixture(tmp_path, sample_raw, "indicator_reports/summary_sheet_before_the_data.xlsx")
    assert audit == ("loaded", 2, 1, 1, "not read: sheet 'Resumen': the header lacks required column(s): period_start "
                                        "(or periodo_inicio/inicio_periodo), period_end (or periodo_fin/fin_periodo)")
    assert staged == [(2, "total", 40.0)]
    assert rejections == [
        (3, "indicator_code", "sheet 'Datos': 'XXX-99' is not in the indicator catalogue (indicators grantees report)")]


def test_a_formula_never_computed_rejects_its_row_naming_the_cell(tmp_path, sample_raw):
    audit, rejections, staged = ingest_fixture(tmp_path, sample_raw, "indicator_reports/formula_without_computed_value.xlsx")
    # Row 4's value is =G4/H4*100, saved by openpyxl without a result; row 5 holds only a formula (a template's
    # row not filled in), so it is blank; the formula in the unknown column K of row 2 is not read.
    assert audit == ("loaded", 3, 2, 1, "ignored unknown column(s): control")
    assert [row for row, *_ in staged] == [2, 3]
    assert rejections == [(4, "value", "cell I4 holds a formula with no computed value (the tool that saved the "
                                       "workbook did not calculate it); open the file in Excel or LibreOffice and "
                                       "save it, so that the values are stored")]


def test_a_formula_with_its_computed_value_is_read_as_that_value(tmp_path):
    """Excel stores each formula's result beside it (an empty text result as type "str"): those cells are read."""
    path = tmp_path / "computed.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["project_code", "indicator_code", "period_start", "period_end", "numerator", "denominator",
                  "value", "notes"])
    sheet.append(["CALLE", "ENF-01", "2022-01-01", "2022-06-30", 12, 20, "=E2/F2*100", '=""'])
    workbook.save(path)
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts["xl/worksheets/sheet1.xml"] = (parts["xl/worksheets/sheet1.xml"]
                                         .replace(b"<f>E2/F2*100</f><v />", b"<f>E2/F2*100</f><v>60</v>")
                                         .replace(b'<c r="H2"><f>""</f><v />', b'<c r="H2" t="str"><f>""</f><v></v>'))
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    raw = RawFile(path, "indicator_reports/computed.xlsx", "xlsx", sha256_of(path), path.stat().st_size)
    read = read_xlsx(raw, SOURCES["indicator_reports"].schema(FIXTURE_AS_OF))
    assert read.malformed == []
    assert read.table.select(["_row_number", "c6", "c7"]).to_pylist() == [{"_row_number": 2, "c6": "60", "c7": None}]


def test_utf16_without_a_byte_order_mark_is_told_from_utf8_and_from_binary():
    text = "project_code,notes\r\nMAP,Querétaro – revisado\r\n"
    assert utf16_without_bom(text.encode("utf-16-le")) == "utf-16-le"
    assert utf16_without_bom(text.encode("utf-16-be")) == "utf-16-be"
    assert utf16_without_bom(text.encode("utf-8")) is None
    # Small 16-bit integers have a NUL high byte too, but read as UTF-16 they are control characters.
    assert utf16_without_bom(b"".join(number.to_bytes(2, "little") for number in range(1, 30))) is None
    assert utf16_without_bom(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR") is None


def test_a_utf16_file_without_a_byte_order_mark_is_decoded_and_noted_and_binary_stays_quarantined(tmp_path):
    def facts(name: str) -> TextFacts:
        path = HOSTILE / name
        return check_readable(RawFile(path, name, "csv", "", path.stat().st_size), ("csv",))

    little = facts("indicator_reports/utf16le_without_byte_order_mark.csv")
    assert (little.encoding, little.blank_lines, little.note) == (
        "utf-16-le", False, "read as UTF-16 (little-endian, without a byte-order mark)")
    assert facts("indicator_reports/utf16be_without_byte_order_mark.csv").note == (
        "read as UTF-16 (big-endian, without a byte-order mark)")
    with pytest.raises(UnreadableFile, match=r"^participants/binary_garbage.csv: binary content \(a NUL byte at byte 4\); "
                                             r"this is not a text file: export the data as 'CSV UTF-8' or .xlsx$"):
        facts("participants/binary_garbage.csv")
