"""The marts as one Excel workbook for analysts who live in Excel: a sheet per mart table.

Every sheet has a bold, frozen header row, an autofilter and column widths fitted to the
contents. Numbers stay numbers and dates stay dates. Text comes from grantees' files, so a cell
that Excel or LibreOffice would read as a formula (beginning with =, +, -, @, a tab or a carriage
return) is neutralised: prefixed with a single quote and stored as a string. The workbook is
written beside its destination and renamed into place, so readers never open half a file.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from itertools import islice
from pathlib import Path
from typing import Iterator

import duckdb
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
SHEET_NAME_LIMIT = 31
EXCEL_MAX_ROWS = 1_048_576
WIDTH_SAMPLE_ROWS = 500
MIN_WIDTH, MAX_WIDTH = 8, 60
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
HEADER_FONT = Font(bold=True)


def safe_text(text: str) -> str:
    """Text Excel shows as typed: formula-like text gets a leading single quote; XML-illegal characters go."""
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _cell_value(value):
    """A DuckDB value as Excel should hold it; lists become comma-separated text."""
    if isinstance(value, (list, tuple)):
        return ", ".join("" if item is None else str(item) for item in value)
    if isinstance(value, dict):
        return str(value)
    return value


def _cell(sheet, value) -> WriteOnlyCell:
    value = _cell_value(value)
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=safe_text(value))
        cell.data_type = "s"  # never "f", whatever the text looks like
        return cell
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, dt.datetime):
        cell.number_format = DATE_FORMAT if value.time() == dt.time() else DATETIME_FORMAT
    elif isinstance(value, dt.date):
        cell.number_format = DATE_FORMAT
    return cell


def _width(values: list) -> float:
    longest = max((len(str(_cell_value(value))) for value in values if value is not None), default=0)
    return min(max(longest + 2, MIN_WIDTH), MAX_WIDTH)


def _rows(result: duckdb.DuckDBPyConnection, first: list) -> Iterator[tuple]:
    yield from first
    while batch := result.fetchmany(10_000):
        yield from batch


def _write_table(workbook: Workbook, connection: duckdb.DuckDBPyConnection, table: str) -> None:
    """One sheet for one table; layout is fixed before the rows stream in (write-only mode needs that)."""
    result = connection.execute(f'SELECT * FROM "{table}"')
    columns = [column[0] for column in result.description]
    sample = result.fetchmany(WIDTH_SAMPLE_ROWS)
    sheet = workbook.create_sheet(table[:SHEET_NAME_LIMIT])
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = _width([column, *(row[index - 1] for row in sample)])
    sheet.freeze_panes = "A2"
    header = [WriteOnlyCell(sheet, value=safe_text(column)) for column in columns]
    for cell in header:
        cell.font = HEADER_FONT
    sheet.append(header)
    rows = _rows(result, sample)
    written = 0
    for written, row in enumerate(islice(rows, EXCEL_MAX_ROWS - 2), start=1):  # 2: the header and a note
        sheet.append([_cell(sheet, value) for value in row])
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{written + 1}"
    left = sum(1 for _ in rows)
    if left:
        sheet.append([f"truncated at Excel's row limit: {left:,} more rows in the DuckDB or Parquet marts"])


def export_workbook(marts_path: Path, out_path: Path) -> Path:
    """Write every table of the marts file to `out_path` (.xlsx), atomically; returns `out_path`."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = out_path.with_name(f".{out_path.name}-{uuid.uuid4().hex[:12]}.tmp")
    connection = duckdb.connect(str(marts_path), read_only=True)
    try:
        workbook = Workbook(write_only=True)
        for (table,) in connection.execute("SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall():
            _write_table(workbook, connection, table)
        workbook.save(temporary)
        os.replace(temporary, out_path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    finally:
        connection.close()
    return out_path
