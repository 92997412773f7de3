"""Loading one source: every file in its folder read, validated and staged, file by file.

For each file the accepted rows go to `stg_<source>`, the rejected ones to `rejected_rows` with
a reason, and one row to `load_audit` (rows_read = rows_loaded + rows_rejected + rows_superseded:
a key that several files hold is kept once, see `settle_resubmissions`). A file that
cannot be read as a whole is quarantined: one error naming it, and the other files go on.
Every file in the folder gets its `load_audit` row: a hidden file (its name starts with `.`) and
Office's `~$` owner files are not read, with status `hidden` and a note saying how to have one
loaded; a file modified in the last `settings.settling_seconds` (MEL_SETTLING_SECONDS, default
`settings.SETTLING_SECONDS`), or that changes while it is read, may still
be being written, so nothing of it is staged this run (status `still_being_written`) and the next
run reads it.
Each file is staged in its own transaction, so a crash leaves every file either as it was or
fully replaced. A file whose content, contract version and referenced registers are unchanged
since its last load is not read again. A source that links people is then linked as a whole
(`person_linking`) whenever one of its files was staged or removed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import pandera.pandas as pa
import pyarrow as pa_arrow

from mel_pipeline.raw.files import HashCache, RawFile, TextFacts, UnreadableFile, check_readable, discover
from mel_pipeline.raw.tabular import (
    CsvDialect,
    HeaderMap,
    Malformed,
    arrow_relation,
    csv_relation,
    csv_scan_sql,
    map_header,
    read_xlsx,
    repair_csv,
    sniff_csv,
    transcode_to_utf8,
)
from mel_pipeline.settings import Settings
from mel_pipeline.staging.contract import SOURCES, Source
from mel_pipeline.staging.person_linking import RULE_FINGERPRINT, link_people, relink_needed
from mel_pipeline.staging.validation import compile_validation, labelled, staged_columns, validate_into
from mel_pipeline.warehouse import quote_identifier as qi
from mel_pipeline.warehouse import quote_literal as ql
from mel_pipeline.warehouse import table_exists, table_fingerprint

MAX_SHOWN_VALUE = 200
# The as-of date the contract version is computed for (any fixed date would do).
VERSION_AS_OF = dt.date(2000, 1, 1)
# Changed CSV files are validated together, up to this many bytes and files at a time. One query for
# many small files spares each the fixed cost of planning and running the validation (a grantee sends
# hundreds of them); and DuckDB runs a query over fewer than about 250,000 rows on one thread, since it
# splits a table's scan by large chunks of rows, so large files are validated several at a time too.
BATCH_BYTES = 64 << 20
BATCH_FILES = 100
MAX_MESSAGE = 1000
HIDDEN = "hidden"
STILL_BEING_WRITTEN = "still_being_written"
HIDDEN_NOTE = ("not read: its name starts with '.', which hides a file (editors and the system keep their own "
               "files so); rename it without the leading '.' to have it loaded")
OFFICE_OWNER_NOTE = ("not read: a name starting with '~$' is the owner file Office keeps while a workbook is open; "
                     "if it holds data, rename it without the '~$' to have it loaded")


@dataclass
class FileResult:
    """What happened to one file in this run."""

    file: str
    status: str  # loaded | quarantined | unchanged | hidden | still_being_written
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    notes: list[str] = field(default_factory=list)
    rows_superseded: int = 0
    resubmissions: str | None = None  # which files superseded its rows or conflict with them


@dataclass
class SourceResult:
    """What happened to one source in this run."""

    source: str
    files: list[FileResult]
    removed_files: list[str]

    @property
    def quarantined(self) -> list[FileResult]:
        return [result for result in self.files if result.status == "quarantined"]

    @property
    def still_being_written(self) -> list[FileResult]:
        return [result for result in self.files if result.status == STILL_BEING_WRITTEN]


def file_stamp(path: Path) -> tuple[int, ...] | None:
    """What changes whenever a file is written to: size, inode, modification and status change times."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_size, status.st_ino, status.st_mtime_ns, status.st_ctime_ns


def recently_modified(path: Path, settling_seconds: float) -> bool:
    """Whether the file was modified less than `settling_seconds` ago (or is dated that close ahead of the clock)."""
    try:
        return abs(time.time() - path.stat().st_mtime) < settling_seconds
    except OSError:
        return False


class StillBeingWritten(Exception):
    """A file changed while it was being read."""


def _unchanged_while(raws: list[RawFile], load):
    """What `load()` returns, provided none of the files changed meanwhile; else StillBeingWritten.

    An error reading a file that was changing is a symptom of the writing, not of the file, so it
    becomes StillBeingWritten as well.
    """
    before = [file_stamp(raw.path) for raw in raws]

    def changed() -> bool:
        return [file_stamp(raw.path) for raw in raws] != before

    try:
        results = load()
    except UNREADABLE:
        if changed():
            raise StillBeingWritten() from None
        raise
    if changed():
        raise StillBeingWritten()
    return results


