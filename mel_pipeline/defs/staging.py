"""Staging assets: one per raw source, each with checks that show what was rejected and why."""


import dagster as dg

from mel_pipeline.contract import LOAD_ORDER, SOURCES, Source
from mel_pipeline.defs.resources import MelWarehouse
from mel_pipeline.ingest import ingest_source
from mel_pipeline.readers.files import HashCache
from mel_pipeline.summaries import rejection_counts, rejection_sample, table_preview
from mel_pipeline.validation import linking_column

STAGING_GROUP = "staging"
WAREHOUSE_POOL = "duckdb_warehouse"


def staging_key(source_name: str) -> dg.AssetKey:
    """The asset key of a source's staging table."""
    return dg.AssetKey(f"stg_{source_name}")


def _check_specs(source: Source) -> list[dg.AssetCheckSpec]:
    key = staging_key(source.name)
    return [
        dg.AssetCheckSpec("files_readable", asset=key,
                          description="Every file in the folder could be read; a quarantined file fails at ERROR, "
                                      "a file still being written (left for the next run) at WARN."),
        dg.AssetCheckSpec("rows_accounted_for", asset=key,
                          description="For every file, rows read = rows loaded + rows rejected + rows superseded "
                                      "(by another file sending the same keys again)."),
        dg.AssetCheckSpec("no_rejected_rows", asset=key,
                          description="No row was rejected; otherwise WARN with the rejections and their reasons."),
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
            audit = connection.execute(
                "SELECT count(*), sum(rows_read), sum(rows_loaded), sum(rows_rejected), sum(rows_superseded), "
                "count(*) FILTER (WHERE rows_read <> rows_loaded + rows_rejected + rows_superseded) "
                "FROM load_audit WHERE source = ?", [source.name]).fetchone()
            files, read, loaded, rejected, superseded, unbalanced = (value or 0 for value in audit)
            # The per-identifier pseudonyms only serve person linking; the preview shows the person key.
            linking = source.linking.identifiers if source.linking else ()
            preview = table_preview(connection, table, leave_out=tuple(linking_column(name) for name in linking))
            sample = rejection_sample(connection, source.name) if rejected or result.quarantined else ""
            counts = rejection_counts(connection, source.name) if rejected else ""
        for file in result.files:
            context.log.info(f"{file.file}: {file.status}, {file.rows_loaded} loaded, {file.rows_rejected} rejected"
                             + (f" ({'; '.join(file.notes)})" if file.notes else ""))
        quarantined = [file.file for file in result.quarantined]
        deferred = [file.file for file in result.still_being_written]
        checks = [
            dg.AssetCheckResult(
                check_name="files_readable", passed=not quarantined and not deferred,
                severity=dg.AssetCheckSeverity.ERROR if quarantined else dg.AssetCheckSeverity.WARN,
                metadata={"quarantined_files": dg.MetadataValue.json(quarantined),
                          "files_still_being_written": dg.MetadataValue.json(deferred),
                          "errors": dg.MetadataValue.md(sample or "none")}),
            dg.AssetCheckResult(
                check_name="rows_accounted_for", passed=unbalanced == 0, severity=dg.AssetCheckSeverity.ERROR,
                metadata={"rows_read": read, "rows_loaded": loaded, "rows_rejected": rejected,
                          "rows_superseded": superseded, "files_out_of_balance": unbalanced}),
            dg.AssetCheckResult(
                check_name="no_rejected_rows", passed=rejected == 0, severity=dg.AssetCheckSeverity.WARN,
                metadata={"rows_rejected": rejected, "failures_by_check": dg.MetadataValue.md(counts or "none"),
                          "sample": dg.MetadataValue.md(sample or "none")}),
        ]
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": total_rows,
                "files": files,
                "files_read_this_run": sum(1 for file in result.files if file.status in ("loaded", "quarantined")),
                "files_quarantined": len(quarantined),
                "files_still_being_written": len(deferred),
                "rows_loaded": loaded,
                "rows_rejected": rejected,
                "preview": dg.MetadataValue.md(preview),
            },
            check_results=checks,
        )

    return staging_asset


STAGING_ASSETS = [build_staging_asset(SOURCES[name]) for name in LOAD_ORDER]
