"""The marts as one Excel workbook for analysts who live in Excel: a sheet per mart table.

A sheet is named after its table, cut to Excel's 31 characters (and numbered if two cut names
clash). Every sheet has a bold, frozen header row, an autofilter and column widths fitted to the
contents. Numbers stay numbers and dates stay dates; a NaN is left empty like a NULL (Excel has
no NaN) and an infinity is written as the text `inf` or `-inf`. Text comes from grantees' files,
so a cell that Excel or LibreOffice would read as a formula (beginning with =, +, -, @, a tab or
a carriage return) is neutralised: prefixed with a single quote and stored as a string. The
workbook is written beside its destination and renamed into place, so readers never open half a
file.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterator

import duckdb
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")  # control characters XML 1.0 forbids
SHEET_NAME_LIMIT = 31
EXCEL_MAX_ROWS = 1_048_576
WIDTH_SAMPLE_ROWS = 500
MIN_WIDTH, MAX_WIDTH = 8, 60
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
TIME_FORMAT = "h:mm:ss"
DURATION_FORMAT = "[hh]:mm:ss"
NUMBER_TYPES = frozenset({"tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint",
                          "uinteger", "ubigint", "uhugeint", "float", "double", "decimal"})
TIMESTAMP_TYPES = frozenset({"timestamp", "timestamp_s", "timestamp_ms", "timestamp_ns"})

CellWriter = Callable[[Worksheet, int, int, Any], None]


def safe_text(text: str) -> str:
    """Text Excel shows as typed: formula-like text gets a leading single quote; XML-illegal characters go.

    Text shaped like xlsxwriter's rich-string markup, `<r>...</r>`, is quoted too: xlsxwriter would copy
    it into the sheet's XML unescaped, where it could forge cells, formulas among them. Line ends become
    line feeds, as XML parsers read them.
    """
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    if text.startswith(FORMULA_TRIGGERS) or (text.startswith("<r>") and text.endswith("</r>")):
        text = "'" + text
    if "\r" in text:  # xlsxwriter would store a carriage return as _x000D_, which openpyxl reads back verbatim
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _as_text(value) -> str:
    """A value as text: lists comma-separated, anything else as Python prints it."""
    if isinstance(value, (list, tuple)):
        return ", ".join("" if item is None else str(item) for item in value)
    return str(value)


def _write_text(sheet: Worksheet, row: int, column: int, text: str) -> None:
    # write_string, unlike write, never turns text into a formula, number or link.
    sheet.write_string(row, column, safe_text(text))


def _write_as_text(sheet: Worksheet, row: int, column: int, value) -> None:
    """A value Excel has no type for (a list, a struct, a UUID, ...) as text."""
    _write_text(sheet, row, column, _as_text(value))


def _write_number(sheet: Worksheet, row: int, column: int, number) -> None:
    """A number; Excel has none for NaN, left empty like a NULL, or infinity, written as `inf` or `-inf`."""
    if math.isfinite(number):
        sheet.write_number(row, column, number)
    elif not math.isnan(number):
        sheet.write_string(row, column, "inf" if number > 0 else "-inf")


def _write_boolean(sheet: Worksheet, row: int, column: int, value: bool) -> None:
    sheet.write_boolean(row, column, value)


def _write_temporal(cell_format: Format, sheet: Worksheet, row: int, column: int, value) -> None:
    """A date, time of day or duration, shown in its column's number format."""
    sheet.write_datetime(row, column, value, cell_format)


def _write_timestamp(date_format: Format, datetime_format: Format, sheet: Worksheet, row: int, column: int,
                     value: dt.datetime) -> None:
    """A timestamp, shown as a plain date when it falls on midnight."""
    sheet.write_datetime(row, column, value, date_format if value.time() == dt.time() else datetime_format)


def _cell_writers(workbook: xlsxwriter.Workbook) -> Callable[[str], CellWriter]:
    """For this workbook, the writer of a column's cells chosen by its DuckDB type id.

    A DuckDB column holds one type, so the choice holds for every row. Types without an Excel
    counterpart (structs, UUIDs, time zone aware timestamps, ...) are written as text.
    """
    date_format = workbook.add_format({"num_format": DATE_FORMAT})
    write_timestamp = partial(_write_timestamp, date_format, workbook.add_format({"num_format": DATETIME_FORMAT}))
    by_type: dict[str, CellWriter] = {
        "varchar": _write_text,
        "boolean": _write_boolean,
        "date": partial(_write_temporal, date_format),
        "time": partial(_write_temporal, workbook.add_format({"num_format": TIME_FORMAT})),
        "interval": partial(_write_temporal, workbook.add_format({"num_format": DURATION_FORMAT})),
        **dict.fromkeys(NUMBER_TYPES, _write_number),
        **dict.fromkeys(TIMESTAMP_TYPES, write_timestamp),
    }
    return lambda type_id: by_type.get(type_id, _write_as_text)


def _width(values: list) -> float:
    longest = max((len(_as_text(value)) for value in values if value is not None), default=0)
    return min(max(longest + 2, MIN_WIDTH), MAX_WIDTH)


