"""Reading grantee tables: CSV straight into DuckDB, XLSX through openpyxl, and header matching.

Both readers hand the validator the same thing: text cells under the contract's canonical column
names plus `_row_number`, the row as a person sees it in a spreadsheet (the header is row 1).
CSV files are never loaded into Python: DuckDB scans them, and rows it cannot split into the
header's number of cells are returned with their row numbers instead of being dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import pandera.pandas as pa
import pyarrow as pa_arrow

from mel_pipeline.raw.files import SNIFF_BYTES, RawFile, UnreadableFile
from mel_pipeline.reference.codes import normalise_token
from mel_pipeline.warehouse import quote_identifier as qi
from mel_pipeline.warehouse import quote_literal as ql

# One separator followed by exactly three digits: '1.927' is 1927 in Spain and 1.927 in Mexico, '50,000'
# fifty thousand in Mexico and fifty in Spain. A leading zero ('0.927') cannot start a thousands group.
AMBIGUOUS_NUMBER = "[+-]?[1-9][0-9]{0,2}[.,][0-9]{3}"

HEADER_SEARCH_ROWS = 20
MAX_CSV_LINE_BYTES = 8 * 1024 * 1024
EXCEL_MAX_ROWS = 1_048_576  # Excel's own limit: a sheet with more rows was not saved by Excel
XLSX_BATCH_ROWS = 50_000  # rows held as Python objects at once before they become Arrow arrays
DELIMITERS = (",", ";", "\t", "|")
# Every formula's text ends in </f> (</x:f> with a namespace prefix), and a cell sharing a formula refers
# to one that has it: a sheet whose XML never holds these two bytes has no formula.
FORMULA_END = b"f>"


@dataclass
class HeaderMap:
    """Which position of the file's header holds each canonical column."""

    positions: dict[str, int]
    unknown: list[str] = field(default_factory=list)


def _spellings(schema: pa.DataFrameSchema) -> dict[str, str]:
    spellings = {}
    for name, col in schema.columns.items():
        for spelling in [name, *(col.metadata or {}).get("aliases", [])]:
            spellings[normalise_token(spelling)] = name
    return spellings


CSV_HEADER_ADVICE = ("; name them as docs/data-contract.md does (a CSV file's header is its line 1: delete any "
                     "title lines above it)")


def map_header(names: list[str], schema: pa.DataFrameSchema, file_label: str,
               advice: str = CSV_HEADER_ADVICE) -> HeaderMap:
    """Match a header to the schema by canonical name or alias, ignoring case, accents and '_'/'-'.

    Raises UnreadableFile naming the missing columns (with their Spanish aliases), followed by
    `advice`, or a column given twice.
    """
    spellings = _spellings(schema)
    positions: dict[str, int] = {}
    unknown = []
    for position, raw_name in enumerate(names):
        canonical = spellings.get(normalise_token(raw_name or ""))
        if canonical is None:
            if (raw_name or "").strip():
                unknown.append(raw_name.strip())
            continue
        if canonical in positions:
            raise UnreadableFile(f"{file_label}: the header has columns {names[positions[canonical]]!r} and "
                                 f"{raw_name!r}, which both mean '{canonical}'; keep one and delete the other")
        positions[canonical] = position
    missing = [name for name, col in schema.columns.items()
               if name not in positions and not (col.metadata or {}).get("optional_column")]
    if missing:
        described = ", ".join(
            name + (f" (or {'/'.join(schema.columns[name].metadata['aliases'][:2])})"
                    if schema.columns[name].metadata.get("aliases") else "")
            for name in missing)
        raise UnreadableFile(f"{file_label}: the header lacks required column(s): {described}{advice}")
    return HeaderMap(positions, unknown)


def header_score(cells: list, schema: pa.DataFrameSchema) -> int:
    """How many cells of a candidate header row name a schema column."""
    spellings = _spellings(schema)
    return sum(1 for cell in cells if isinstance(cell, str) and normalise_token(cell) in spellings)


def projection(header: HeaderMap, schema: pa.DataFrameSchema, cell_name) -> str:
    """SELECT list putting each canonical column (NULL when absent) under its own name."""
    parts = ["_row_number"]
    for name in schema.columns:
        position = header.positions.get(name)
        parts.append(f"{cell_name(position)} AS {qi(name)}" if position is not None else f"NULL::VARCHAR AS {qi(name)}")
    return ", ".join(parts)


@dataclass(frozen=True)
class CsvDialect:
    """What DuckDB must be told to read a CSV file without guessing its delimiter or header."""

    delimiter: str
    header: list[str]


