"""The marts as one Excel workbook for analysts who live in Excel: a contents sheet, then a sheet per table.

The first sheet, `contents`, lists every other sheet with what it holds and its table's row count.
A sheet is named after its table, cut to Excel's 31 characters (and numbered if two cut names
clash). Every sheet has a bold, frozen header row, an autofilter and column widths fitted to the
contents. A table with an `indicator_code` shows the indicator's name from `indicator_catalog`
beside it, as `indicator_name`. Numbers stay numbers and dates stay dates; fractions are rounded to
the 9 decimal places the indicator engine computes in (DECIMAL(38, 9)), so the last bits of a
floating-point sum do not show (0.10999999999999988 is written 0.11); a NaN is left empty like a
NULL (Excel has no NaN) and an infinity is written as the text `inf` or `-inf`. Text comes from
grantees' files, so a cell that Excel or LibreOffice would read as a formula (beginning with =, +,
-, @, a tab or a carriage return) is neutralised: prefixed with a single quote and stored as a
string. The workbook is written beside its destination and renamed into place, so readers never
open half a file.

The file is written here directly as Office Open XML (SpreadsheetML with inline strings), a row
at a time, not through a general spreadsheet library: the marts run to millions of cells, and
this way each costs one string concatenation.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import uuid
import zipfile
from itertools import islice
from pathlib import Path
from typing import Callable, Iterator, Mapping
from xml.sax.saxutils import escape, quoteattr

import duckdb

from mel_pipeline.indicators.engine import EXACT

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")  # control characters XML 1.0 forbids
SHEET_NAME_LIMIT = 31
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_TEXT = 32_767  # characters in one cell
WIDTH_SAMPLE_ROWS = 500
MIN_WIDTH, MAX_WIDTH = 8, 60
NUMBER_TYPES = frozenset({"tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint",
                          "uinteger", "ubigint", "uhugeint", "float", "double", "decimal"})
TIMESTAMP_TYPES = frozenset({"timestamp", "timestamp_s", "timestamp_ms", "timestamp_ns"})
EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # day 0 of Excel's 1900 date system, as Excel counts after February 1900
SECONDS_PER_DAY = 86_400
# The scale of the engine's exact sums: digits past it are floating-point noise, never a measured figure.
PUBLISHED_DECIMALS = int(re.fullmatch(r"DECIMAL\(\d+, (\d+)\)", EXACT).group(1))
CONTENTS_SHEET = "contents"
CONTENTS_COLUMNS = ("sheet", "holds", "rows")
ABSOLUTE_REFERENCE, ABSOLUTE_FORM = re.compile(r"([A-Z]+)([0-9]+)"), r"$\1$\2"  # A1 -> $A$1

# Cell styles, by their index in STYLES_XML's cellXfs.
HEADER_STYLE, DATE_STYLE, DATETIME_STYLE, TIME_STYLE, DURATION_STYLE = 1, 2, 3, 4, 5
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
STYLES_XML = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="{MAIN_NS}">
<numFmts count="4"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/><numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/><numFmt numFmtId="166" formatCode="h:mm:ss"/><numFmt numFmtId="167" formatCode="[hh]:mm:ss"/></numFmts>
<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>
<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="6"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="167" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""

CellXml = Callable[[str, object], str]  # (cell reference, value) -> the cell's XML, "" for an empty cell


def safe_text(text: str) -> str:
    """Text Excel shows as typed: formula-like text gets a leading single quote; XML-illegal characters go;
    line ends become line feeds, as XML parsers read them; text past Excel's limit for a cell is cut,
    ending in an ellipsis (Excel would refuse to open the file)."""
    if text.isprintable() and not text.startswith(FORMULA_TRIGGERS) and len(text) <= EXCEL_MAX_TEXT:
        return text  # most cells: nothing to change, known without a regular expression
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    if text.startswith(FORMULA_TRIGGERS):
        text = "'" + text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if len(text) <= EXCEL_MAX_TEXT else text[:EXCEL_MAX_TEXT - 1] + "…"


def _as_text(value) -> str:
    """A value as text: lists comma-separated, anything else as Python prints it."""
    if isinstance(value, (list, tuple)):
        return ", ".join("" if item is None else str(item) for item in value)
    return str(value)


def _string_cell(reference: str, text: str, style: str = "") -> str:
    # An inline string is only ever text: Excel never reads it as a formula, number or link.
    return f'<c r="{reference}"{style} t="inlineStr"><is><t xml:space="preserve">{escape(text)}</t></is></c>'


def _text_cell(reference: str, text: str, style: str = "") -> str:
    """Text from the data, made safe to show."""
    return _string_cell(reference, safe_text(text), style)


def _number_cell(reference: str, number) -> str:
    """A number, a fraction rounded to the published decimals; Excel has none for NaN, left empty like a NULL,
    or infinity, written as `inf` or `-inf`."""
    if isinstance(number, int):
        return f'<c r="{reference}"><v>{number}</v></c>'
    number = float(number)
    if math.isfinite(number):
        return f'<c r="{reference}"><v>{round(number, PUBLISHED_DECIMALS)!r}</v></c>'
    return "" if math.isnan(number) else _string_cell(reference, "inf" if number > 0 else "-inf")


def _serial_cell(style: int) -> CellXml:
    """Dates, times of day and durations as Excel stores them: days since its epoch, in a number format."""
    def cell(reference: str, value) -> str:
        if isinstance(value, dt.datetime):
            days = (value - EXCEL_EPOCH) / dt.timedelta(days=1)
            shown = DATE_STYLE if style == DATETIME_STYLE and value.time() == dt.time() else style
        elif isinstance(value, dt.date):
            days, shown = (value - EXCEL_EPOCH.date()).days, style
        elif isinstance(value, dt.time):
            days = (value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6) / SECONDS_PER_DAY
            shown = style
        else:
            days, shown = value / dt.timedelta(days=1), style
        return f'<c r="{reference}" s="{shown}"><v>{days!r}</v></c>'
    return cell


def _cell_xml(type_id: str) -> CellXml:
    """The XML of a column's cells, chosen once by its DuckDB type id (a column holds one type).

    Types without an Excel counterpart (structs, UUIDs, time zone aware timestamps, ...) become text.
    """
    if type_id == "varchar":
        return _text_cell
    if type_id in NUMBER_TYPES:
        return _number_cell
    if type_id == "boolean":
        return lambda reference, value: f'<c r="{reference}" t="b"><v>{int(value)}</v></c>'
    styles = {"date": DATE_STYLE, "time": TIME_STYLE, "interval": DURATION_STYLE,
              **dict.fromkeys(TIMESTAMP_TYPES, DATETIME_STYLE)}
    if type_id in styles:
        return _serial_cell(styles[type_id])
    return lambda reference, value: _text_cell(reference, _as_text(value))


def _column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


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


def _table_query(connection: duckdb.DuckDBPyConnection, table: str, named_indicators: bool) -> str:
    """The SELECT of a table's sheet: its rows in stored order, each indicator's name beside its code."""
    columns = [name for name, in connection.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index", [table]).fetchall()]
    if not named_indicators or "indicator_code" not in columns:
        return f'SELECT * FROM "{table}"'
    listed = [f't."{name}"' + (", c.name AS indicator_name" if name == "indicator_code" else "") for name in columns]
    return (f'SELECT {", ".join(listed)} FROM "{table}" t LEFT JOIN indicator_catalog c ON c.code = t.indicator_code '
            "ORDER BY t.rowid")


def _write_sheet(out, connection: duckdb.DuckDBPyConnection, query: str) -> str:
    """The rows of `query` as a worksheet's XML, streamed to `out`; returns the autofilter's range."""
    result = connection.execute(query)
    columns = [column[0] for column in result.description]
    cells = [_cell_xml(column[1].id) for column in result.description]
    letters = [_column_letters(index) for index in range(len(columns))]
    sample = result.fetchmany(WIDTH_SAMPLE_ROWS)
    widths = "".join(f'<col min="{index + 1}" max="{index + 1}" width="{_width([name, *(row[index] for row in sample)])}" '
                     f'customWidth="1"/>' for index, name in enumerate(columns))
    header = "".join(_text_cell(f"{letter}1", name, f' s="{HEADER_STYLE}"') for letter, name in zip(letters, columns))
    out.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN_NS}" '
              f'xmlns:r="{RELATIONSHIPS_NS}"><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" '
              f'topLeftCell="A2" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft"/>'
              f'</sheetView></sheetViews><cols>{widths}</cols><sheetData><row r="1">{header}</row>'.encode())
    rows = _rows(result, sample)
    written = 0
    batch = []
    for written, row in enumerate(islice(rows, EXCEL_MAX_ROWS - 2), start=2):  # 2: the header and a note
        number = str(written)
        batch.append(f'<row r="{number}">' + "".join(
            [cell(letter + number, value) for cell, letter, value in zip(cells, letters, row) if value is not None])
            + "</row>")
        if len(batch) == 1000:
            out.write("".join(batch).encode())
            batch = []
    last = max(written, 1)
    left = sum(1 for _ in rows)
    if left:
        note = f"truncated at Excel's row limit: {left:,} more rows in the DuckDB or Parquet marts"
        batch.append(f'<row r="{last + 1}">{_string_cell(f"A{last + 1}", note)}</row>')
    filtered = f"A1:{letters[-1]}{last}"
    out.write(("".join(batch) + f'</sheetData><autoFilter ref="{filtered}"/></worksheet>').encode())
    return filtered


def _quoted_sheet(name: str) -> str:
    """A sheet name as formulas and defined names refer to it: in single quotes, its own quotes doubled."""
    return "'" + name.replace("'", "''") + "'"


def _workbook_parts(sheets: list[tuple[str, str]]) -> dict[str, str]:
    """The package's other parts for sheets given as (name, autofilter range), in order."""
    content_types = "".join(
        f'<Override PartName="/xl/worksheets/sheet{number}.xml" '
        f'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for number in range(1, len(sheets) + 1))
    relationships = "".join(
        f'<Relationship Id="rId{number}" Type="{RELATIONSHIPS_NS}/worksheet" Target="worksheets/sheet{number}.xml"/>'
        for number in range(1, len(sheets) + 1))
    listed = "".join(f'<sheet name={quoteattr(name)} sheetId="{number}" r:id="rId{number}"/>'
                     for number, (name, _) in enumerate(sheets, start=1))
    # Excel records each sheet's autofilter as a hidden defined name too.
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{index}" hidden="1">'
        f"{escape(_quoted_sheet(name))}!{ABSOLUTE_REFERENCE.sub(ABSOLUTE_FORM, area)}</definedName>"
        for index, (name, area) in enumerate(sheets))
    return {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns='
        '"http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
        'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f"{content_types}</Types>",
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns='
        '"http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
        f'Type="{RELATIONSHIPS_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{MAIN_NS}" '
        f'xmlns:r="{RELATIONSHIPS_NS}"><sheets>{listed}</sheets><definedNames>{filters}</definedNames></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships '
        'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'{relationships}<Relationship Id="rId{len(sheets) + 1}" Type="{RELATIONSHIPS_NS}/styles" '
        'Target="styles.xml"/></Relationships>',
        "xl/styles.xml": STYLES_XML,
    }


