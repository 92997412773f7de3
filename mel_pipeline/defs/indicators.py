"""Indicator assets, generated from the registry: the catalogue, one asset per indicator grouped by
theme (one step per theme computes the selected ones), `indicator_values` and `sentinel_signals`."""


import dagster as dg

from mel_pipeline.defs.resources import MelWarehouse
from mel_pipeline.defs.staging import WAREHOUSE_POOL, staging_key
from mel_pipeline.indicators.engine import (
    build_indicator_values,
    build_sentinel_signals,
    create_shared_views,
    run_indicator,
)
from mel_pipeline.reference.catalogue import IndicatorSheet, load_registry, shared_views_sql, write_catalog
from mel_pipeline.reference.codes import THEME_NAMES, THEMES
from mel_pipeline.settings import REPO_ROOT
from mel_pipeline.staging.contract import SOURCES
from mel_pipeline.summaries import query_markdown, table_preview

CATALOG_KEY = dg.AssetKey("indicator_catalog")
VALUES_KEY = dg.AssetKey("indicator_values")
SIGNALS_KEY = dg.AssetKey("sentinel_signals")


def indicator_key(sheet: IndicatorSheet) -> dg.AssetKey:
    """The asset key of one indicator, e.g. `awr_01`."""
    return dg.AssetKey(sheet.asset_name)


@dg.asset(key=CATALOG_KEY, group_name="catalogue", kinds={"duckdb", "yaml"}, pool=WAREHOUSE_POOL)
def indicator_catalog(context: dg.AssetExecutionContext, warehouse: MelWarehouse) -> dg.MaterializeResult:
    """The indicator reference sheets (indicators/<theme>/<CODE>.yaml), validated and written to
    `indicator_catalog`; grantee indicator tables are checked against it (known codes, rates with
    numerator and denominator)."""
    settings = warehouse.settings()
    sheets = load_registry(settings.indicators_dir, SOURCES)
    with warehouse.connect() as connection:
        write_catalog(connection, sheets)
        by_theme = query_markdown(connection, "SELECT theme, approach, count(*) AS indicators FROM indicator_catalog "
                                              "GROUP BY ALL ORDER BY theme, approach")
    return dg.MaterializeResult(metadata={"dagster/row_count": len(sheets), "by_theme": dg.MetadataValue.md(by_theme)})


def build_theme_asset(theme: str, sheets: list[IndicatorSheet]) -> dg.AssetsDefinition:
    """One step computing the selected indicators of a theme, each shown as its own asset."""
    specs = [
        dg.AssetSpec(
            key=indicator_key(sheet), group_name=theme, kinds={"duckdb", "sql"},
            description=f"{sheet.code} {sheet.name}. {sheet.definition.strip()}\n\n"
                        f"Unit: {sheet.unit}; direction: {sheet.direction}; {sheet.accumulation}; "
                        f"aggregation: {sheet.aggregation}; approach: {sheet.approach}. "
                        f"Sheet: indicators/{theme}/{sheet.code}.yaml",
            deps=[CATALOG_KEY, *[staging_key(source) for source in sheet.data_sources]],
            metadata={"code": sheet.code, "unit": sheet.unit, "approach": sheet.approach,
                      "sql": dg.MetadataValue.md(f"```sql\n{sheet.sql.strip()}\n```")},
        )
        for sheet in sheets
    ]
    by_key = {indicator_key(sheet): sheet for sheet in sheets}

    @dg.multi_asset(name=f"{theme}_indicators", specs=specs, can_subset=True, pool=WAREHOUSE_POOL)
    def theme_indicators(context: dg.AssetExecutionContext, warehouse: MelWarehouse):
        settings = warehouse.settings()
        with warehouse.connect() as connection:
            create_shared_views(connection, shared_views_sql(settings.indicators_dir), settings)
            for key in sorted(context.selected_asset_keys):
                sheet = by_key[key]
                run = run_indicator(connection, sheet, settings)
                if not run.recomputed:
                    context.log.info(f"{sheet.code}: nothing it reads has changed; kept its {run.rows} rows")
                preview = query_markdown(connection, """
                    SELECT project_code, period_start, period_end, disaggregation, disaggregation_value,
                           numerator, denominator, value
                    FROM indicator_results WHERE indicator_code = ? AND disaggregation = 'total'
                    ORDER BY period_start DESC, project_code LIMIT 8""", [sheet.code])
                yield dg.MaterializeResult(asset_key=key, metadata={
                    "dagster/row_count": run.rows, "recomputed": run.recomputed,
                    "latest_totals": dg.MetadataValue.md(preview)})

    theme_indicators.__doc__ = (f"{THEME_NAMES[theme]}: computes the theme's indicators in DuckDB, each only "
                                f"when a table it reads (or its SQL) has changed since it was last computed.")
    return theme_indicators