def sniff_csv(raw: RawFile, encoding: str = "utf-8") -> CsvDialect:
    """Delimiter and header cells, from the first line of the file (ended by LF, CRLF or CR)."""
    with raw.path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    text = head.decode(encoding, errors="ignore").removeprefix("\ufeff")
    newline = "\r\n" if "\r\n" in text else "\n" if "\n" in text else "\r" if "\r" in text else "\n"
    first_line = text.split(newline, 1)[0]
    if not first_line.strip():
        raise UnreadableFile(f"{raw.relative_path}: line 1 is blank; delete the blank lines above the header, "
                             "which must be line 1")
    delimiter = max(DELIMITERS, key=lambda candidate: (first_line.count(candidate), candidate == ","))
    header = next(csv.reader(io.StringIO(first_line), delimiter=delimiter))
    return CsvDialect(delimiter, header)


def csv_scan_sql(raw: RawFile, dialect: CsvDialect, rejects_table: str, rejects_scan: str) -> str:
    """DuckDB's scan of the file: every cell as text, columns named c0..cN, malformed rows set aside.

    The line ending is left to DuckDB, which recognises LF, CRLF and CR by itself: told `new_line`
    '\\r\\n' in strict mode, DuckDB 2.0 returns no rows at all from a CRLF file, without an error.
    """
    columns = "{" + ", ".join(f"'c{index}': 'VARCHAR'" for index in range(len(dialect.header))) + "}"
    return (f"read_csv({ql(str(raw.path))}, columns = {columns}, header = true, auto_detect = false, "
            f"delim = {ql(dialect.delimiter)}, quote = '\"', escape = '\"', "
            f"strict_mode = true, store_rejects = true, rejects_table = {ql(rejects_table)}, "
            f"rejects_scan = {ql(rejects_scan)}, max_line_size = {MAX_CSV_LINE_BYTES}, parallel = true)")


def csv_relation(scan_sql: str, header: HeaderMap, schema: pa.DataFrameSchema) -> str:
    """The file as (`_row_number`, canonical text columns), blank rows left out.

    DuckDB numbers rows in scan order (a streaming window keeps the file's order). The numbers match
    the file only when DuckDB set no row aside and skipped no empty line: otherwise the file is read
    from its `repair_csv` copy, where every record keeps its place.
    """
    cells = [f"c{index}" for index in header.positions.values()]
    not_blank = " OR ".join(f"nullif(trim({cell}), '') IS NOT NULL" for cell in cells) or "true"
    inner = f"(SELECT * FROM (SELECT row_number() OVER () + 1 AS _row_number, * FROM {scan_sql}) WHERE {not_blank})"
    return f"(SELECT {projection(header, schema, lambda position: f'c{position}')} FROM {inner})"


Malformed = list[tuple[int, str | None, str]]  # (row, contract column or None, message)
# The rest of a quoted cell up to its closing quote (a doubled quote is part of the cell), line breaks included.
_QUOTED_TEXT = re.compile(r'[^"]*(?:""[^"]*)*')


@dataclass
class _Record:
    """The cells of the record being read, and the pieces of a quoted cell still open at a line's end."""

    cells: list[str] = field(default_factory=list)
    open_cell: list[str] | None = None


def _scan_line(line: str, delimiter: str, record: _Record) -> tuple[str, int] | None:
    """Add one line's cells to `record`; a problem as (message, cell index), else None.

    An open quoted cell at the end of the line is left in `record.open_cell` for the next line.
    """
    unquoted = re.compile(f'[^"{re.escape(delimiter)}\r\n]*')
    end = len(line.rstrip("\r\n"))
    position = 0
    while True:
        if record.open_cell is not None:
            text = _QUOTED_TEXT.match(line, position)
            record.open_cell.append(text.group())
            position = text.end()
            if position == len(line):
                return None
            record.cells.append("".join(record.open_cell).replace('""', '"'))
            record.open_cell = None
            position += 1
            if position >= end:
                return None
            if line[position] != delimiter:
                return "text after the closing quote of this cell", len(record.cells) - 1
            position += 1
            continue
        if position < end and line[position] == '"':
            record.open_cell = []
            position += 1
            continue
        text = unquoted.match(line, position)
        position = text.end()
        if position < end and line[position] == '"':
            return "a quote character inside an unquoted cell", len(record.cells)
        record.cells.append(text.group())
        if position >= end:
            return None
        position += 1