def _contents_query(rows: list[tuple[str, str, int]]) -> str:
    """A SELECT of literal rows (sheet, what it holds, row count), written by `_write_sheet` like any table's."""
    def literal(text: str) -> str:
        return "'" + text.replace("'", "''") + "'" if text else "NULL"

    if not rows:
        return f"SELECT {', '.join(f'NULL AS {name}' for name in CONTENTS_COLUMNS)} WHERE false"
    values = ", ".join(f"({literal(sheet)}, {literal(holds)}, {count})" for sheet, holds, count in rows)
    return f"SELECT * FROM (VALUES {values}) AS contents({', '.join(CONTENTS_COLUMNS)})"


def _holds(description: str) -> str:
    """A table's description cut to its first sentence, which says what the table holds."""
    return description.split(". ")[0].rstrip(".") + "." if description else ""


def write_workbook(marts_path: Path, path: Path, descriptions: Mapping[str, str]) -> None:
    """Write the contents sheet and every table of the marts file to `path` (.xlsx), in place."""
    connection = duckdb.connect(str(marts_path), read_only=True)
    try:
        tables = [table for table, in connection.execute(
            "SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall()]
        named_indicators = {"code", "name"} <= {name for name, in connection.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'indicator_catalog'").fetchall()}
        taken: set[str] = set()
        names = [_sheet_name(CONTENTS_SHEET, taken), *(_sheet_name(table, taken) for table in tables)]
        counts = [connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables]
        contents = _contents_query([(name, _holds(descriptions.get(table, "")), count)
                                    for name, table, count in zip(names[1:], tables, counts)])
        queries = [contents, *(_table_query(connection, table, named_indicators) for table in tables)]
        # Level 1: the XML shrinks almost as much as at the default level, several times faster.
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as package:
            sheets = []
            for number, (name, query) in enumerate(zip(names, queries), start=1):
                with package.open(f"xl/worksheets/sheet{number}.xml", "w", force_zip64=True) as out:
                    sheets.append((name, _write_sheet(out, connection, query)))
            for name, text in _workbook_parts(sheets).items():
                package.writestr(name, text)
    finally:
        connection.close()


def export_workbook(marts_path: Path, out_path: Path, descriptions: Mapping[str, str] | None = None) -> Path:
    """Write the marts file to `out_path` (.xlsx), atomically, its contents sheet saying what each table holds
    from `descriptions` (by table); returns `out_path`."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = out_path.with_name(f".{out_path.name}-{uuid.uuid4().hex[:12]}.tmp")
    try:
        write_workbook(marts_path, temporary, descriptions or {})
        os.replace(temporary, out_path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return out_path