def contract_version(source: Source, schema: pa.DataFrameSchema, connection: duckdb.DuckDBPyConnection,
                     pseudonym_key: str) -> str:
    """A fingerprint of everything a file's staged rows depend on besides its own bytes and the as-of date.

    The schema (columns, checks and their bounds: give it the schema for VERSION_AS_OF, since the
    as-of date is judged on its own in `ingest_source`), the cross-source rules, the content of the
    registers those rules look up, and, for person-level sources, the pseudonym key (as a keyed
    hash: the key itself never reaches the warehouse).
    """
    described = {
        "columns": {name: [col.metadata.get("kind"), col.nullable, [(c.name, c.statistics) for c in col.checks],
                           col.metadata] for name, col in schema.columns.items()},
        "checks": [(check.name, check.statistics) for check in schema.checks],
        "unique": schema.unique,
        "references": [reference.__dict__ for reference in source.references],
        "rates_need_parts": source.rates_need_parts,
        "within_project_dates": source.within_project_dates,
        "pseudonym": source.pseudonym,
        "linking": [source.linking.__dict__, RULE_FINGERPRINT] if source.linking else None,
        "pseudonym_key": hmac.new(pseudonym_key.encode(), b"contract_version", hashlib.sha256).hexdigest()
        if source.pseudonym else None,
    }
    registers = sorted({reference.table for reference in source.references}
                       | ({"stg_projects"} if source.within_project_dates else set())
                       | ({"indicator_catalog"} if source.rates_need_parts else set()))
    for table in registers:
        described[f"register:{table}"] = table_fingerprint(connection, table)
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()[:16]


def resubmitted_table(source_name: str) -> str:
    """The table holding the source's staged rows that another file's rows under the same key set aside."""
    return f"resubmitted_{source_name}"


def ensure_staging_table(connection: duckdb.DuckDBPyConnection, source: Source, schema: pa.DataFrameSchema) -> None:
    """Create `stg_<source>` and its `resubmitted_<source>`; if their columns no longer match the contract,
    start the source afresh."""
    table = f"stg_{source.name}"
    wanted = staged_columns(source, schema)
    columns = ", ".join(f"{qi(name)} {kind}" for name, kind in wanted)
    if table_exists(connection, table):
        existing = connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [table]).fetchall()
        if [(name, kind) for name, kind in existing] == wanted:
            connection.execute(f"CREATE TABLE IF NOT EXISTS {qi(resubmitted_table(source.name))} ({columns})")
            return
        connection.execute(f"DROP TABLE {qi(table)}")
        connection.execute(f"DROP TABLE IF EXISTS {qi(resubmitted_table(source.name))}")
        connection.execute("DELETE FROM rejected_rows WHERE source = ?", [source.name])
        connection.execute("DELETE FROM load_audit WHERE source = ?", [source.name])
    connection.execute(f"CREATE TABLE {qi(table)} ({columns})")
    connection.execute(f"CREATE OR REPLACE TABLE {qi(resubmitted_table(source.name))} ({columns})")


def _forget_file(connection: duckdb.DuckDBPyConnection, source: str, file: str) -> None:
    connection.execute(f"DELETE FROM {qi('stg_' + source)} WHERE _source_file = ?", [file])
    connection.execute(f"DELETE FROM {qi(resubmitted_table(source))} WHERE _source_file = ?", [file])
    connection.execute("DELETE FROM rejected_rows WHERE source = ? AND file = ?", [source, file])
    connection.execute("DELETE FROM load_audit WHERE source = ? AND file = ?", [source, file])


@dataclass
class RawInput:
    """A readable file exposed to DuckDB as (`_row_number`, canonical text columns)."""

    relation: str
    header: HeaderMap
    malformed: Malformed = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    csv: CsvRead | None = None  # how a CSV file is scanned, kept to read its repaired copy if need be
    # A workbook whose rejections name their sheet: (label, sheet's prefix, relation) per sheet read. Each
    # sheet is validated under a label of its own, since row numbers repeat from one sheet to the next.
    sheets: list[tuple[str, str, str]] = field(default_factory=list)

    def labelled(self, raw: RawFile) -> list[str]:
        """The input's rows with the `_source_file` each is validated under."""
        return ([labelled(relation, label) for label, _, relation in self.sheets]
                or [labelled(self.relation, raw.relative_path)])