def _physical_lines(handle) -> Iterator[str | None]:
    """The file's lines with their endings (LF, CRLF or a lone CR, as an editor counts them).

    A line longer than MAX_CSV_LINE_BYTES characters is skipped as it streams in and given as None,
    so it is never held whole.
    """
    while line := handle.readline(MAX_CSV_LINE_BYTES + 1):
        if len(line) > MAX_CSV_LINE_BYTES and not line.endswith(("\n", "\r")):
            while line and not line.endswith(("\n", "\r")):
                line = handle.readline(MAX_CSV_LINE_BYTES)
            yield None
        else:
            yield line


def repair_csv(raw: RawFile, encoding: str, dialect: CsvDialect, header: HeaderMap, target: Path) -> Malformed:
    """Copy the file to `target` as well-formed UTF-8 CSV in which every record keeps its row number.

    Each record that cannot be split into the header's cells becomes a blank row in the copy (so
    DuckDB numbers the rows after it right) and is returned as malformed with its row, column and
    what is wrong. A quote that is never closed costs only the line it opens on: reading goes on at
    the next line, so the rows after it still load. An empty line becomes a blank row too (blank
    rows are not counted). Rows are numbered as a spreadsheet shows them (a record with line
    breaks in a cell is one row); messages give the line as a text editor counts it.
    """
    width = len(dialect.header)
    by_position = {position: name for name, position in header.positions.items()}
    malformed: Malformed = []
    with raw.path.open(encoding=encoding, newline="") as source, target.open("w", encoding="utf-8", newline="") as copy:
        writer = csv.writer(copy, delimiter=",", lineterminator="\n")
        writer.writerow(dialect.header)
        lines = _physical_lines(source)
        next(lines)  # the header, already read by sniff_csv
        pending: deque[tuple[int, str | None]] = deque()
        numbered = enumerate(lines, start=2)
        row = 1
        while True:
            item = pending.popleft() if pending else next(numbered, None)
            if item is None:
                break
            first_line, line = item
            row += 1
            if line is None:
                malformed.append((row, None, f"line {first_line} is longer than {MAX_CSV_LINE_BYTES:,} characters"))
                writer.writerow([""] * width)
                continue
            record, used, size = _Record(), [item], len(line)
            problem = _scan_line(line, dialect.delimiter, record)
            quote_opened_in = len(record.cells) if problem is None and record.open_cell is not None else None
            while problem is None and record.open_cell is not None:
                following = pending.popleft() if pending else next(numbered, None)
                if following is None or following[1] is None or size + len(following[1]) > MAX_CSV_LINE_BYTES:
                    if following is not None:
                        pending.appendleft(following)
                    problem = ("", quote_opened_in)
                    break
                used.append(following)
                size += len(following[1])
                problem = _scan_line(following[1], dialect.delimiter, record)
            if problem is None and len(record.cells) == width:
                writer.writerow(record.cells)
                continue
            writer.writerow([""] * width)
            if problem is None and not any(cell.strip() for cell in record.cells):
                continue  # a blank row: kept in place, not counted
            if quote_opened_in is not None:
                # The record ran on from a quote left open: only that line is set aside, and reading
                # goes on at the next one, so rows swallowed by the quote are read on their own.
                pending.extendleft(reversed(used[1:]))
                message = ("a quote opened in this cell is never closed (read on over the following lines, it "
                           "makes no row that fits the header); only this line is set aside and reading goes on "
                           f"at line {first_line + 1}")
                column = by_position.get(quote_opened_in)
            elif problem is not None:
                message, cell = problem
                column = by_position.get(cell)
            else:
                message = f"the row has {len(record.cells)} cells where the header has {width}"
                column = by_position.get(len(record.cells)) if len(record.cells) < width else None
            malformed.append((row, column, f"line {first_line}: {message}"))
    return malformed


def transcode_to_utf8(raw: RawFile, encoding: str, target: Path) -> None:
    """Copy a text file to `target` in UTF-8, its line endings unchanged, a block at a time."""
    with raw.path.open(encoding=encoding, newline="") as source, target.open("w", encoding="utf-8", newline="") as copy:
        for block in iter(lambda: source.read(1 << 20), ""):
            copy.write(block)


def _cell_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float) and re.fullmatch(AMBIGUOUS_NUMBER, str(value)):
        # A typed number is exact: '1.9270' keeps 1.927 from being read as a thousands-grouped 1927.
        return f"{value}0"
    return str(value)


@dataclass
class SheetRead:
    """A sheet of a workbook read as the source's table."""

    title: str
    header: HeaderMap


