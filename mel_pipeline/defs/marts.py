"""The published marts: built in one step and swapped in whole, shown as one asset per mart table."""


import dagster as dg

from mel_pipeline.contract import LOAD_ORDER
from mel_pipeline.defs.indicators import SIGNALS_KEY, VALUES_KEY
from mel_pipeline.defs.resources import MelWarehouse
from mel_pipeline.defs.staging import WAREHOUSE_POOL, staging_key
from mel_pipeline.publish import publish_marts

MART_DESCRIPTIONS = {
    "indicator_values": "Every indicator by project (and PORTFOLIO), period (semester, year, life) and "
                        "disaggregation ('total' rows included), with numerator, denominator, value, target, "
                        "percent of target, status, and `suppressed` for small cells hidden by disclosure control.",
    "theme_scorecard": "Per theme, project and period: indicators on track / at risk / off track / without target, "
                       "sentinel signals, substantiated outcomes and MSC stories.",
    "sentinel_signals": "Each sentinel observation with its robust baseline (median, MAD), modified z-score, "
                        "thresholds and whether it signals.",
    "outcome_harvest_summary": "Outcome-harvest counts by theme x significance x contribution x intended/unintended "
                               "x positive/negative, all and substantiated.",
    "msc_summary": "Most Significant Change stories per domain and selection level, with selection rates and "
                   "storyteller mix.",
    "stakeholder_divergence": "Pairwise gaps between stakeholder groups' mean answers to the same survey item; "
                              "groups under the disclosure threshold are hidden.",
    "indicator_catalog": "The indicator reference sheets.",
    "load_audit": "One row per raw file: rows read, loaded and rejected, status and notes.",
    "rejected_rows": "Every rejected row or quarantined file with its reason; identifiers masked.",
}


def mart_key(table: str) -> dg.AssetKey:
    """The asset key of a published mart table."""
    return dg.AssetKey(f"mart_{table}")


@dg.multi_asset(
    name="publish_marts",
    specs=[dg.AssetSpec(mart_key(table), group_name="marts", description=description, kinds={"duckdb", "parquet"},
                        deps=[VALUES_KEY, SIGNALS_KEY, *(staging_key(source) for source in LOAD_ORDER)])
           for table, description in MART_DESCRIPTIONS.items()],
    pool=WAREHOUSE_POOL,
)
def publish(context: dg.AssetExecutionContext, warehouse: MelWarehouse):
    """Builds every mart table into a new DuckDB file with disclosure control applied, writes the Parquet
    copies, then swaps both in whole (data/marts/mel.duckdb and data/marts/parquet/)."""
    settings = warehouse.settings()
    with warehouse.connect() as connection:
        published = publish_marts(connection, settings)
    context.log.info(f"published {published.path} ({sum(published.row_counts.values())} rows)")
    for table in MART_DESCRIPTIONS:
        yield dg.MaterializeResult(asset_key=mart_key(table), metadata={
            "dagster/row_count": published.row_counts.get(table, 0),
            "path": dg.MetadataValue.path(str(published.path)),
            "parquet": dg.MetadataValue.path(str(settings.marts_dir / "parquet" / f"{table}.parquet")),
        })
