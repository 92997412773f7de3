"""Staging assets: one per raw source, each with checks that show what was rejected and why."""


import dagster as dg
import duckdb

from mel_pipeline.defs.resources import MelWarehouse
from mel_pipeline.outputs.run_summary import (
    ROWS_READ,
    SourceSummary,
    counted,
    failures_by_check_markdown,
    files_not_loaded_markdown,
    files_out_of_balance,
    rejection_messages_markdown,
    summarise_sources,
)
from mel_pipeline.raw.files import HashCache
from mel_pipeline.staging.contract import LOAD_ORDER, SOURCES, Source
from mel_pipeline.staging.ingest import ingest_source
from mel_pipeline.staging.validation import linking_column
from mel_pipeline.summaries import table_preview

STAGING_GROUP = "staging"
WAREHOUSE_POOL = "duckdb_warehouse"


def staging_key(source_name: str) -> dg.AssetKey:
    """The asset key of a source's staging table."""
    return dg.AssetKey(f"stg_{source_name}")


def _check_specs(source: Source) -> list[dg.AssetCheckSpec]:
    key = staging_key(source.name)
    return [
        dg.AssetCheckSpec("files_readable", asset=key,
                          description="Every file in the folder was loaded. A file that was not (quarantined because "
                                      "it could not be read, or set aside with another status) is a WARN naming the "
                                      "file, its status and why; the other files load all the same."),
        dg.AssetCheckSpec("rows_accounted_for", asset=key, blocking=True,
                          description="For every file, rows read = rows loaded + rows rejected (+ any other "
                                      "destination load_audit counts). A file out of balance has lost rows: ERROR, "
                                      "and nothing downstream of this source is computed or published in the run."),
        dg.AssetCheckSpec("no_rejected_rows", asset=key,
                          description="No row was rejected; otherwise a WARN with the rows rejected per check, in "
                                      "plain words with the check's code, and every distinct message whole."),
    ]


def staging_check_results(connection: duckdb.DuckDBPyConnection,
                          summary: SourceSummary) -> list[dg.AssetCheckResult]:
    """The three checks of a staging asset, from what load_audit and rejected_rows hold for its source."""
    source = summary.source
    unbalanced = files_out_of_balance(connection, source)
    return [
        dg.AssetCheckResult(
            check_name="files_readable", passed=not summary.files_by_status, severity=dg.AssetCheckSeverity.WARN,
            description=(f"{summary.files_left_out} of {summary.files} files not loaded"
                         if summary.files_by_status else f"all {summary.files} files loaded"),
            metadata={"files_not_loaded": dg.MetadataValue.json(summary.files_by_status),
                      "files": dg.MetadataValue.md(files_not_loaded_markdown(connection, source))}),
        dg.AssetCheckResult(
            check_name="rows_accounted_for", passed=not unbalanced, severity=dg.AssetCheckSeverity.ERROR,
            metadata={**summary.rows, "files_out_of_balance": dg.MetadataValue.json(unbalanced)}),
        dg.AssetCheckResult(
            check_name="no_rejected_rows", passed=summary.rows_rejected == 0, severity=dg.AssetCheckSeverity.WARN,
            description=(f"{counted(summary.rows_rejected, 'row')} rejected" if summary.rows_rejected
                         else "no row rejected"),
            metadata={"rows_rejected": summary.rows_rejected,
                      "failures_by_check": dg.MetadataValue.md(failures_by_check_markdown(connection, source)),
                      "sample": dg.MetadataValue.md(rejection_messages_markdown(connection, source))}),
    ]


def build_staging_asset(source: Source) -> dg.AssetsDefinition:
    """The asset that brings `stg_<source>` up to date with `data/raw/<source>/`."""
    upstream = [dg.AssetKey(name) for name in sorted({reference.asset for reference in source.references}
                                                     | ({"stg_projects"} if source.within_project_dates else set()))]

    @dg.asset(
        name=f"stg_{source.name}",
        group_name=STAGING_GROUP,
        deps=upstream,
        kinds={"duckdb", "pandera"},
        pool=WAREHOUSE_POOL,
        check_specs=_check_specs(source),
        description=(f"{source.description}\n\nReads every file in `data/raw/{source.name}/` "
                     f"({', '.join(source.formats)}), validates it against the `{source.name}` pandera schema "
                     "(docs/data-contract.md) and stages accepted rows here; rejected rows go to `rejected_rows` "
                     "and one row per file to `load_audit`. Unchanged files are not read again."),
        metadata={"contract": dg.MetadataValue.path(f"docs/data-contract.md#{source.name}")},
    )
    def staging_asset(context: dg.AssetExecutionContext, warehouse: MelWarehouse) -> dg.MaterializeResult:
        settings = warehouse.settings()
        hashes = HashCache(settings.file_hashes_path)
        with warehouse.connect() as connection:
            result = ingest_source(connection, settings, source.name, hashes)
            hashes.save()
            table = f"stg_{source.name}"
            total_rows = connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            # The per-identifier pseudonyms only serve person linking; the preview shows the person key.
            linking = source.linking.identifiers if source.linking else ()
            preview = table_preview(connection, table, leave_out=tuple(linking_column(name) for name in linking))
            [summary] = summarise_sources(connection, [source.name])
            checks = staging_check_results(connection, summary)
        for file in result.files:
            context.log.info(f"{file.file}: {file.status}, {file.rows_loaded} loaded, {file.rows_rejected} rejected"
                             + (f" ({'; '.join(file.notes)})" if file.notes else ""))
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": total_rows,
                "files": summary.files,
                "files_read_this_run": sum(1 for file in result.files if file.status in ("loaded", "quarantined")),
                "files_quarantined": len(result.quarantined),
                **{name: count for name, count in summary.rows.items() if name != ROWS_READ},
                "preview": dg.MetadataValue.md(preview),
            },
            check_results=checks,
        )

    return staging_asset


STAGING_ASSETS = [build_staging_asset(SOURCES[name]) for name in LOAD_ORDER]
