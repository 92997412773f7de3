"""Reading stakeholder-feedback survey exports (KoboToolbox, ODK Central) from CSV text.

Only turning an export into a table belongs here: recognising which tool wrote it, shortening
group paths to question names, folding split select-multiple columns back into one, and setting
aside rows whose cell count does not match the header, and giving the tool's submission time in
Mexico City local time. Matching columns to the data contract and validating values happen later.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import compress
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from mel_pipeline.raw.files import UnreadableFile

ODK, KOBO, PLAIN = "odk", "kobo", "plain"
GROUP_SEPARATORS = {ODK: "-", KOBO: "/"}
OPTION_SEPARATOR = "/"
KOBO_MARKERS = frozenset({"_uuid", "_submission_time", "_index"})
KOBO_META_NAMES = {"_uuid": "uuid", "_submission_time": "submission_time"}
# ODK Central splits a geopoint into `<question>-Latitude` etc.: the suffix names a component, not a
# question, so the question name is kept with it.
ODK_GEOPOINT_PARTS = frozenset({"Latitude", "Longitude", "Altitude", "Accuracy"})
# The server's submission time, which both tools write in UTC (Kobo without an offset, ODK with `Z`).
SUBMISSION_TIME_COLUMNS = {KOBO: "_submission_time", ODK: "SubmissionDate"}
# The IANA zone, not a fixed offset: Mexico City kept daylight saving time until October 2022.
LOCAL_TIME_ZONE = ZoneInfo("America/Mexico_City")
SELECTED_CELLS = frozenset({"1", "true"})
OPTION_CELLS = frozenset({"", "0", "1", "true", "false"})
# No survey export has a line this long; refusing it before it is read whole keeps memory bounded.
MAX_LINE_CHARS = 8 * 1024 * 1024
# Records are held as Python lists this many at a time; batches of 20,000 read measurably slower.
BATCH_RECORDS = 1000

Malformed = list[tuple[int, str]]


@dataclass(frozen=True)
class _OutputColumn:
    """A column of the result: one column of the file, or a select-multiple rebuilt from its options."""

    path: str
    index: int | None = None
    options: tuple[tuple[str, int], ...] = ()

    def values(self, cells: list[pa.Array]) -> pa.Array:
        """This column's values, from the file's columns as read (empty cells as "")."""
        if self.index is not None:
            return _empty_as_null(cells[self.index])
        ticked = [_ticked(cells[index]).to_pylist() for _, index in self.options]
        names = [name for name, _ in self.options]
        return pa.array([" ".join(compress(names, row)) or None for row in zip(*ticked)], pa.string())


def read_survey_export(path: Path, relative_path: str, delimiter: str) -> tuple[pa.Table, Malformed]:
    """Read a KoboToolbox or ODK Central CSV export; return the table and the rows set aside.

    The tool is recognised from its meta columns: ODK Central (`SubmissionDate`, `meta-instanceID`, or
    `KEY` with `PARENT_KEY`), KoboToolbox (`_uuid`, `_submission_time`, `_index`); any other file is a
    plain table whose column names are kept as written. Each column is named by its last group
    segment (`home-address-city` -> `city`, `datos/estado` -> `estado`, `meta-instanceID` ->
    `instanceID`; `_uuid` -> `uuid`, `_submission_time` -> `submission_time`; an ODK geopoint's
    `location-Latitude` -> `location_Latitude`). When two columns would get the same name, ignoring
    case, both keep their full path with the group separators replaced by `_` (`datos_estado`,
    `empresa_estado`) rather than being merged. ODK group and question names may both contain `-`,
    and only the form tells them apart; this reader assumes `-` separates groups.

    Split select-multiple columns (`<question path>/<option>`) are dropped when the question's own
    column, holding the space-separated choices, is present. When it is missing it is rebuilt from
    the options whose cell is 1 or true. In a Kobo export `/` also separates groups, so there the
    options of a missing question are recognised only when some cell under that path is filled and
    every one is blank, 0, 1, true or false.

    ODK repeat groups arrive as separate child files keyed by `PARENT_KEY`; they are read like any
    other export, and joining them to their parent is the caller's decision.

    The submission time (Kobo `_submission_time`, ODK `SubmissionDate`) is in UTC; it is returned as
    Mexico City local time without an offset (`2024-01-01T05:30:00Z` -> `2023-12-31T23:30:00`), so
    that an answer is counted in the semester in which it was given there. A cell that is not an ISO
    8601 date and time is left as written, for validation to report.

    `_row_number` is the record's row in the file, the header being row 1. Records with more or
    fewer cells than the header are not kept: they are returned as `(row_number, message)`; blank
    lines are skipped. Every
    other column is text, an empty cell being None. Raises UnreadableFile when there is no header,
    the quoting is broken, a line is longer than MAX_LINE_CHARS or two columns cannot be told apart.
    """
    header, row_numbers, cells, malformed = _read_records(path, relative_path, delimiter)
    dialect = _dialect(header)
    columns = _output_columns(header, cells, dialect)
    names = _unique_names([column.path for column in columns], dialect, relative_path)
    arrays = [row_numbers, *(_local_time(column.values(cells)) if column.path == SUBMISSION_TIME_COLUMNS.get(dialect)
                             else column.values(cells) for column in columns)]
    return pa.Table.from_arrays(arrays, names=["_row_number", *names]), malformed


def _read_records(path: Path, relative_path: str,
                  delimiter: str) -> tuple[list[str], pa.Array, list[pa.Array], Malformed]:
    """The header, the kept records' row numbers and their cells column by column, and the rows set aside."""
    malformed: Malformed = []
    record_start_line = 1
    # utf-8-sig drops a byte-order mark; strict makes a stray quote an error rather than a silent merge.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(_bounded_lines(handle, relative_path), delimiter=delimiter, strict=True)
        try:
            header = next(reader, None)
            if not header:
                raise UnreadableFile(f"{relative_path}: no header row; the first line must name the columns")
            records = _Columns(len(header))
            record_start_line = reader.line_num + 1
            for row_number, cells in enumerate(reader, start=2):
                record_start_line = reader.line_num + 1
                if not cells:
                    continue
                if len(cells) != len(header):
                    malformed.append((row_number, f"expected {len(header)} cells, found {len(cells)}"))
                    continue
                records.add(row_number, cells)
        except csv.Error as error:
            raise UnreadableFile(f"{relative_path}: unreadable CSV in the record starting at line "
                                 f"{record_start_line}: {error}") from None
    row_numbers, cells = records.finish()
    return header, row_numbers, cells, malformed


