"""The `run_summary` asset (group `operations`): what a refresh loaded, rejected and set aside, on the run's page.

A run whose rows were rejected, or whose files were quarantined, still succeeds: the other files and rows are
good and are published. So that the run does not read as a plain green "Success", the summary is put where
an officer opening the run sees it: as the run's tags (`mel/rows_rejected`, and `mel/files_<status>` for each
status other than loaded), as a log line, and as this asset's materialization, whose metadata holds the
per-source table of `mel run` (mel_pipeline.outputs.run_summary) and whose check warns when anything was left out.
"""


import dagster as dg

from mel_pipeline.defs.resources import MelWarehouse
from mel_pipeline.defs.staging import WAREHOUSE_POOL, staging_key
from mel_pipeline.outputs.run_summary import (
    SourceSummary,
    files_not_loaded,
    headline,
    statuses_not_loaded,
    summarise_sources,
    summary_markdown,
)
from mel_pipeline.staging.contract import LOAD_ORDER

RUN_SUMMARY_KEY = dg.AssetKey("run_summary")
RUN_TAG_PREFIX = "mel/"


def run_tags(summaries: list[SourceSummary]) -> dict[str, str]:
    """The run's tags saying what was left out: rows rejected, and how many files of each status not loaded."""
    return {f"{RUN_TAG_PREFIX}rows_rejected": f"{sum(summary.rows_rejected for summary in summaries):,}",
            **{f"{RUN_TAG_PREFIX}files_{status}": str(count)
               for status, count in sorted(statuses_not_loaded(summaries).items())}}


@dg.asset(
    key=RUN_SUMMARY_KEY, group_name="operations", kinds={"duckdb"}, pool=WAREHOUSE_POOL,
    deps=[staging_key(source) for source in LOAD_ORDER],
    check_specs=[dg.AssetCheckSpec(
        "everything_loaded", asset=RUN_SUMMARY_KEY,
        description="Every file of every source was loaded and no row was rejected; otherwise a WARN naming how "
                    "many rows were rejected and which files were not loaded, and why (quarantined, ...).")],
)
def run_summary(context: dg.AssetExecutionContext, warehouse: MelWarehouse) -> dg.MaterializeResult:
    """Run summary: per source, the files, the rows read, loaded and rejected, and the files not loaded
    (quarantined, or set aside with another status) by name, as `mel run` prints them. The same figures are
    the run's tags (`mel/rows_rejected`, `mel/files_quarantined`, ...), so the run's page shows them. Why rows
    were rejected is on each staging asset's `no_rejected_rows` check."""
    with warehouse.connect() as connection:
        summaries = summarise_sources(connection)
    sentence = headline(summaries)
    context.log.info(f"Run summary: {sentence}")
    context.instance.add_run_tags(context.run.run_id, run_tags(summaries))
    rejected = sum(summary.rows_rejected for summary in summaries)
    left_out = files_not_loaded(summaries)
    return dg.MaterializeResult(
        metadata={
            "summary": sentence,
            "by_source": dg.MetadataValue.md(summary_markdown(summaries)),
            "rows_rejected": rejected,
            "files_not_loaded": len(left_out),
        },
        check_results=[dg.AssetCheckResult(
            check_name="everything_loaded", passed=not rejected and not left_out,
            severity=dg.AssetCheckSeverity.WARN, description=sentence,
            metadata={"rows_rejected": rejected,
                      "files_not_loaded": dg.MetadataValue.json(
                          [f"{file} ({status})" for _, status, file in left_out])})],
    )