@dataclass
class CsvRead:
    """A CSV file's scan by DuckDB, and what is needed to scan a repaired copy of it instead."""

    raw: RawFile
    encoding: str
    dialect: CsvDialect
    scan: str
    copies: list[Path]  # temporary UTF-8 copies the scan reads, removed once the file is staged

    def repair(self, header: HeaderMap, schema: pa.DataFrameSchema) -> tuple[str, Malformed]:
        """Scan a well-formed copy instead of the file: its relation, and the records set aside."""
        copy = _temporary_copy(self.copies)
        malformed = repair_csv(self.raw, self.encoding, self.dialect, header, copy)
        dialect = CsvDialect(",", self.dialect.header)
        self.scan = csv_scan_sql(RawFile(copy, self.raw.relative_path, "csv", self.raw.sha256, 0), dialect,
                                 "csv_rejects", "csv_reject_scans")
        return csv_relation(self.scan, header, schema), malformed


def _temporary_copy(copies: list[Path]) -> Path:
    handle, name = tempfile.mkstemp(prefix="mel-", suffix=".csv")
    os.close(handle)
    copies.append(Path(name))
    return copies[-1]


def _arrow_input(connection: duckdb.DuckDBPyConnection, table: pa_arrow.Table, schema: pa.DataFrameSchema,
                 label: str) -> RawInput:
    """Register a reader's Arrow table (named columns plus `_row_number`) under the name `raw_input`."""
    names = [name for name in table.column_names if name != "_row_number"]
    header = map_header(names, schema, label)
    renamed = table.select(["_row_number", *names]).rename_columns(
        ["_row_number", *[f"c{index}" for index in range(len(names))]])
    connection.register("raw_input", renamed)
    return RawInput(arrow_relation("raw_input", header, schema), header)


def _read_input(connection: duckdb.DuckDBPyConnection, raw: RawFile, source: Source, schema: pa.DataFrameSchema,
                facts: TextFacts | None, copies: list[Path]) -> RawInput:
    """Expose one readable file to DuckDB with the reader its format and source call for.

    A CSV file DuckDB cannot read as it is (not UTF-8, or with empty lines DuckDB would not number)
    is read from a repaired UTF-8 copy; temporary copies are listed in `copies`.
    """
    if raw.format == "xml":
        from mel_pipeline.raw.iati import read_iati

        return _arrow_input(connection, read_iati(raw.path, raw.relative_path), schema, raw.relative_path)
    if raw.format == "xlsx":
        workbook = read_xlsx(raw, schema)
        connection.register("raw_input", workbook.table)
        unknown = list(dict.fromkeys(name for sheet in workbook.sheets for name in sheet.header.unknown))
        relations = [arrow_relation("raw_input", sheet.header, schema, index) for index, sheet in enumerate(workbook.sheets)]
        sheets = ([(f"{raw.relative_path}[{sheet.title}]", workbook.where(sheet.title), relation)
                   for sheet, relation in zip(workbook.sheets, relations)] if workbook.name_sheets else [])
        return RawInput("(" + " UNION ALL BY NAME ".join(f"SELECT * FROM {relation}" for relation in relations) + ")",
                        HeaderMap({}, unknown), workbook.malformed, workbook.notes, sheets=sheets)
    dialect = sniff_csv(raw, facts.encoding)
    notes = [facts.note] if facts.note else []
    if source.reader == "survey":
        from mel_pipeline.raw.survey import read_survey_export

        path = raw.path
        if facts.note:
            path = _temporary_copy(copies)
            transcode_to_utf8(raw, facts.encoding, path)
        table, malformed = read_survey_export(path, raw.relative_path, dialect.delimiter)
        raw_input = _arrow_input(connection, table, schema, raw.relative_path)
        raw_input.malformed = [(row, None, message) for row, message in malformed]
        raw_input.notes = notes
        return raw_input
    header = map_header(dialect.header, schema, raw.relative_path)
    read = CsvRead(raw, facts.encoding, dialect, csv_scan_sql(raw, dialect, "csv_rejects", "csv_reject_scans"), copies)
    if facts.note or facts.blank_lines:
        relation, malformed = read.repair(header, schema)
        return RawInput(relation, header, malformed, notes, read)
    return RawInput(csv_relation(read.scan, header, schema), header, notes=notes, csv=read)


