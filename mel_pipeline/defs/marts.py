"""The published marts: built in one step, checked by Great Expectations and swapped in whole, shown as
one asset per mart table with one check per table's suite; the officers' report and the Excel workbook
are rebuilt from the marts after each publish."""


import inspect
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from mel_pipeline.defs.indicators import SIGNALS_KEY, VALUES_KEY
from mel_pipeline.defs.resources import MelWarehouse
from mel_pipeline.defs.staging import WAREHOUSE_POOL, staging_key
from mel_pipeline.marts.publish import publish_marts
from mel_pipeline.marts.quality import SUITES, QualityReport, SuiteResult, validate_marts
from mel_pipeline.outputs.report import build_report
from mel_pipeline.outputs.workbook import export_workbook
from mel_pipeline.staging.contract import LOAD_ORDER
from mel_pipeline.summaries import markdown_table

QUALITY_DIR = "quality"
REPORT_DIR = "report"
WORKBOOK_FILE = "mel_marts.xlsx"

MART_DESCRIPTIONS = {
    "indicator_values": "Every indicator by project (and PORTFOLIO), period (semester, year, life) and "
                        "disaggregation ('total' rows included), with numerator, denominator, value, target, "
                        "percent of target, status, and `suppressed` for small cells hidden by disclosure control.",
    "theme_scorecard": "Per theme, project and period: indicators on track / at risk / off track / without target, "
                       "sentinel signals, substantiated outcomes and MSC stories. Every publish also rebuilds the "
                       "officers' report (data/marts/report/index.html) and the Excel workbook "
                       "(data/marts/mel_marts.xlsx); both are linked in this asset's metadata.",
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


def quality_check_name(table: str) -> str:
    """The name of the asset check that runs a mart table's Great Expectations suite."""
    return f"ge_{table}"


QUALITY_CHECKS = [
    dg.AssetCheckSpec(
        quality_check_name(table), asset=mart_key(table), blocking=True,
        description="Great Expectations suite, run on the new marts before they are published (a failure keeps "
                    "the previous marts in place). " + " ".join(inspect.getdoc(suite).split()),
    )
    for table, suite in SUITES.items()
]


class QualityVeto(Exception):
    """The new marts failed a Great Expectations suite, so they were not published."""

    def __init__(self, report: QualityReport):
        super().__init__(report.failure_summary())
        self.report = report


@dataclass
class QualityGate:
    """The `validate` callable handed to publish_marts: runs the suites, keeps the report, vetoes a failure."""

    docs_dir: Path
    report: QualityReport | None = None

    def __call__(self, marts_path: Path) -> None:
        self.report = validate_marts(marts_path, self.docs_dir)
        if not self.report.passed:
            raise QualityVeto(self.report)


def failures_markdown(suite: SuiteResult) -> str:
    """A suite's failed expectations as a Markdown table, or a line saying all held."""
    if suite.passed:
        return f"All {suite.expectations} expectations held."
    return markdown_table(["expectation", "what it checks", "unexpected", "examples"], [
        (failure.expectation, failure.description, failure.unexpected_count, " | ".join(failure.examples))
        for failure in suite.failures])


def quality_check_results(report: QualityReport) -> list[dg.AssetCheckResult]:
    """One check result per suite, with the Great Expectations evidence and a link to the Data Docs."""
    return [
        dg.AssetCheckResult(
            asset_key=mart_key(suite.table), check_name=quality_check_name(suite.table), passed=suite.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "expectations": suite.expectations,
                "failed_expectations": len(suite.failures),
                "failures": dg.MetadataValue.md(failures_markdown(suite)),
                "data_docs": dg.MetadataValue.path(str(report.docs_index)),
                "data_docs_url": dg.MetadataValue.url(report.docs_index.as_uri()),
            },
        )
        for suite in report.suites
    ]


@dg.multi_asset(
    name="publish_marts",
    specs=[dg.AssetSpec(mart_key(table), group_name="marts", description=description, kinds={"duckdb", "parquet"},
                        deps=[VALUES_KEY, SIGNALS_KEY, *(staging_key(source) for source in LOAD_ORDER)])
           for table, description in MART_DESCRIPTIONS.items()],
    check_specs=QUALITY_CHECKS,
    pool=WAREHOUSE_POOL,
)
def publish(context: dg.AssetExecutionContext, warehouse: MelWarehouse):
    """Builds every mart table into a new DuckDB file with disclosure control applied, writes the Parquet
    copies, runs the Great Expectations suites on the new file (a failing suite vetoes the publish and the
    previous marts stay), then swaps both in whole (data/marts/mel.duckdb and data/marts/parquet/) and
    rebuilds the officers' report (data/marts/report/) and the Excel workbook (data/marts/mel_marts.xlsx).
    Data Docs for the suites are written to data/marts/quality/ either way."""
    settings = warehouse.settings()
    gate = QualityGate(settings.marts_dir / QUALITY_DIR)
    try:
        with warehouse.connect() as connection:
            published = publish_marts(connection, settings, validate=gate)
    except QualityVeto as veto:
        yield from quality_check_results(veto.report)
        raise dg.Failure(
            description="The new marts were not published (the previous ones stay in place): "
                        f"{veto.report.failure_summary()}\nData Docs: {veto.report.docs_index}",
            metadata={"data_docs": dg.MetadataValue.path(str(veto.report.docs_index))},
        ) from None
    context.log.info(f"published {published.path} ({sum(published.row_counts.values())} rows)")
    report = build_report(published.path, settings.marts_dir / REPORT_DIR, quality=gate.report)
    workbook = export_workbook(published.path, settings.marts_dir / WORKBOOK_FILE, MART_DESCRIPTIONS)
    context.log.info(f"rebuilt {report} and {workbook}")
    outputs = {
        "report": dg.MetadataValue.path(str(report)),
        "report_url": dg.MetadataValue.url(report.as_uri()),
        "workbook": dg.MetadataValue.path(str(workbook)),
        "data_docs": dg.MetadataValue.path(str(gate.report.docs_index)),
    }
    for table in MART_DESCRIPTIONS:
        yield dg.MaterializeResult(asset_key=mart_key(table), metadata={
            "dagster/row_count": published.row_counts.get(table, 0),
            "path": dg.MetadataValue.path(str(published.path)),
            "parquet": dg.MetadataValue.path(str(settings.marts_dir / "parquet" / f"{table}.parquet")),
            **(outputs if table == "theme_scorecard" else {}),
        })
    yield from quality_check_results(gate.report)