class _Columns:
    """Records gathered column by column into Arrow arrays, BATCH_RECORDS at a time.

    Holding every record as a Python list would take several times the file's size in memory, and
    the garbage collector's passes over those lists would cost more than the parsing.
    """

    def __init__(self, width: int) -> None:
        self._row_numbers: list[int] = []
        self._records: list[list[str]] = []
        self._row_number_chunks: list[pa.Array] = []
        self._cell_chunks: list[list[pa.Array]] = [[] for _ in range(width)]

    def add(self, row_number: int, cells: list[str]) -> None:
        self._row_numbers.append(row_number)
        self._records.append(cells)
        if len(self._records) == BATCH_RECORDS:
            self._move_batch()

    def finish(self) -> tuple[pa.Array, list[pa.Array]]:
        """The row numbers, and each column's cells with empty cells as ""."""
        self._move_batch()
        # One array per column rather than one per batch: DuckDB scans a few long chunks faster than many short ones.
        return (pa.chunked_array(self._row_number_chunks, pa.int64()).combine_chunks(),
                [pa.chunked_array(chunks, pa.string()).combine_chunks() for chunks in self._cell_chunks])

    def _move_batch(self) -> None:
        self._row_number_chunks.append(pa.array(self._row_numbers, pa.int64()))
        for chunks, column in zip(self._cell_chunks, zip(*self._records)):
            chunks.append(pa.array(column, pa.string()))
        self._row_numbers.clear()
        self._records.clear()


def _bounded_lines(handle: TextIO, relative_path: str) -> Iterator[str]:
    """The file's lines as the csv module reads them; a line over MAX_LINE_CHARS makes the file unreadable."""
    line_number = 0
    while line := handle.readline(MAX_LINE_CHARS + 1):
        line_number += 1
        if len(line) > MAX_LINE_CHARS:
            raise UnreadableFile(f"{relative_path}: line {line_number} is longer than {MAX_LINE_CHARS:,} characters; "
                                 "this is not a survey export")
        yield line


def _dialect(header: list[str]) -> str:
    names = set(header)
    if {"SubmissionDate", "meta-instanceID"} & names or {"KEY", "PARENT_KEY"} <= names:
        return ODK
    if KOBO_MARKERS & names:
        return KOBO
    return PLAIN