def _drop_csv_rejects(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute("DROP TABLE IF EXISTS csv_rejects")
    connection.execute("DROP TABLE IF EXISTS csv_reject_scans")


def _duckdb_set_rows_aside(connection: duckdb.DuckDBPyConnection) -> bool:
    """Whether DuckDB's last CSV scan set aside rows it could not split into the header's cells."""
    return connection.execute("SELECT count(*) FROM csv_rejects").fetchone()[0] > 0


# What makes a file unreadable as a whole (DuckDB's errors come from its CSV scan or its memory limit).
UNREADABLE = (UnreadableFile, duckdb.InvalidInputException, duckdb.OutOfMemoryException)


def unreadable_message(file: str, error: Exception) -> str:
    """One line saying why the file could not be read."""
    if isinstance(error, UnreadableFile):
        return str(error)
    return f"{file}: could not be read ({str(error).strip().splitlines()[0]})"


class OneFileAtATime(Exception):
    """A file of a batch has rows DuckDB could not split into cells: the batch goes file by file."""


def load_files(connection: duckdb.DuckDBPyConnection, settings: Settings, source: Source, schema: pa.DataFrameSchema,
               raws: list[RawFile]) -> list[FileResult]:
    """Validate readable files into the temporary table `checked`; stage accepted and rejected rows.

    One file, or several CSV files at once (see BATCH_BYTES).
    """
    copies: list[Path] = []
    try:
        return _load_inputs(connection, settings, source, schema, raws, copies)
    finally:
        for copy in copies:
            copy.unlink(missing_ok=True)


def _load_inputs(connection: duckdb.DuckDBPyConnection, settings: Settings, source: Source,
                 schema: pa.DataFrameSchema, raws: list[RawFile], copies: list[Path]) -> list[FileResult]:
    """`load_files`, with the temporary copies it makes listed in `copies`."""
    inputs = [_read_input(connection, raw, source, schema, check_readable(raw, source.formats), copies)
              for raw in raws]
    known = {row[0] for row in connection.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}

    def validate(relations: list[str]) -> list[tuple[str, str]]:
        union = " UNION ALL BY NAME ".join(f"SELECT * FROM {relation}" for relation in relations)
        if inputs[0].csv is not None:
            # Numbering a CSV's rows keeps its scan on one thread: the text is numbered once into a table,
            # then parsed and checked on every thread.
            connection.execute(f"CREATE OR REPLACE TEMP TABLE raw_text AS {union}")
            union = "SELECT * FROM raw_text"
        query = compile_validation(source, schema, f"({union})", settings.pseudonym_key, known)
        validate_into(connection, query, "checked")
        return query.output_columns

    output_columns = validate([relation for raw, raw_input in zip(raws, inputs) for relation in raw_input.labelled(raw)])
    if inputs[0].csv is not None:
        if _duckdb_set_rows_aside(connection):
            # DuckDB's row numbers are off after a row it set aside, and it may have read good rows into a
            # broken one: the file is read again from a repaired copy, whose records all keep their place.
            if len(raws) > 1:
                raise OneFileAtATime()
            relation, inputs[0].malformed = inputs[0].csv.repair(inputs[0].header, schema)
            _drop_csv_rejects(connection)
            validate([labelled(relation, raws[0].relative_path)])
            if _duckdb_set_rows_aside(connection):
                raise UnreadableFile(f"{raws[0].relative_path}: DuckDB could not read the repaired copy of the file")
        _drop_csv_rejects(connection)
    sheets = [[raw.relative_path, prefix, label] for raw, raw_input in zip(raws, inputs) for label, prefix, _ in raw_input.sheets]
    if sheets:
        # Each sheet's rows go back to their file, and their rejections say which sheet they are on.
        connection.executemany(
            "UPDATE checked SET _source_file = ?, "
            "_failures = list_transform(_failures, lambda f: struct_update(f, message := ? || f.message)) "
            "WHERE _source_file = ?", sheets)
    malformed = {raw.relative_path: raw_input.malformed for raw, raw_input in zip(raws, inputs)}
    columns = ", ".join(qi(name) for name, _ in output_columns)
    connection.execute(f"INSERT INTO {qi('stg_' + source.name)} ({columns}) "
                       f"SELECT {columns} FROM checked WHERE _failures IS NULL")
    connection.execute(
        "INSERT INTO rejected_rows SELECT ?, _source_file, _row_number, f.column, f.check, left(f.value, ?), "
        "left(f.message, ?), 'row' "
        "FROM (SELECT _source_file, _row_number, unnest(_failures) AS f FROM checked WHERE _failures IS NOT NULL)",
        [source.name, MAX_SHOWN_VALUE, MAX_MESSAGE])
    unsplittable = [[source.name, file, row, column, message]
                    for file, rows in malformed.items() for row, column, message in rows]
    if unsplittable:
        connection.executemany("INSERT INTO rejected_rows VALUES (?, ?, ?, ?, 'malformed_row', NULL, ?, 'row')",
                               unsplittable)
    counts = {file: (loaded, rejected) for file, loaded, rejected in connection.execute(
        "SELECT _source_file, count(*) FILTER (WHERE _failures IS NULL), count(*) FILTER (WHERE _failures IS NOT NULL) "
        "FROM checked GROUP BY _source_file").fetchall()}
    connection.execute("DROP TABLE checked")
    connection.execute("DROP TABLE IF EXISTS raw_text")
    if inputs[0].csv is None:
        connection.unregister("raw_input")
    results = []
    for raw, raw_input in zip(raws, inputs):
        loaded, rejected = counts.get(raw.relative_path, (0, 0))
        rejected += len(malformed[raw.relative_path])
        notes = raw_input.notes + (["ignored unknown column(s): " + ", ".join(raw_input.header.unknown)]
                                   if raw_input.header.unknown else [])
        results.append(FileResult(raw.relative_path, "loaded", loaded + rejected, loaded, rejected, notes))
    return results


def _quarantine(connection: duckdb.DuckDBPyConnection, source: Source, raw: RawFile, message: str) -> FileResult:
    connection.execute("INSERT INTO rejected_rows VALUES (?, ?, NULL, NULL, 'file_unreadable', NULL, ?, 'error')",
                       [source.name, raw.relative_path, message[:MAX_MESSAGE]])
    return FileResult(raw.relative_path, "quarantined", notes=[message])


def ingest_source(connection: duckdb.DuckDBPyConnection, settings: Settings, source_name: str,
                  hashes: HashCache | None = None) -> SourceResult:
    """Bring `stg_<source>` up to date with the source's folder under the raw data directory.

    `hashes`, if given, spares reading files that have not changed since it last saw them.
    """
    source = SOURCES[source_name]
    schema = source.schema(settings.as_of)
    ensure_staging_table(connection, source, schema)
    version = contract_version(source, source.schema(VERSION_AS_OF), connection, settings.pseudonym_key)
    as_of = settings.as_of.isoformat()
    future_dated = {file for (file,) in connection.execute(
        "SELECT DISTINCT file FROM rejected_rows WHERE source = ? AND \"check\" = 'less_than_or_equal_to'",
        [source.name]).fetchall()}
    folder = settings.raw_dir / source.name
    files = discover(folder, settings.raw_dir, source.formats, hashes)
    not_read = files_not_read(folder, settings.raw_dir, files)
    previous = {file: (sha, ver, FileResult(file, "unchanged" if status == "loaded" else status, read, loaded,
                                            rejected, [notes] if notes else [], superseded, resubmissions))
                for file, sha, ver, status, read, loaded, rejected, notes, superseded, resubmissions
                in connection.execute(
                    "SELECT file, sha256, contract_version, status, rows_read, rows_loaded, rows_rejected, notes, "
                    "rows_superseded, resubmissions FROM load_audit WHERE source = ?", [source.name]).fetchall()}
    present = {raw.relative_path for raw in files + not_read}
    removed = sorted(set(previous) - present)
    for file in removed:
        _forget_file(connection, source.name, file)
    results = {}
    changed = []
    for raw in files:
        sha256, staged_version, staged = previous.get(raw.relative_path, (None, "", None))
        staged_contract, _, staged_as_of = staged_version.partition("@")
        # A later as-of date only lets later dates in: it changes no verdict unless one was refused as
        # in the future. So a nightly refresh, whose as-of date is each new day, reads unchanged files once.
        same_verdicts = staged_as_of == as_of or (staged_as_of < as_of and raw.relative_path not in future_dated)
        if (sha256, staged_contract) == (raw.sha256, version) and same_verdicts:
            results[raw.relative_path] = staged
        else:
            changed.append(raw)
    recorded_version = f"{version}@{as_of}"  # what load_audit keeps: the contract and the as-of date
    for raw in not_read:
        note = OFFICE_OWNER_NOTE if raw.path.name.startswith("~$") else HIDDEN_NOTE
        _, _, staged = previous.get(raw.relative_path, (None, "", None))
        # Its audit row is written once, so that a refresh of the same folder publishes the same audit.
        if staged and staged.status == HIDDEN and staged.notes == [note]:
            results[raw.relative_path] = staged
        else:
            results[raw.relative_path] = _record_unread(connection, source, raw, recorded_version, HIDDEN, note)
    for raw in changed:
        if recently_modified(raw.path, settings.settling_seconds):
            results[raw.relative_path] = _record_unread(
                connection, source, raw, recorded_version, STILL_BEING_WRITTEN,
                f"not staged this run: modified less than {settings.settling_seconds:g} seconds before it was read, "
                "so it may still be being written; the next run reads it")
    batchable = [raw for raw in changed if raw.format == "csv" and source.reader != "survey"
                 and raw.relative_path not in results]
    for batch in csv_batches(batchable):
        if len(batch) == 1:
            continue  # staged on its own below
        try:
            loaded = _stage_files(connection, source, batch, recorded_version, lambda: _unchanged_while(
                batch, lambda: load_files(connection, settings, source, schema, batch)))
        except (OneFileAtATime, StillBeingWritten, *UNREADABLE):
            continue  # staged one by one below, where an unreadable or changing file is dealt with on its own
        results.update((result.file, result) for result in loaded)
    for raw in changed:
        if raw.relative_path not in results:
            results[raw.relative_path] = _stage_one(connection, settings, source, schema, raw, recorded_version)
    if changed or removed:
        settle_resubmissions(connection, settings, source, schema)
        _recount(connection, source, results)
    if source.linking and (removed or relink_needed(connection, source)):
        link_people(connection, source)
    return SourceResult(source.name, [results[path] for path in sorted(present)], removed)


def _recount(connection: duckdb.DuckDBPyConnection, source: Source, results: dict[str, FileResult]) -> None:
    """Bring each file's result up to date with its audit row once resubmissions are settled."""
    for file, loaded, rejected, superseded, resubmissions in connection.execute(
            "SELECT file, rows_loaded, rows_rejected, rows_superseded, resubmissions FROM load_audit WHERE source = ?",
            [source.name]).fetchall():
        result = results[file]
        result.rows_loaded, result.rows_rejected, result.rows_superseded = loaded, rejected, superseded
        result.resubmissions = resubmissions


def files_not_read(folder: Path, raw_root: Path, found: list[RawFile]) -> list[RawFile]:
    """The regular files in `folder` that `discover` leaves out (hidden files and Office's `~$` owner files)."""
    if not folder.is_dir():
        return []
    listed = {raw.path for raw in found}
    return [RawFile(path, path.relative_to(raw_root).as_posix(), HIDDEN, "", 0)
            for path in sorted(folder.iterdir()) if path not in listed and path.is_file()]


def _record_unread(connection: duckdb.DuckDBPyConnection, source: Source, raw: RawFile, version: str, status: str,
                   note: str) -> FileResult:
    """Give a file that is not read this run its `load_audit` row, and stage nothing of it.

    No content hash is recorded, so that the next run reads the file whatever it holds then.
    """
    return _stage_files(connection, source, [replace(raw, sha256="")], version,
                        lambda: [FileResult(raw.relative_path, status, notes=[note])])[0]


RESUBMISSION = "resubmission"  # the check of a row rejected because another file holds its key with other values
# A source's column that dates each row's submission, where it has one: the later submission of a key wins.
SUBMISSION_DATES = ("submitted_on", "submitted_at")


def settle_resubmissions(connection: duckdb.DuckDBPyConnection, settings: Settings, source: Source,
                         schema: pa.DataFrameSchema) -> None:
    """Keep one row for a key that several files of the source hold (a file sent again, often renamed).

    Rows under a key repeated across files are all the same: the newest file's row is kept (the latest
    modification time, then the name that sorts last: the choice changes no figure). They differ: the
    row with the strictly latest submission date is kept, where the source dates its rows (every row
    under the key dated, one latest); otherwise nothing says which is right (a modification time does
    not survive a copy or a clone), so every row under the key is rejected, naming the other files and
    rows. Rows not kept are held in `resubmitted_<source>`, so that each settling starts again from every
    file's staged rows and a file removed or corrected brings back the rows it had set aside. Each
    file's audit row counts its rows superseded (rows_read = rows_loaded + rows_rejected +
    rows_superseded) and says which files took them. Repeated keys are found by a grouping over the
    key columns (in more than one file: its smallest and largest file differ, cheaper than counting
    distinct files), so a source without repeats costs one aggregation. A person-level source's key
    holds the person key as staged, before person linking.
    """
    key = tuple(schema.unique or ())
    if not key:
        return
    table, held = qi(f"stg_{source.name}"), qi(resubmitted_table(source.name))
    names = [name for name, _ in staged_columns(source, schema)]
    dated = next((name for name in SUBMISSION_DATES if name in names), None)
    connection.execute("BEGIN TRANSACTION")
    try:
        _restore_resubmissions(connection, source.name, table, held)
        keys = ", ".join(qi(name) for name in key)
        same = " AND ".join(f"s.{qi(name)} IS NOT DISTINCT FROM d.{qi(name)}" for name in key)
        content = ", ".join(f"s.{qi(name)}" for name in names if name not in ("_source_file", "_row_number"))
        # A key repeats across files only where its leading columns do (a participant only at an event two files
        # both hold): grouping on those first groups far fewer values (an event, not each person at it).
        leading = key[:-1] or key
        leading_keys = ", ".join(qi(name) for name in leading)
        same_leading = " AND ".join(f"s.{qi(name)} IS NOT DISTINCT FROM d.{qi(name)}" for name in leading)
        connection.execute(
            f"CREATE OR REPLACE TEMP TABLE resubmission_candidates AS SELECT s.* FROM {table} s "
            f"SEMI JOIN (SELECT {leading_keys} FROM {table} GROUP BY ALL "
            f"HAVING min(_source_file) <> max(_source_file)) d ON {same_leading}")
        connection.execute(
            f"CREATE OR REPLACE TEMP TABLE resubmission_rows AS "
            f"SELECT s._source_file, s._row_number, {', '.join('s.' + qi(name) for name in key)}, "
            f"hash(row({content})) AS content, {('s.' + qi(dated)) if dated else 'NULL'} AS submitted "
            f"FROM resubmission_candidates s SEMI JOIN (SELECT {keys} FROM resubmission_candidates GROUP BY ALL "
            f"HAVING min(_source_file) <> max(_source_file)) d ON {same}")
        connection.execute("DROP TABLE resubmission_candidates")
        files = [file for (file,) in connection.execute(
            "SELECT DISTINCT _source_file FROM resubmission_rows ORDER BY 1").fetchall()]
        if files:
            _settle(connection, source, settings, key, dated, files, table, held)
        connection.execute("DROP TABLE resubmission_rows")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _restore_resubmissions(connection: duckdb.DuckDBPyConnection, source_name: str, table: str, held: str) -> None:
    """Undo the last settling: held rows back into staging, their rejections withdrawn, the audit as staged."""
    connection.execute(
        "UPDATE load_audit SET rows_loaded = rows_loaded + rows_superseded + c.conflicts, "
        "rows_rejected = rows_rejected - c.conflicts, rows_superseded = 0, resubmissions = NULL "
        "FROM (SELECT a.file, count(r.file) AS conflicts FROM load_audit a LEFT JOIN rejected_rows r "
        "      ON r.source = a.source AND r.file = a.file AND r.\"check\" = ? "
        "      WHERE a.source = ? AND (a.rows_superseded > 0 OR a.resubmissions IS NOT NULL) GROUP BY a.file) c "
        "WHERE load_audit.source = ? AND load_audit.file = c.file", [RESUBMISSION, source_name, source_name])
    connection.execute(f"INSERT INTO {table} SELECT * FROM {held}")
    connection.execute(f"DELETE FROM {held}")
    connection.execute("DELETE FROM rejected_rows WHERE source = ? AND \"check\" = ?", [source_name, RESUBMISSION])


def _settle(connection: duckdb.DuckDBPyConnection, source: Source, settings: Settings, key: tuple[str, ...],
            dated: str | None, files: list[str], table: str, held: str) -> None:
    """Judge the rows of `resubmission_rows` (see `settle_resubmissions`) and apply the verdicts."""
    connection.execute("CREATE OR REPLACE TEMP TABLE resubmission_files (file VARCHAR, modified BIGINT)")
    connection.executemany("INSERT INTO resubmission_files VALUES (?, ?)",
                           [[file, (settings.raw_dir / file).stat().st_mtime_ns] for file in files])
    partition = ", ".join(qi(name) for name in key)
    undecided = (f"; neither is dated later by {dated}" if dated
                 else f"; {source.name} rows carry no submission date to tell the newer")
    connection.execute(f"""
CREATE OR REPLACE TEMP TABLE resubmission_verdicts AS
WITH ranked AS (
    SELECT r.*, min(content) OVER k = max(content) OVER k AS identical,
           count(submitted) OVER k = count(*) OVER k AND max(submitted) OVER k = submitted AS latest,
           row_number() OVER (PARTITION BY {partition} ORDER BY f.modified DESC, r._source_file DESC) AS newness,
           list({{'file': r._source_file, 'row': r._row_number}} ORDER BY r._source_file, r._row_number) OVER k AS copies
    FROM resubmission_rows r JOIN resubmission_files f ON f.file = r._source_file
    WINDOW k AS (PARTITION BY {partition})
), chosen AS (
    SELECT *, coalesce(CASE WHEN identical THEN newness = 1 ELSE latest END, false) AS chosen FROM ranked
), settled AS (
    SELECT *, sum(chosen::INTEGER) OVER k = 1 AS settled, max(CASE WHEN chosen THEN _source_file END) OVER k AS kept_in,
           list_filter(copies, lambda c: c.file <> _source_file) AS others
    FROM chosen WINDOW k AS (PARTITION BY {partition})
)
SELECT _source_file, _row_number,
       CASE WHEN settled AND chosen THEN 'kept' WHEN settled THEN 'superseded' ELSE 'conflict' END AS verdict,
       kept_in, list_distinct(list_transform(others, lambda c: c.file)) AS other_files,
       'key ({", ".join(key)}) sent again with other values in ' ||
       array_to_string(list_transform(others, lambda c: c.file || ' row ' || c.row), ', ') ||
       {ql(undecided + ": no row of the key is kept; withdraw or correct the wrong file")} AS message
FROM settled""")
    connection.execute(f"INSERT INTO {held} SELECT s.* FROM {table} s SEMI JOIN resubmission_verdicts v "
                       "ON s._source_file = v._source_file AND s._row_number = v._row_number AND v.verdict <> 'kept'")
    connection.execute(f"DELETE FROM {table} s USING resubmission_verdicts v WHERE s._source_file = v._source_file "
                       "AND s._row_number = v._row_number AND v.verdict <> 'kept'")
    connection.execute(
        "INSERT INTO rejected_rows SELECT ?, _source_file, _row_number, ?, ?, NULL, left(message, ?), 'row' "
        "FROM resubmission_verdicts WHERE verdict = 'conflict'", [source.name, key[0], RESUBMISSION, MAX_MESSAGE])
    counts = connection.execute(
        "SELECT _source_file, count(*) FILTER (WHERE verdict = 'superseded'), count(*) FILTER (WHERE verdict = 'conflict') "
        "FROM resubmission_verdicts GROUP BY ALL").fetchall()
    partners = connection.execute("""
        SELECT _source_file, verdict, partner, count(*) FROM (
            SELECT _source_file, verdict, kept_in AS partner FROM resubmission_verdicts WHERE verdict = 'superseded'
            UNION ALL
            SELECT _source_file, verdict, unnest(other_files) FROM resubmission_verdicts WHERE verdict <> 'superseded'
        ) GROUP BY ALL""").fetchall()
    said: dict[str, list[str]] = {}
    for file, verdict, partner, rows in sorted(partners, key=lambda said_of: (
            said_of[0], list(RESUBMISSION_NOTES).index(said_of[1]), said_of[2])):
        said.setdefault(file, []).append(RESUBMISSION_NOTES[verdict].format(rows=rows, s="" if rows == 1 else "s",
                                                                           file=partner))
    connection.executemany(
        "UPDATE load_audit SET rows_loaded = rows_loaded - ? - ?, rows_rejected = rows_rejected + ?, "
        "rows_superseded = ?, resubmissions = ? WHERE source = ? AND file = ?",
        [[superseded, conflicts, conflicts, superseded, "; ".join(said[file]), source.name, file]
         for file, superseded, conflicts in counts])
    connection.execute("DROP TABLE resubmission_verdicts")
    connection.execute("DROP TABLE resubmission_files")


# What a file's audit row says of its rows under keys other files hold too, in this order.
RESUBMISSION_NOTES = {
    "superseded": "{rows} row{s} superseded by {file}",
    "conflict": "{rows} row{s} rejected: {file} holds the same key{s} with other values",
    "kept": "{rows} row{s} kept over the same key{s} in {file}",
}


def csv_batches(raws: list[RawFile]) -> list[list[RawFile]]:
    """The files in order, in batches of at most BATCH_FILES files and BATCH_BYTES (a larger file alone)."""
    batches: list[list[RawFile]] = []
    size = 0
    for raw in raws:
        if not batches or len(batches[-1]) == BATCH_FILES or size + raw.size > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(raw)
        size += raw.size
    return batches


def _stage_one(connection: duckdb.DuckDBPyConnection, settings: Settings, source: Source, schema: pa.DataFrameSchema,
               raw: RawFile, version: str) -> FileResult:
    """Stage one file, quarantine it if it cannot be read, or leave it for the next run if it changed meanwhile."""
    try:
        return _stage_files(connection, source, [raw], version, lambda: _unchanged_while(
            [raw], lambda: load_files(connection, settings, source, schema, [raw])))[0]
    except StillBeingWritten:
        return _record_unread(connection, source, raw, version, STILL_BEING_WRITTEN,
                              "not staged this run: the file changed while it was being read, so it is still being "
                              "written; the next run reads it")
    except UNREADABLE as error:
        message = unreadable_message(raw.relative_path, error)
        return _stage_files(connection, source, [raw], version,
                            lambda: [_quarantine(connection, source, raw, message)])[0]


def _stage_files(connection: duckdb.DuckDBPyConnection, source: Source, raws: list[RawFile], version: str,
                 load) -> list[FileResult]:
    """Replace everything staged from these files, and their audit rows, in a single transaction."""
    connection.execute("BEGIN TRANSACTION")
    try:
        for raw in raws:
            _forget_file(connection, source.name, raw.relative_path)
        results = load()
        loaded_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        connection.executemany(
            "INSERT INTO load_audit (source, file, sha256, status, rows_read, rows_loaded, rows_rejected, "
            "contract_version, loaded_at, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[source.name, raw.relative_path, raw.sha256, result.status, result.rows_read, result.rows_loaded,
              result.rows_rejected, version, loaded_at, "; ".join(result.notes) or None]
             for raw, result in zip(raws, results)])
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return results
