"""The working warehouse: one DuckDB file that only the pipeline writes.

DuckDB allows one writing process per file. `open_warehouse` therefore takes an exclusive lock
on a sibling lock file for as long as the connection is open, so a refresh launched from the UI,
the nightly schedule and `mel run` wait for each other instead of failing on DuckDB's lock.
Connections are opened per step and closed in `finally`, never at import time.
"""

from __future__ import annotations

import fcntl
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from mel_pipeline.settings import Settings

AUDIT_TABLES_SQL = """
CREATE TABLE IF NOT EXISTS load_audit (
    source VARCHAR NOT NULL,
    file VARCHAR NOT NULL,
    sha256 VARCHAR,
    status VARCHAR NOT NULL,            -- loaded | quarantined | hidden | still_being_written
    rows_read BIGINT NOT NULL,          -- = rows_loaded + rows_rejected + rows_superseded
    rows_loaded BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    contract_version VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL,
    notes VARCHAR,                      -- what was ignored (hidden sheets, unknown columns) or why quarantined
    linking_conflicts BIGINT,           -- person-linking sources: rows whose phone or email links two CURPs
    rows_superseded BIGINT NOT NULL DEFAULT 0,  -- rows whose key a newer file sent again (ingest.py)
    resubmissions VARCHAR,              -- which files superseded this file's rows, or conflict with them
    PRIMARY KEY (source, file)
);
-- Warehouses created before person linking gain the column (NULL: the source is linked on its next load).
ALTER TABLE load_audit ADD COLUMN IF NOT EXISTS linking_conflicts BIGINT;
-- ... and before resubmissions across files were settled, theirs (keys are settled on the next load).
ALTER TABLE load_audit ADD COLUMN IF NOT EXISTS rows_superseded BIGINT DEFAULT 0;
ALTER TABLE load_audit ADD COLUMN IF NOT EXISTS resubmissions VARCHAR;
CREATE TABLE IF NOT EXISTS rejected_rows (
    source VARCHAR NOT NULL,
    file VARCHAR NOT NULL,
    row_number BIGINT,                  -- NULL when the whole file was quarantined
    "column" VARCHAR,
    "check" VARCHAR NOT NULL,
    value VARCHAR,
    message VARCHAR NOT NULL,
    severity VARCHAR NOT NULL           -- error: file quarantined | row: row rejected
);
"""


_held_locks: dict[Path, tuple[int, object]] = {}
_held_locks_guard = threading.Lock()


@contextmanager
def exclusive_lock(lock_path: Path, poll_seconds: float = 0.2) -> Iterator[None]:
    """Hold an exclusive advisory lock on `lock_path` until the block ends; re-entrant within a process.

    Re-entrancy lets `mel run` hold the lock for a whole refresh while each step inside it opens
    the warehouse again; another process waits until the refresh is over.
    """
    lock_path = lock_path.resolve()
    with _held_locks_guard:
        depth, handle = _held_locks.get(lock_path, (0, None))
        if depth:
            _held_locks[lock_path] = (depth + 1, handle)
    if not depth:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = lock_path.open("a")
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(poll_seconds)
        with _held_locks_guard:
            _held_locks[lock_path] = (1, handle)
    try:
        yield
    finally:
        with _held_locks_guard:
            depth, handle = _held_locks[lock_path]
            if depth == 1:
                del _held_locks[lock_path]
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            else:
                _held_locks[lock_path] = (depth - 1, handle)


def refresh_lock(settings: Settings):
    """The lock that serialises every writer of the warehouse and the marts."""
    return exclusive_lock(settings.warehouse_path.with_suffix(".lock"))


def configure(connection: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Apply the memory and thread limits every pipeline connection runs under."""
    connection.execute(f"SET memory_limit = '{_checked_memory_limit(settings.duckdb_memory_limit)}'")
    connection.execute(f"SET threads = {int(settings.duckdb_threads)}")
    connection.execute("SET preserve_insertion_order = true")
    # At DuckDB's default of 16 MB, each staged file of a large source was followed by a checkpoint that
    # rewrote the table's last row group: a sixth of staging ten million participant rows.
    connection.execute("SET checkpoint_threshold = '256MB'")
    connection.execute("SET TimeZone = 'UTC'")
    # Without this, a missing table silently resolves to a Python variable of the same name.
    connection.execute("SET python_enable_replacements = false")


def _checked_memory_limit(text: str) -> str:
    cleaned = text.strip().upper().replace(" ", "")
    number = cleaned.rstrip("KMGTIB")
    if not number.replace(".", "", 1).isdigit() or cleaned[len(number):] not in {"KB", "MB", "GB", "TB", "KIB", "MIB", "GIB", "TIB"}:
        raise ValueError(f"MEL_DUCKDB_MEMORY_LIMIT must look like '1GB' or '512MB', not {text!r}")
    return cleaned


@contextmanager
def open_warehouse(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writable connection to the working warehouse, serialised with every other writer."""
    path = settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with refresh_lock(settings):
        connection = duckdb.connect(str(path))
        try:
            configure(connection, settings)
            connection.execute(AUDIT_TABLES_SQL)
            yield connection
        finally:
            connection.close()


def quote_identifier(name: str) -> str:
    """A DuckDB identifier, double-quoted with embedded quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A DuckDB string literal, single-quoted with embedded quotes doubled."""
    return "'" + str(value).replace("'", "''") + "'"


def table_exists(connection: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether a table of that name exists in the main schema."""
    return bool(connection.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?", [name]
    ).fetchone()[0])


def table_fingerprint(connection: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """An MD5 of a table's rows, whatever their order; None if there is no such table. For small tables."""
    if not table_exists(connection, name):
        return None
    return connection.execute(
        f"SELECT md5(coalesce(string_agg(CAST(r AS VARCHAR), '|' ORDER BY CAST(r AS VARCHAR)), '')) "
        f"FROM {quote_identifier(name)} r").fetchone()[0]