def _output_columns(header: list[str], cells: list[pa.Array], dialect: str) -> list[_OutputColumn]:
    """The file's columns in order, each select-multiple's option columns dropped or folded into it."""
    if dialect == PLAIN:
        return [_OutputColumn(name, index) for index, name in enumerate(header)]
    present = set(header)
    options_by_question: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for index, name in enumerate(header):
        question, separator, option = name.rpartition(OPTION_SEPARATOR)
        if separator and question:
            options_by_question[question].append((option, index))
    rebuilt = {question: options for question, options in options_by_question.items()
               if question not in present and (dialect == ODK or _look_like_options(options, cells))}
    option_indexes = {index for question, options in options_by_question.items()
                      if question in present or question in rebuilt for _, index in options}
    rebuilt_at_first_option = {options[0][1]: question for question, options in rebuilt.items()}
    columns = []
    for index, name in enumerate(header):
        if index in rebuilt_at_first_option:
            question = rebuilt_at_first_option[index]
            columns.append(_OutputColumn(question, options=tuple(rebuilt[question])))
        elif index not in option_indexes:
            columns.append(_OutputColumn(name, index))
    return columns


def _look_like_options(options: list[tuple[str, int]], cells: list[pa.Array]) -> bool:
    """Whether Kobo columns under one path hold option ticks; with no filled cell there is no evidence."""
    ticks = {tick for _, index in options for tick in _ticks(cells[index]).values()}
    return any(ticks) and ticks <= OPTION_CELLS


def _ticked(column: pa.Array) -> pa.Array:
    """Whether each cell of an option column selects the option."""
    selecting = [cell for cell, tick in _ticks(column).items() if tick in SELECTED_CELLS]
    return pc.is_in(column, value_set=pa.array(selecting, pa.string()))


def _ticks(column: pa.Array) -> dict[str, str]:
    """Each distinct cell of an option column, and the cell as compared to OPTION_CELLS and SELECTED_CELLS.

    Python's strip and lower are applied to each distinct cell rather than to every cell: an option
    column holds few distinct cells however many rows it has.
    """
    return {cell: cell.strip().lower() for cell in pc.unique(column).to_pylist()}


def _local_time(column: pa.Array) -> pa.Array:
    """UTC times (an offset, if written, is honoured) as Mexico City local times; other cells unchanged."""
    return pa.array([_local_time_text(cell) for cell in column.to_pylist()], pa.string())


def _local_time_text(cell: str | None) -> str | None:
    # A bare date has no time to convert: moving it to 18:00 the day before would be invented precision.
    if cell is None or len(cell) <= len("2024-01-01"):
        return cell
    try:
        moment = dt.datetime.fromisoformat(cell)
    except (TypeError, ValueError):
        return cell
    utc = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    return utc.astimezone(LOCAL_TIME_ZONE).replace(tzinfo=None).isoformat()


def _empty_as_null(column: pa.Array) -> pa.Array:
    """The column with its empty cells as null."""
    empty = pc.equal(column, "")
    # A column without empty cells is kept as it is: no copy, and no validity bitmap where nothing is null.
    return pc.if_else(empty, None, column) if pc.any(empty).as_py() else column


def _unique_names(paths: list[str], dialect: str, relative_path: str) -> list[str]:
    short = [_short_name(path, dialect) for path in paths]
    # Compared ignoring case because the contract matches column names ignoring case.
    counts = Counter(name.casefold() for name in short)
    separator = GROUP_SEPARATORS.get(dialect)
    names = [name if counts[name.casefold()] == 1 or separator is None else path.replace(separator, "_")
             for name, path in zip(short, paths)]
    clashes = sorted(name for name, count in Counter(["_row_number", *names]).items() if count > 1)
    if clashes:
        raise UnreadableFile(f"{relative_path}: more than one column is named {', '.join(map(repr, clashes))}; "
                             "rename them so that each column can be told apart")
    return names


def _short_name(path: str, dialect: str) -> str:
    if dialect == KOBO:
        return KOBO_META_NAMES.get(path) or path.rpartition("/")[2]
    if dialect == ODK:
        segments = path.split("-")
        if len(segments) > 1 and segments[-1] in ODK_GEOPOINT_PARTS:
            return f"{segments[-2]}_{segments[-1]}"
        return segments[-1]
    return path