@dataclass
class WorkbookRead:
    """What a workbook gave: every sheet read, its rows, the rows set aside, and notes for the audit.

    `table` holds the rows of every sheet read (columns `_sheet`, the sheet's index in `sheets`,
    `_row_number` and c0..cN); `name_sheets` is true when the workbook has more than one visible sheet,
    so that a row number alone would not tell the reader where to look.
    """

    sheets: list[SheetRead]
    table: pa_arrow.Table
    malformed: Malformed
    notes: list[str]
    name_sheets: bool

    def where(self, title: str) -> str:
        """How a rejection on the sheet `title` begins."""
        return _sheet_prefix(title, self.name_sheets)


def _sheet_prefix(title: str, name_sheets: bool) -> str:
    """How a rejection on the sheet `title` begins: its sheet, when the row number alone is not enough."""
    return f"sheet '{title}': " if name_sheets else ""


def _find_header(leading: list[tuple], schema: pa.DataFrameSchema, title: str) -> tuple[int, HeaderMap]:
    """The header row of a sheet (from 1) and its map; UnreadableFile saying why the sheet is not the source's."""
    if not any(cell is not None for cells in leading for cell in cells):
        raise UnreadableFile(f"sheet '{title}' is empty in its first {HEADER_SEARCH_ROWS} rows, where the header must be")
    scores = [header_score(list(cells), schema) for cells in leading]
    if max(scores) < 2:
        examples = ", ".join(list(schema.columns)[:4])
        raise UnreadableFile(f"sheet '{title}' has no header row: none of its first {HEADER_SEARCH_ROWS} rows names "
                             f"two or more of this source's columns ({examples}, ...)")
    header_row = scores.index(max(scores)) + 1
    names = [_cell_text(cell) or "" for cell in leading[header_row - 1]]
    return header_row, map_header(names, schema, f"sheet '{title}'", advice="")


def _has_formulas(sheet) -> bool:
    """Whether the sheet's XML may hold a formula, searched in blocks without parsing it."""
    with sheet._get_source() as source:  # openpyxl's read-only sheet: its XML, straight from the archive
        tail = b""
        for block in iter(lambda: source.read(1 << 20), b""):
            if FORMULA_END in tail + block:
                return True
            tail = block[-1:]
    return False


def _formulas_without_values(sheet, width: int) -> dict[int, list[int]]:
    """Row -> columns (from 0, among the first `width`) of the cells holding a formula with no stored value.

    openpyxl's data-only mode gives such a cell as empty, as it gives a truly empty one: the sheet's XML
    is read again, only when it has formulas at all, to tell them apart. A formula whose stored result
    is text may store it empty (type "str"); any other formula without a value was never computed.
    """
    from openpyxl.utils.cell import coordinate_to_tuple
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    if not _has_formulas(sheet):
        return {}
    sheet_data_tag, row_tag, cell_tag, formula_tag, value_tag = (
        f"{{{SHEET_MAIN_NS}}}{name}" for name in ("sheetData", "row", "c", "f", "v"))
    found: dict[int, list[int]] = {}
    sheet_data = None
    with sheet._get_source() as source:
        for event, element in iterparse(source, events=("start", "end")):
            if event == "start":
                if element.tag == sheet_data_tag:
                    sheet_data = element
                continue
            if element.tag == cell_tag and element.find(formula_tag) is not None and element.get("r"):
                value = element.find(value_tag)
                if value is None or (not value.text and element.get("t") != "str"):
                    row, column = coordinate_to_tuple(element.get("r"))
                    if column <= width:
                        found.setdefault(row, []).append(column - 1)
            elif element.tag == row_tag and sheet_data is not None:
                sheet_data.clear()  # rows already read are let go, so a long sheet costs no memory here
    return found


