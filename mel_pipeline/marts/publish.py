"""Publishing marts atomically: build a new file beside the old one, check it, then swap it in whole.

`data/marts/mel.duckdb` is replaced by a rename, so an analyst who has the previous file open
keeps reading that file (its inode lives on until they close it) and a new reader sees either
the old or the new marts, never a mix. The Parquet copies live in a new folder each time, and
`data/marts/parquet` is a symbolic link swapped by rename too. A run that fails or is killed
before the rename leaves the previous marts untouched; its leftovers are cleared next time.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import duckdb

from mel_pipeline.marts.build import build_marts
from mel_pipeline.settings import Settings
from mel_pipeline.warehouse import quote_literal as ql

MARTS_FILE = "mel.duckdb"
PARQUET_LINK = "parquet"
STAGING_PREFIX = ".building-"
# The marts are written in DuckDB's 1.0 storage format, which every DuckDB since 1.0 reads: analysts' R
# packages, DBeaver drivers and CLIs lag behind the DuckDB the pipeline runs on.
MARTS_STORAGE_VERSION = "v1.0.0"


@dataclass
class Published:
    """What a publish wrote."""

    path: Path
    parquet_dir: Path
    row_counts: dict[str, int]


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _clear_leftovers(marts_dir: Path, keep: set[Path]) -> None:
    """Remove unfinished builds of killed runs and Parquet folders no link points to."""
    for path in marts_dir.glob(f"{STAGING_PREFIX}*"):
        if path not in keep:
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def write_marts(connection: duckdb.DuckDBPyConnection, marts_path: Path, threshold: int) -> dict[str, int]:
    """Build every mart table from the open warehouse into a new DuckDB file; returns rows per table."""
    connection.execute(f"ATTACH {ql(str(marts_path))} AS mart (STORAGE_VERSION {ql(MARTS_STORAGE_VERSION)})")
    try:
        return build_marts(connection, threshold)
    finally:
        connection.execute("DETACH mart")


def export_parquet(marts_path: Path, folder: Path) -> None:
    """One Parquet file per mart table, read from the finished marts file."""
    folder.mkdir(parents=True)
    connection = duckdb.connect(str(marts_path), read_only=True)
    try:
        for (table,) in connection.execute("SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall():
            connection.execute(f"COPY {table} TO {ql(str(folder / (table + '.parquet')))} (FORMAT parquet)")
    finally:
        connection.close()


def publish_marts(connection: duckdb.DuckDBPyConnection, settings: Settings,
                  validate: Callable[[Path], None] | None = None) -> Published:
    """Build the marts from the open warehouse connection and swap them in; `validate` may veto.

    `validate(path)` receives the finished, not yet visible, marts file and raises to abort.
    """
    marts_dir = settings.marts_dir
    marts_dir.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    building = marts_dir / f"{STAGING_PREFIX}{token}.duckdb"
    parquet_dir = marts_dir / f"{STAGING_PREFIX}{token}-parquet"
    _clear_leftovers(marts_dir, keep=set())
    try:
        counts = write_marts(connection, building, settings.suppression_threshold)
        export_parquet(building, parquet_dir)
        if validate is not None:
            validate(building)
        _fsync(building)
        final_parquet = marts_dir / f".parquet-{token}"
        parquet_dir.rename(final_parquet)
        link = marts_dir / f"{STAGING_PREFIX}{token}.link"
        link.symlink_to(final_parquet.name)
        os.replace(building, marts_dir / MARTS_FILE)
        os.replace(link, marts_dir / PARQUET_LINK)
        _fsync(marts_dir)
    except BaseException:
        _clear_leftovers(marts_dir, keep=set())
        raise
    for old in marts_dir.glob(".parquet-*"):
        if old != final_parquet:
            shutil.rmtree(old, ignore_errors=True)
    return Published(marts_dir / MARTS_FILE, final_parquet, counts)
