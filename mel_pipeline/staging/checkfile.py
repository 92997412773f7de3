"""`mel check`: validate one file against a source's contract in memory, loading nothing.

The projects register is read from `data/raw/projects/` into the same in-memory database first,
so the cross-source rules (known project, dates within the project) apply as in a real run.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from mel_pipeline.raw.files import SUFFIX_FORMATS, RawFile, sha256_of
from mel_pipeline.reference.catalogue import load_registry, write_catalog
from mel_pipeline.settings import Settings
from mel_pipeline.staging.contract import SOURCES
from mel_pipeline.staging.ingest import (
    UNREADABLE,
    FileResult,
    ensure_staging_table,
    ingest_source,
    load_files,
    unreadable_message,
)
from mel_pipeline.warehouse import AUDIT_TABLES_SQL, configure


def check_file(path: Path, source_name: str, settings: Settings) -> tuple[list[str], FileResult]:
    """Every problem as 'file:row: column: message' lines, and the file's counts."""
    if source_name not in SOURCES:
        raise SystemExit(f"unknown source {source_name!r}; choose one of: {', '.join(SOURCES)}")
    if not path.is_file():
        raise SystemExit(f"{path}: no such file")
    source = SOURCES[source_name]
    schema = source.schema(settings.as_of)
    connection = duckdb.connect()
    try:
        configure(connection, settings)
        connection.execute(AUDIT_TABLES_SQL)
        tables = {reference.table for reference in source.references}
        if "indicator_catalog" in tables:
            write_catalog(connection, load_registry(settings.indicators_dir, SOURCES))
        if ("stg_projects" in tables or source.within_project_dates) and source_name != "projects":
            ingest_source(connection, settings, "projects")
        ensure_staging_table(connection, source, schema)
        file_format = SUFFIX_FORMATS.get(path.suffix.lower(), "unsupported")
        raw = RawFile(path, str(path), file_format if file_format in source.formats else "unsupported",
                      sha256_of(path), path.stat().st_size)
        try:
            [result] = load_files(connection, settings, source, schema, [raw])
        except UNREADABLE as error:
            message = unreadable_message(str(path), error)
            return [message], FileResult(str(path), "quarantined", notes=[message])
        problems = [
            f"{file}:{row}: {column or '(row)'}: {message}"
            for file, row, column, message in connection.execute(
                'SELECT file, row_number, "column", message FROM rejected_rows WHERE source = ? AND file = ? '
                "ORDER BY row_number", [source_name, str(path)]).fetchall()
        ]
        return problems, result
    finally:
        connection.close()