def _sheet_name(table: str, taken: set[str]) -> str:
    """The table's name cut to Excel's limit, numbered if the cut makes it clash with an earlier sheet's.

    `taken` holds the lowercased names so far (Excel compares sheet names ignoring case); the new one joins it.
    """
    name, number = table[:SHEET_NAME_LIMIT], 1
    while name.lower() in taken:
        number += 1
        suffix = f"~{number}"
        name = table[:SHEET_NAME_LIMIT - len(suffix)] + suffix
    taken.add(name.lower())
    return name


def _rows(result: duckdb.DuckDBPyConnection, first: list) -> Iterator[tuple]:
    yield from first
    while batch := result.fetchmany(10_000):
        yield from batch


def _write_table(sheet: Worksheet, header_format: Format, writer_for: Callable[[str], CellWriter],
                 connection: duckdb.DuckDBPyConnection, table: str) -> None:
    """One table on its sheet: header, rows as they stream from DuckDB, then a note if Excel ran out of rows."""
    result = connection.execute(f'SELECT * FROM "{table}"')
    columns = [column[0] for column in result.description]
    writers = [writer_for(column[1].id) for column in result.description]
    sample = result.fetchmany(WIDTH_SAMPLE_ROWS)
    sheet.freeze_panes(1, 0)
    for index, column in enumerate(columns):
        sheet.set_column(index, index, _width([column, *(row[index] for row in sample)]))
        sheet.write_string(0, index, safe_text(column), header_format)
    rows = _rows(result, sample)
    written = 0
    for written, row in enumerate(islice(rows, EXCEL_MAX_ROWS - 2), start=1):  # 2: the header and a note
        for index, value in enumerate(row):
            if value is not None:
                writers[index](sheet, written, index, value)
    sheet.autofilter(0, 0, written, len(columns) - 1)
    left = sum(1 for _ in rows)
    if left:
        sheet.write_string(written + 1, 0,
                           f"truncated at Excel's row limit: {left:,} more rows in the DuckDB or Parquet marts")


def write_workbook(marts_path: Path, path: Path) -> None:
    """Write every table of the marts file to `path` (.xlsx), in place."""
    connection = duckdb.connect(str(marts_path), read_only=True)
    try:
        # constant_memory streams each row to a temporary file once the next begins, so rows must come in
        # order; those files go only when the workbook closes, which the `with` does even on failure.
        with xlsxwriter.Workbook(str(path), {"constant_memory": True}) as workbook:
            header_format = workbook.add_format({"bold": True})
            writer_for = _cell_writers(workbook)
            sheet_names: set[str] = set()
            for (table,) in connection.execute("SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall():
                sheet = workbook.add_worksheet(_sheet_name(table, sheet_names))
                _write_table(sheet, header_format, writer_for, connection, table)
    finally:
        connection.close()


def export_workbook(marts_path: Path, out_path: Path) -> Path:
    """Write every table of the marts file to `out_path` (.xlsx), atomically; returns `out_path`."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = out_path.with_name(f".{out_path.name}-{uuid.uuid4().hex[:12]}.tmp")
    try:
        write_workbook(marts_path, temporary)
        os.replace(temporary, out_path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return out_path


class BackgroundExport:
    """The workbook written by a separate process while this one goes on (the quality suites run meanwhile).

    The process reads the marts through a hard link of their own, so the file may be renamed into
    place under it, and writes beside `out_path`; `finish` moves the result there, `cancel` discards it.
    Both names start with `leftover_prefix`, so a publish that was killed leaves nothing behind that
    the next one does not clear.
    """

    def __init__(self, marts_path: Path, out_path: Path, leftover_prefix: str):
        token = uuid.uuid4().hex[:12]
        self.source = marts_path.with_name(f"{leftover_prefix}{token}-workbook.duckdb")
        self.written = out_path.with_name(f"{leftover_prefix}{token}-{out_path.name}")
        self.out_path = out_path
        os.link(marts_path, self.source)
        self.process = subprocess.Popen([sys.executable, "-m", "mel_pipeline.excel_export", str(self.source),
                                         str(self.written), str(os.getpid())], stderr=subprocess.PIPE, text=True)

    def finish(self) -> Path:
        """Wait for the workbook and put it in place; returns its path. Raises if the process failed."""
        _, errors = self.process.communicate()
        self.source.unlink(missing_ok=True)
        if self.process.returncode != 0:
            self.written.unlink(missing_ok=True)
            raise RuntimeError(f"the Excel workbook could not be written: {errors.strip().splitlines()[-1:]}")
        os.replace(self.written, self.out_path)
        return self.out_path

    def cancel(self) -> None:
        """Stop the process and remove what it wrote."""
        self.process.kill()
        self.process.communicate()
        self.source.unlink(missing_ok=True)
        self.written.unlink(missing_ok=True)


def _stop_when_orphaned(parent: int) -> None:
    """End this process once the one that started it is gone: no one would collect the workbook."""
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


if __name__ == "__main__":
    threading.Thread(target=_stop_when_orphaned, args=(int(sys.argv[3]),), daemon=True).start()
    write_workbook(Path(sys.argv[1]), Path(sys.argv[2]))