def build_indicator_values_asset(sheets: list[IndicatorSheet]) -> dg.AssetsDefinition:
    """`indicator_values`, downstream of every indicator and of the targets."""

    @dg.asset(
        key=VALUES_KEY, group_name="indicators", kinds={"duckdb"}, pool=WAREHOUSE_POOL,
        deps=[*(indicator_key(sheet) for sheet in sheets), staging_key("targets")],
        check_specs=[
            dg.AssetCheckSpec("disaggregations_add_up", asset=VALUES_KEY,
                              description="For additive indicators, each dimension's categories sum to the total."),
            dg.AssetCheckSpec("every_indicator_has_values", asset=VALUES_KEY,
                              description="Every indicator in the catalogue has at least one row."),
        ],
    )
    def indicator_values(context: dg.AssetExecutionContext, warehouse: MelWarehouse) -> dg.MaterializeResult:
        """All indicators' values with portfolio rows, yearly and life-of-project roll-ups, targets, percent
        of target and status (on track / at risk / off track / no target), before disclosure control."""
        settings = warehouse.settings()
        with warehouse.connect() as connection:
            rows = build_indicator_values(connection, load_registry(settings.indicators_dir, SOURCES), settings.as_of)
            mismatches = connection.execute(DISAGGREGATION_MISMATCH_SQL).fetchall()
            mismatch_table = query_markdown(connection, DISAGGREGATION_MISMATCH_SQL + " LIMIT 20")
            missing = [code for (code,) in connection.execute(
                "SELECT code FROM indicator_catalog WHERE code NOT IN (SELECT DISTINCT indicator_code FROM indicator_values) "
                "ORDER BY code").fetchall()]
            status = query_markdown(connection, """
                SELECT theme, status, count(*) AS rows FROM indicator_values
                WHERE disaggregation = 'total' AND period_type = 'semester' GROUP BY ALL ORDER BY theme, status""")
        return dg.MaterializeResult(
            metadata={"dagster/row_count": rows, "status_by_theme": dg.MetadataValue.md(status)},
            check_results=[
                dg.AssetCheckResult(check_name="disaggregations_add_up", passed=not mismatches,
                                    severity=dg.AssetCheckSeverity.WARN,
                                    metadata={"groups_not_adding_up": len(mismatches),
                                              "sample": dg.MetadataValue.md(mismatch_table)}),
                dg.AssetCheckResult(check_name="every_indicator_has_values", passed=not missing,
                                    severity=dg.AssetCheckSeverity.WARN,
                                    metadata={"indicators_without_values": dg.MetadataValue.json(missing)}),
            ],
        )

    return indicator_values


# Single-dimension categories of additive indicators whose sum differs from the total.
DISAGGREGATION_MISMATCH_SQL = """
    SELECT v.indicator_code, v.project_code, v.period_type, v.period_start, v.disaggregation,
           sum(coalesce(v.numerator, v.value)) AS categories_sum, any_value(coalesce(t.numerator, t.value)) AS total
    FROM indicator_values v
    JOIN indicator_catalog c ON c.code = v.indicator_code AND c.aggregation IN ('sum', 'ratio')
    JOIN indicator_values t ON t.indicator_code = v.indicator_code AND t.project_code = v.project_code
         AND t.period_type = v.period_type AND t.period_start = v.period_start AND t.period_end = v.period_end
         AND t.disaggregation = 'total'
    WHERE v.disaggregation <> 'total' AND v.disaggregation NOT LIKE '%,%'
    GROUP BY ALL
    HAVING abs(categories_sum - total) > 1e-9
    ORDER BY ALL"""


@dg.asset(key=SIGNALS_KEY, group_name="indicators", kinds={"duckdb"}, pool=WAREHOUSE_POOL,
          deps=[CATALOG_KEY, staging_key("sentinel")])
def sentinel_signals(context: dg.AssetExecutionContext, warehouse: MelWarehouse) -> dg.MaterializeResult:
    """Every observation of a sentinel series judged against its thresholds and a robust baseline:
    modified z = 0.6745 (x - median) / MAD, signalled beyond the sheet's limit (3.5 by default)."""
    with warehouse.connect() as connection:
        build_sentinel_signals(connection, warehouse.settings().indicators_dir)
        rows, signals = connection.execute("SELECT count(*), count(*) FILTER (WHERE signal) FROM sentinel_signals").fetchone()
        recent = query_markdown(connection, """
            SELECT series_code, geography, observed_on, label, value, round(modified_z, 2) AS modified_z, signal_reason
            FROM sentinel_signals WHERE signal ORDER BY observed_on DESC LIMIT 10""")
        preview = table_preview(connection, "sentinel_signals")
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "signals": signals,
                                          "latest_signals": dg.MetadataValue.md(recent),
                                          "preview": dg.MetadataValue.md(preview)})


def build_indicator_assets() -> list:
    """The catalogue, one multi-asset per theme, indicator values and sentinel signals."""
    sheets = load_registry(REPO_ROOT / "indicators", SOURCES)
    themes = [build_theme_asset(theme, [s for s in sheets if s.theme == theme]) for theme in THEMES
              if any(s.theme == theme for s in sheets)]
    return [indicator_catalog, *themes, build_indicator_values_asset(sheets), sentinel_signals]