def read_xlsx(raw: RawFile, schema: pa.DataFrameSchema) -> WorkbookRead:
    """Every visible sheet whose header is the source's, as text cells with Excel row numbers.

    A sheet's header is the row, among its first HEADER_SEARCH_ROWS, that names the most columns of
    the source (the first such row on a tie): a two-level header whose merged group labels
    ("Proyecto", "Periodo") also name a column or two is thus read from its lower, complete row. A
    visible sheet without such a header (a summary, a pivot table, instructions) is not read and is
    named in a note; a workbook none of whose visible sheets has one is refused, saying why for each.
    Hidden sheets are not read and are noted. Columns after the last one the contract reads are not
    read at all, so a sheet whose dimension claims every column up to XFD costs no more than its real
    table; rows become Arrow arrays in batches, so Python holds at most XLSX_BATCH_ROWS of them. A
    sheet with more rows than Excel allows is refused. A row with a formula cell that holds no
    computed value is set aside as malformed, naming the cell.
    """
    from openpyxl import load_workbook
    from openpyxl.utils.cell import get_column_letter

    try:
        workbook = load_workbook(raw.path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a broken workbook
        raise UnreadableFile(f"{raw.relative_path}: not a readable .xlsx workbook ({type(error).__name__}: {error}); "
                             "open it in Excel or LibreOffice and save it again as .xlsx, or ask for it again") from None
    try:
        visible = [sheet for sheet in workbook.worksheets if sheet.sheet_state == "visible"]
        notes = [f"ignored {sheet.sheet_state} sheet '{sheet.title}'" for sheet in workbook.worksheets
                 if sheet.sheet_state != "visible"]
        if not visible:
            raise UnreadableFile(f"{raw.relative_path}: the workbook has no visible sheet; unhide the sheet with the data")
        found, not_read = [], []
        for sheet in visible:
            # openpyxl's read-only mode stops at the sheet's stated <dimension>: one that understates the
            # rows would silently drop the rest, so the stated size is not trusted.
            sheet.reset_dimensions()
            try:
                found.append((sheet, *_find_header(list(islice(sheet.iter_rows(values_only=True), HEADER_SEARCH_ROWS)),
                                                   schema, sheet.title)))
            except UnreadableFile as why:
                not_read.append(str(why))
        if not found:
            raise UnreadableFile(f"{raw.relative_path}: " + ("no visible sheet is a table of this source: " if len(visible) > 1
                                                             else "") + "; ".join(not_read)
                                 + "; put the source's column names (docs/data-contract.md) in the row above the data")
        notes += [f"not read: {why}" for why in not_read]
        name_sheets = len(visible) > 1
        malformed: Malformed = []
        width = max(max(header.positions.values()) for _, _, header in found) + 1
        arrow_schema = pa_arrow.schema([("_sheet", pa_arrow.int32()), ("_row_number", pa_arrow.int64()),
                                        *((f"c{index}", pa_arrow.string()) for index in range(width))])
        batches = []
        columns: list[list] = [[] for _ in range(width)]
        sheet_indexes: list[int] = []
        row_numbers: list[int] = []
        for index, (sheet, header_row, header) in enumerate(found):
            read_columns = {position: name for name, position in header.positions.items()}
            uncomputed = _formulas_without_values(sheet, width)
            rows = sheet.iter_rows(min_row=header_row + 1, max_col=width, values_only=True)
            for row_number, cells in enumerate(rows, start=header_row + 1):
                if row_number > EXCEL_MAX_ROWS:
                    raise UnreadableFile(
                        f"{raw.relative_path}: sheet '{sheet.title}' has more than {EXCEL_MAX_ROWS:,} rows, more than "
                        "Excel allows, so it was not saved by Excel and cannot be checked in it; split it into "
                        f"workbooks of at most {EXCEL_MAX_ROWS:,} rows each, the header included")
                texts = [_cell_text(cell) for cell in cells]
                if not any(text is not None and text.strip() for text in texts):
                    continue
                formulas = [column for column in uncomputed.get(row_number, []) if column in read_columns]
                if formulas:
                    cells_named = ", ".join(f"{get_column_letter(column + 1)}{row_number}" for column in formulas)
                    malformed.append((row_number, read_columns[formulas[0]], _sheet_prefix(sheet.title, name_sheets) + (
                        f"cell {cells_named} holds a formula" if len(formulas) == 1
                        else f"cells {cells_named} hold formulas") + " with no computed value (the tool that saved "
                        "the workbook did not calculate it); open the file in Excel or LibreOffice and save it, so "
                        "that the values are stored"))
                    continue
                sheet_indexes.append(index)
                row_numbers.append(row_number)
                for position, text in enumerate(texts):
                    columns[position].append(text)
                if len(row_numbers) == XLSX_BATCH_ROWS:
                    batches.append(pa_arrow.record_batch([sheet_indexes, row_numbers, *columns], schema=arrow_schema))
                    columns, sheet_indexes, row_numbers = [[] for _ in range(width)], [], []
    finally:
        workbook.close()
    batches.append(pa_arrow.record_batch([sheet_indexes, row_numbers, *columns], schema=arrow_schema))
    return WorkbookRead([SheetRead(sheet.title, header) for sheet, _, header in found],
                        pa_arrow.Table.from_batches(batches, arrow_schema), malformed, notes, name_sheets)


def arrow_relation(registered_name: str, header: HeaderMap, schema: pa.DataFrameSchema, sheet: int | None = None) -> str:
    """The registered Arrow table as (`_row_number`, canonical text columns); of one sheet's rows, if given."""
    where = "" if sheet is None else f" WHERE _sheet = {sheet:d}"
    return f"(SELECT {projection(header, schema, lambda position: qi(f'c{position}'))} FROM {qi(registered_name)}{where})"
