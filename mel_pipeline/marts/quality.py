"""Great Expectations suites over the mart tables, and the Data Docs that show their results.

One suite per mart table, each written as one small function that returns its expectations, so a
reader finds in one place what a table promises. Great Expectations 1.24 cannot yet read DuckDB
through SQLAlchemy (its queries come back empty with duckdb-engine, GE issue 10738) and the marts
are small, so every table is read into a pandas DataFrame and validated through the pandas data
source of an ephemeral context. `validate_marts` summarises the results in a `QualityReport` and
renders them as Data Docs HTML. Nothing here imports Dagster: `defs/marts.py` turns the report into
asset checks and a veto on publishing.

Great Expectations' page templates load their stylesheets, scripts and fonts from CDNs, so offline the
pages rendered unstyled and the index, drawn by bootstrap-table, listed nothing. Once a site is built,
`serve_assets_locally` copies each asset into the site's `static/vendor/` from the pinned Python
package that ships it (or, for bootstrap-table, the file `make setup` takes from Debian's zoneminder
package) and points every page at the copy; `CDN_ASSETS` lists each URL the templates of
great_expectations 1.24.1 reference, and a page referring to any other remote asset is an error.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np
import pandas as pd

from mel_pipeline.marts.build import IDENTIFIER_PATTERNS, SURVEY_ITEMS
from mel_pipeline.marts.disclosure import HIDDEN, KEY
from mel_pipeline.reference.codes import CONTRIBUTION, INTENTION, POLARITY, SIGNIFICANCE, THEMES

# Great Expectations reports usage by default; the switch is read when the package is imported.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx  # noqa: E402
from great_expectations.core.expectation_validation_result import ExpectationValidationResult  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402
from great_expectations.expectations.row_conditions import Column  # noqa: E402

E = gx.expectations
THEME_CODES = list(THEMES)
STATUSES = ["on_track", "at_risk", "off_track", "incomplete", "not_reported", "no_target", "suppressed"]
JUDGED = ["on_track", "at_risk", "off_track"]
PERIOD_TYPES = ["semester", "year", "life"]
EXAMPLES = 3
DATA_SOURCE = "marts"
DOCS_SITE = "mel_marts_quality"

# Conditions are objects, not Python comparisons: `== True` builds the filter `suppressed == True`.
HIDDEN_CELL = Column("suppressed") == True  # noqa: E712
SHOWN_CELL = Column("suppressed") == False  # noqa: E712
HIGHER_IS_BETTER = Column("direction") == "higher_is_better"
LOWER_IS_BETTER = Column("direction") == "lower_is_better"
JUDGED_CELL = SHOWN_CELL & (Column("direction") != "none")

# Key columns the data contract lets be empty: part of the key, but never required.
OPTIONAL_KEY_COLUMNS = {"sentinel_signals": {"label"}}
# The columns that identify a row in the evidence of a failure; for most tables also their key.
IDENTIFIERS = {
    "indicator_values": KEY,
    "theme_scorecard": ["theme", "project_code", "period_type", "period_start", "period_end"],
    "sentinel_signals": ["series_code", "geography", "observed_on", "label"],
    "stakeholder_divergence": ["item", "project_code", "year", "group_a", "group_b"],
    "load_audit": ["source", "file"],
    "outcome_harvest_summary": ["theme", "project_code", "year", "significance", "contribution", "intention",
                                "polarity"],
    "msc_summary": ["project_code", "domain", "year", "selection_level"],
    "indicator_catalog": ["code"],
    "rejected_rows": ["source", "file", "row_number"],
}

# Tables read with more than their own columns: the status bands a status is judged by, and sums
# that Great Expectations compares column to column.
READ_SQL = {
    "indicator_values": """
        SELECT v.*, c.direction, c.on_track_pct, c.at_risk_pct
        FROM indicator_values v LEFT JOIN indicator_catalog c ON c.code = v.indicator_code""",
    "theme_scorecard": """
        SELECT *, on_track + at_risk + off_track + incomplete + not_reported + no_target + not_judged + suppressed
                  AS statuses_counted FROM theme_scorecard""",
    "sentinel_signals": "SELECT *, abs(modified_z) AS modified_z_magnitude FROM sentinel_signals",
    "load_audit": "SELECT *, rows_loaded + rows_rejected + rows_superseded AS rows_accounted_for FROM load_audit",
}


def _key(table: str) -> list:
    """The table's key columns are never null and, together, unique."""
    columns = IDENTIFIERS[table]
    one_row = f"One row per {', '.join(columns)}."
    unique = (E.ExpectCompoundColumnsToBeUnique(column_list=columns, description=one_row) if len(columns) > 1
              else E.ExpectColumnValuesToBeUnique(column=columns[0], description=one_row))
    required = [column for column in columns if column not in OPTIONAL_KEY_COLUMNS.get(table, set())]
    return [*(E.ExpectColumnValuesToNotBeNull(column=column, description=f"{column} is never empty.")
              for column in required), unique]


def _every_theme(column: str = "theme") -> list:
    """Only the five themes appear, and all five do."""
    return [
        E.ExpectColumnValuesToBeInSet(column=column, value_set=THEME_CODES, description="Only the five themes."),
        E.ExpectColumnDistinctValuesToContainSet(column=column, value_set=THEME_CODES,
                                                 description="Every theme is present."),
    ]


def _not_negative(*columns: str) -> list:
    """Counts are zero or more."""
    return [E.ExpectColumnValuesToBeBetween(column=column, min_value=0, description=f"{column} is not negative.")
            for column in columns]


def indicator_values_suite() -> list:
    """indicator_values: unique, complete keys; percentages within 0-100 with numerator <= denominator;
    suppressed cells without figures; status consistent with pct_of_target; every theme present."""
    percent = (Column("unit") == "percent") & SHOWN_CELL
    return [
        *_key("indicator_values"),
        *_every_theme(),
        E.ExpectColumnValuesToBeInSet(column="period_type", value_set=PERIOD_TYPES,
                                      description="Periods are semesters, years or the life of the project."),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="period_end", column_B="period_start", or_equal=True,
                                                  description="A period does not end before it starts."),
        E.ExpectColumnValuesToBeBetween(column="value", min_value=0, max_value=100, row_condition=percent,
                                        description="Percentages lie between 0 and 100."),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="denominator", column_B="numerator", or_equal=True,
                                                  ignore_row_if="either_value_is_missing", row_condition=percent,
                                                  description="A percentage's numerator does not exceed its "
                                                              "denominator."),
        *(E.ExpectColumnValuesToBeNull(column=column, row_condition=HIDDEN_CELL,
                                       description=f"A suppressed cell publishes no {column}.") for column in HIDDEN),
        *_status_rules(),
    ]


def _status_rules() -> list:
    """The status rules of indicator_engine, read back from value, target, pct_of_target and the bands."""
    def status(*names: str):
        return Column("status").is_in(names)

    return [
        E.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES, description="Status is a known one."),
        E.ExpectColumnValuesToBeInSet(column="status", value_set=["suppressed"], row_condition=HIDDEN_CELL,
                                      description="A suppressed cell has status 'suppressed'."),
        E.ExpectColumnValuesToNotBeInSet(column="status", value_set=["suppressed"], row_condition=SHOWN_CELL,
                                         description="Only suppressed cells have status 'suppressed'."),
        E.ExpectColumnValuesToBeInSet(column="status", value_set=["no_target"],
                                      row_condition=JUDGED_CELL & Column("target").is_null(),
                                      description="A cell without target has status 'no_target'."),
        E.ExpectColumnValuesToBeInSet(column="status", value_set=["no_target", "not_reported"],
                                      row_condition=JUDGED_CELL & Column("value").is_null(),
                                      description="A cell without value has status 'no_target' or 'not_reported'."),
        *(E.ExpectColumnValuesToBeNull(column=column, row_condition=SHOWN_CELL & (Column("direction") == "none"),
                                       description=f"An indicator without a direction has no {column}.")
          for column in ("status", "pct_of_target")),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="periods_expected", column_B="periods_reported", row_condition=status("incomplete"),
            description="Incomplete means fewer reports came than were due."),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="periods_reported", column_B="periods_expected", or_equal=True,
            ignore_row_if="either_value_is_missing", row_condition=status(*JUDGED),
            description="A judged cell rests on every report that was due."),
        E.ExpectColumnValuesToNotBeNull(column="pct_of_target", row_condition=status(*JUDGED) & (Column("target") > 0),
                                        description="A judged cell with a positive target has a pct_of_target."),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="pct_of_target", column_B="on_track_pct", or_equal=True, ignore_row_if="either_value_is_missing",
            row_condition=status("on_track") & HIGHER_IS_BETTER,
            description="Higher is better: on track means pct_of_target reaches the on-track band."),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="pct_of_target", column_B="at_risk_pct", or_equal=True, ignore_row_if="either_value_is_missing",
            row_condition=status("at_risk") & HIGHER_IS_BETTER,
            description="Higher is better: at risk means pct_of_target reaches the at-risk band."),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="on_track_pct", column_B="pct_of_target", ignore_row_if="either_value_is_missing",
            row_condition=status("at_risk", "off_track") & HIGHER_IS_BETTER,
            description="Higher is better: at risk or off track means pct_of_target is below the on-track band."),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="at_risk_pct", column_B="pct_of_target", ignore_row_if="either_value_is_missing",
            row_condition=status("off_track") & HIGHER_IS_BETTER,
            description="Higher is better: off track means pct_of_target is below the at-risk band."),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="target", column_B="value", or_equal=True, row_condition=status("on_track") & LOWER_IS_BETTER,
            description="Lower is better: on track means the value is at or under target."),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="value", column_B="target", row_condition=status("at_risk", "off_track") & LOWER_IS_BETTER,
            description="Lower is better: at risk or off track means the value is over target."),
    ]


def theme_scorecard_suite() -> list:
    """theme_scorecard: unique, complete keys; every theme present; counts not negative; each indicator
    counted under exactly one status."""
    return [
        *_key("theme_scorecard"),
        *_every_theme(),
        *_not_negative("on_track", "at_risk", "off_track", "incomplete", "not_reported", "no_target", "not_judged",
                       "suppressed", "sentinel_signals", "substantiated_outcomes", "msc_stories"),
        E.ExpectColumnPairValuesToBeEqual(column_A="indicators", column_B="statuses_counted",
                                          description="Every indicator is counted under exactly one status."),
    ]


def sentinel_signals_suite() -> list:
    """sentinel_signals: unique, complete keys; a signal has a reason and a quiet observation none; a quiet
    observation lies within its thresholds and its modified z-score limit."""
    quiet = Column("signal") == False  # noqa: E712
    return [
        *_key("sentinel_signals"),
        E.ExpectColumnValuesToBeInSet(column="theme", value_set=THEME_CODES, description="Only the five themes."),
        E.ExpectColumnValuesToNotBeNull(column="value", description="Every observation has a value."),
        E.ExpectColumnValuesToNotBeNull(column="signal", description="Every observation is judged."),
        E.ExpectColumnValuesToNotBeNull(column="signal_reason", row_condition=Column("signal") == True,  # noqa: E712
                                        description="A signal says why."),
        E.ExpectColumnValuesToBeNull(column="signal_reason", row_condition=quiet,
                                     description="A quiet observation gives no reason."),
        *_not_negative("baseline_mad"),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="threshold_upper", column_B="value", or_equal=True, ignore_row_if="either_value_is_missing",
            row_condition=quiet, description="A quiet observation is not above the upper threshold."),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="value", column_B="threshold_lower", or_equal=True, ignore_row_if="either_value_is_missing",
            row_condition=quiet, description="A quiet observation is not below the lower threshold."),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="modified_z_threshold", column_B="modified_z_magnitude", or_equal=True,
            ignore_row_if="either_value_is_missing", row_condition=quiet,
            description="A quiet observation's modified z-score is within its limit."),
    ]


def stakeholder_divergence_suite() -> list:
    """stakeholder_divergence: unique, complete keys; known items; each pair listed once; means on the
    item's scale (1-5 agreement; rights_known counts 0-5 rights); suppressed pairs without figures."""
    agreement, rights_named = Column("item") != "rights_known", Column("item") == "rights_known"
    return [
        *_key("stakeholder_divergence"),
        E.ExpectColumnValuesToBeInSet(column="item", value_set=list(SURVEY_ITEMS), description="A known survey item."),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="group_b", column_B="group_a",
                                                  description="Each pair of groups appears once, in name order."),
        *(E.ExpectColumnValuesToBeBetween(column=column, min_value=1, description=f"{column} counts someone.")
          for column in ("respondents_a", "respondents_b")),
        *(E.ExpectColumnValuesToBeBetween(column=column, min_value=1, max_value=5, row_condition=agreement,
                                          description=f"{column} lies on the 1-5 agreement scale.")
          for column in ("mean_a", "mean_b")),
        *(E.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=5, row_condition=rights_named,
                                          description=f"{column} counts between 0 and 5 rights named.")
          for column in ("mean_a", "mean_b")),
        E.ExpectColumnValuesToBeBetween(column="gap", min_value=-5, max_value=5,
                                        description="A gap between two means on a 0-5 range lies within -5..5."),
        *(E.ExpectColumnValuesToBeNull(column=column, row_condition=HIDDEN_CELL,
                                       description=f"A suppressed pair publishes no {column}.")
          for column in ("mean_a", "mean_b", "gap", "divergent")),
        E.ExpectColumnValuesToNotBeNull(column="divergent", row_condition=SHOWN_CELL,
                                        description="A published pair says whether it diverges."),
    ]


def load_audit_suite() -> list:
    """load_audit: one row per file; a known status; every row read is loaded, rejected or superseded by
    another file's; a quarantined file loads nothing."""
    return [
        *_key("load_audit"),
        E.ExpectColumnValuesToBeInSet(column="status", value_set=["loaded", "quarantined", "hidden",
                                                                  "still_being_written"],
                                      description="A file is loaded, quarantined, hidden (not read) or still being "
                                                  "written (left for the next run)."),
        *_not_negative("rows_read", "rows_loaded", "rows_rejected"),
        E.ExpectColumnPairValuesToBeEqual(column_A="rows_read", column_B="rows_accounted_for",
                                          description="rows_read = rows_loaded + rows_rejected + rows_superseded."),
        E.ExpectColumnValuesToBeInSet(column="rows_loaded", value_set=[0], row_condition=Column("status") == "quarantined",
                                      description="A quarantined file loads no rows."),
    ]


def outcome_harvest_summary_suite() -> list:
    """outcome_harvest_summary: unique, complete keys; known themes and codes; substantiated outcomes
    never outnumber outcomes."""
    return [
        *_key("outcome_harvest_summary"),
        E.ExpectColumnValuesToBeInSet(column="theme", value_set=THEME_CODES, description="Only the five themes."),
        *(E.ExpectColumnValuesToBeInSet(column=column, value_set=list(codes), description=f"A known {column}.")
          for column, codes in (("significance", SIGNIFICANCE), ("contribution", CONTRIBUTION),
                                ("intention", INTENTION), ("polarity", POLARITY))),
        E.ExpectColumnValuesToBeBetween(column="outcomes", min_value=1, description="A cell counts an outcome."),
        *_not_negative("substantiated_outcomes"),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="outcomes", column_B="substantiated_outcomes",
                                                  or_equal=True,
                                                  description="Substantiated outcomes are among the outcomes."),
    ]


def msc_summary_suite() -> list:
    """msc_summary: unique, complete keys; selection rates within 0-100; stories reaching a level are
    among those collected."""
    return [
        *_key("msc_summary"),
        E.ExpectColumnValuesToBeInSet(column="selection_level", value_set=["collected", "project", "portfolio", "donor"],
                                      description="A known selection level."),
        E.ExpectColumnValuesToBeBetween(column="selection_rate_pct", min_value=0, max_value=100,
                                        description="Selection rates lie between 0 and 100."),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="stories_collected", column_B="stories_reaching_level",
                                                  or_equal=True, description="Selected stories were collected."),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="stories_reaching_level", column_B="told_by_women",
                                                  or_equal=True, ignore_row_if="either_value_is_missing",
                                                  description="Stories told by women (where shown) are among them."),
    ]


def indicator_catalog_suite() -> list:
    """indicator_catalog: one sheet per code; known themes, units and directions; the at-risk band
    below the on-track band."""
    return [
        *_key("indicator_catalog"),
        E.ExpectColumnValuesToBeInSet(column="theme", value_set=THEME_CODES, description="Only the five themes."),
        E.ExpectColumnValuesToBeInSet(column="unit", value_set=["count", "percent", "ratio", "days", "score"],
                                      description="A known unit."),
        E.ExpectColumnValuesToBeInSet(column="direction", value_set=["higher_is_better", "lower_is_better", "none"],
                                      description="A known direction."),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="on_track_pct", column_B="at_risk_pct", or_equal=True,
                                                  description="The at-risk band starts below the on-track band."),
    ]


def rejected_rows_suite() -> list:
    """rejected_rows: every rejection names its source, file, check and reason, and nothing shaped like
    a direct identifier (CURP, email, phone) survives in the published value or message."""
    return [
        *(E.ExpectColumnValuesToNotBeNull(column=column, description=f"A rejection names its {column}.")
          for column in ("source", "file", "check", "message")),
        E.ExpectColumnValuesToBeInSet(column="severity", value_set=["row", "error"],
                                      description="A rejected row or a quarantined file."),
        *(E.ExpectColumnValuesToNotMatchRegexList(column=column, regex_list=list(IDENTIFIER_PATTERNS),
                                                  description=f"No direct identifier in {column}.")
          for column in ("value", "message")),
    ]


SUITES: dict[str, Callable[[], list]] = {
    "indicator_values": indicator_values_suite,
    "theme_scorecard": theme_scorecard_suite,
    "sentinel_signals": sentinel_signals_suite,
    "stakeholder_divergence": stakeholder_divergence_suite,
    "load_audit": load_audit_suite,
    "outcome_harvest_summary": outcome_harvest_summary_suite,
    "msc_summary": msc_summary_suite,
    "indicator_catalog": indicator_catalog_suite,
    "rejected_rows": rejected_rows_suite,
}


@dataclass(frozen=True)
class FailedExpectation:
    """One expectation that did not hold, with a few of the rows or values that broke it."""

    expectation: str
    description: str
    unexpected_count: int | None
    examples: list[str]

    def __str__(self) -> str:
        count = f"{self.unexpected_count} unexpected" if self.unexpected_count is not None else "failed"
        examples = f"; e.g. {' | '.join(self.examples)}" if self.examples else ""
        return f"{self.expectation} ({self.description}): {count}{examples}"


@dataclass(frozen=True)
class SuiteResult:
    """The outcome of one table's suite."""

    table: str
    expectations: int
    failures: list[FailedExpectation]

    @property
    def passed(self) -> bool:
        """True when every expectation held."""
        return not self.failures


@dataclass(frozen=True)
class QualityReport:
    """Every suite's outcome, and where the Data Docs were written."""

    suites: list[SuiteResult]
    docs_index: Path

    @property
    def passed(self) -> bool:
        """True when every suite passed."""
        return all(suite.passed for suite in self.suites)

    def suite(self, table: str) -> SuiteResult:
        """The result of one table's suite."""
        return next(suite for suite in self.suites if suite.table == table)

    def failure_summary(self) -> str:
        """The failed expectations, one line each, grouped by table."""
        lines = [f"{table.table}: {failure}" for table in self.suites for failure in table.failures]
        return "\n".join(["data quality suites failed:", *(f"- {line}" for line in lines)]) if lines else ""


def read_marts(marts_path: Path) -> dict[str, pd.DataFrame]:
    """Each suite's table as a DataFrame, with the extra columns its expectations compare against."""
    connection = duckdb.connect(str(marts_path), read_only=True)
    try:
        return {table: connection.execute(READ_SQL.get(table, f"SELECT * FROM {table}")).df() for table in SUITES}
    finally:
        connection.close()


def _show(value) -> str:
    """A value from a validation result, written for people."""
    if isinstance(value, dict):
        return ", ".join(f"{name}={_show(item)}" for name, item in value.items())
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_show(item) for item in value) + ")"
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return "null"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _failure(result: ExpectationValidationResult) -> FailedExpectation:
    config = result.expectation_config
    details = result.result or {}
    raised = (result.exception_info or {}).get("exception_message")
    if raised:
        examples = [f"error: {raised}"]
    else:
        found = (details.get("partial_unexpected_index_list") or details.get("partial_unexpected_list")
                 or [f"missing {_show(value)}" for value in details.get("partial_missing_list") or []])
        examples = [_show(value) for value in found[:EXAMPLES]]
    return FailedExpectation(config.type, config.description or "", details.get("unexpected_count"), examples)


def _run_suite(context, table: str, frame: pd.DataFrame) -> SuiteResult:
    """Run one table's suite; only a failing suite is run again for its counts and example rows."""
    suite = context.suites.add(gx.ExpectationSuite(name=table, expectations=SUITES[table]()))
    batch = context.data_sources.get(DATA_SOURCE).add_dataframe_asset(table).add_batch_definition_whole_dataframe(table)
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=table, data=batch, suite=suite))
    # Working out unexpected values costs as much again as the checks, and is only needed on a failure.
    result = definition.run(batch_parameters={"dataframe": frame}, result_format="BOOLEAN_ONLY")
    if not result.success:
        result = definition.run(batch_parameters={"dataframe": frame}, result_format={
            "result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES,
            "unexpected_index_column_names": IDENTIFIERS[table]})
    return SuiteResult(table, len(result.results), [_failure(item) for item in result.results if not item.success])


def _context(site_dir: Path):
    """An ephemeral context with a pandas data source and one Data Docs site in `site_dir`."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.data_sources.add_pandas(DATA_SOURCE)
    context.add_data_docs_site(site_name=DOCS_SITE, site_config={
        "class_name": "SiteBuilder",
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir)},
    })
    return context


VENDOR_DIR = Path("static") / "vendor"
# Where `make setup` unpacks the bootstrap-table files of Debian's zoneminder package; no Python package has them.
DEBIAN_ASSETS = Path(sys.prefix) / "share" / "mel-data-docs"
GX_IMAGES = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
# GE's logos on its web server, and the local image shipped in the site's static/images/ that replaces each.
GX_IMAGE_COPIES = {"logo-long.png": "logo-long.png", "full_logo_dark.png": "logo-long.png"}


@dataclass(frozen=True)
class LocalAsset:
    """Where a CDN file's copy comes from (a package and a path inside it) and where it goes in static/vendor/."""

    package: str
    source: str
    target: str

    def source_path(self) -> Path:
        """The file (or folder) on this machine."""
        if self.package == "debian:zoneminder":
            return DEBIAN_ASSETS / self.source
        module = importlib.import_module(self.package)
        return Path(getattr(module, "BASE_DIR", None) or Path(module.__file__).parent) / self.source


BOOTSTRAP_CSS = LocalAsset("xstatic.pkg.bootstrap", "css/bootstrap.min.css", "bootstrap/bootstrap.min.css")
# Bootstrap's bundle includes Popper, so one file stands for both of GE's scripts.
BOOTSTRAP_JS = LocalAsset("xstatic.pkg.bootstrap", "js/bootstrap.bundle.min.js", "bootstrap/bootstrap.bundle.min.js")
JQUERY = LocalAsset("xstatic.pkg.jquery", "jquery.min.js", "jquery/jquery.min.js")
FONT_AWESOME_CSS = LocalAsset("fontawesomefree", "static/fontawesomefree/css/all.min.css",
                              "fontawesome/css/all.min.css")
# all.min.css finds its fonts at ../webfonts/.
FONT_AWESOME_FONTS = LocalAsset("fontawesomefree", "static/fontawesomefree/webfonts", "fontawesome/webfonts")
TABLE_CSS = LocalAsset("debian:zoneminder", "bootstrap-table/bootstrap-table.min.css",
                       "bootstrap-table/bootstrap-table.min.css")
TABLE_JS = LocalAsset("debian:zoneminder", "bootstrap-table/bootstrap-table.min.js",
                      "bootstrap-table/bootstrap-table.min.js")
TAKEN_OUT = None

# Every remote asset the pinned GE's templates load, and its local copy. TAKEN_OUT marks a tag taken out:
# Popper, which Bootstrap's bundle includes, and what no Python or Debian package ships: the filter row
# under the index's column headings (bootstrap-table's filter-control extension, and the date picker
# only it uses), the dark colour scheme (bootstrap-dark), and Vega, which GE uses only for profiling
# charts these suites never draw.
CDN_ASSETS: dict[str, LocalAsset | None] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": BOOTSTRAP_CSS,
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": BOOTSTRAP_JS,
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": TAKEN_OUT,
    "https://code.jquery.com/jquery-3.7.1.min.js": JQUERY,
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": FONT_AWESOME_CSS,
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": TABLE_CSS,
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": TABLE_JS,
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        TAKEN_OUT,
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        TAKEN_OUT,
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        TAKEN_OUT,
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        TAKEN_OUT,
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": TAKEN_OUT,
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": TAKEN_OUT,
    "https://cdn.jsdelivr.net/npm/vega@5": TAKEN_OUT,
    "https://cdn.jsdelivr.net/npm/vega-lite@5": TAKEN_OUT,
    "https://cdn.jsdelivr.net/npm/vega-embed@6": TAKEN_OUT,
}
# A <script src=...></script> or <link href=...> tag that loads a remote file.
REMOTE_TAG = re.compile(r"<script\b[^>]*\bsrc=\"(https?://[^\"]+)\"[^>]*>\s*</script>"
                        r"|<link\b[^>]*\bhref=\"(https?://[^\"]+)\"[^>]*>")
GX_IMAGE = re.compile(re.escape(GX_IMAGES) + r"([\w.-]+)(?:\?[^\"')\s]*)?")
# GE's own relative links to the site's static/ folder; its favicon link on a validation page climbs one folder short.
SITE_STATIC = re.compile(r"""(?<=["'(])(?:\./|(?:\.\./)+)static/""")


def _copy_assets(site_dir: Path) -> None:
    """Copy every local asset into the site's static/vendor/, naming any that this machine lacks."""
    for asset in {asset for asset in CDN_ASSETS.values() if asset is not TAKEN_OUT} | {FONT_AWESOME_FONTS}:
        source, target = asset.source_path(), site_dir / VENDOR_DIR / asset.target
        if not source.exists():
            raise FileNotFoundError(f"Data Docs asset {source} (from {asset.package}) is missing: run `make setup`")
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copyfile(source, target)


def _localise_page(page: Path, site_dir: Path) -> None:
    """Point one page's remote stylesheets, scripts and images at the site's own copies."""
    root = Path(os.path.relpath(site_dir, page.parent)).as_posix()

    def local_tag(match: re.Match) -> str:
        url = match.group(1) or match.group(2)
        if url not in CDN_ASSETS:
            raise ValueError(f"{page}: Data Docs load {url}, which has no local copy in quality.CDN_ASSETS")
        asset = CDN_ASSETS[url]
        if asset is TAKEN_OUT:
            return ""
        href = f"{root}/{(VENDOR_DIR / asset.target).as_posix()}"
        return f'<script src="{href}"></script>' if match.group(1) else f'<link rel="stylesheet" href="{href}">'

    def local_image(match: re.Match) -> str:
        if match.group(1) not in GX_IMAGE_COPIES:
            raise ValueError(f"{page}: Data Docs show {match.group(0)}, which has no local copy")
        return f"{root}/static/images/{GX_IMAGE_COPIES[match.group(1)]}"

    text = SITE_STATIC.sub(f"{root}/static/", page.read_text(encoding="utf-8"))
    page.write_text(GX_IMAGE.sub(local_image, REMOTE_TAG.sub(local_tag, text)), encoding="utf-8")


def serve_assets_locally(site_dir: Path) -> None:
    """Make a built Data Docs site open offline: its assets copied into it and every page pointed at them."""
    _copy_assets(site_dir)
    for page in site_dir.rglob("*.html"):
        _localise_page(page, site_dir)


def _replace_folder(new: Path, target: Path) -> None:
    """Put the finished site `new` where `target` is with two renames, so no one sees a half-built site."""
    retired = target.with_name(f".{target.name}-retired-{new.name}")
    if target.exists():
        target.rename(retired)
    new.rename(target)
    shutil.rmtree(retired, ignore_errors=True)


def validate_marts(marts_path: Path, docs_dir: Path) -> QualityReport:
    """Run every suite on the marts file and build Data Docs in `docs_dir` (its index.html)."""
    frames = read_marts(marts_path)
    docs_dir.parent.mkdir(parents=True, exist_ok=True)
    site_dir = docs_dir.with_name(f".{docs_dir.name}-{uuid.uuid4().hex[:12]}")
    try:
        context = _context(site_dir)
        suites = [_run_suite(context, table, frames[table]) for table in SUITES]
        context.build_data_docs(site_names=[DOCS_SITE])
        serve_assets_locally(site_dir)
        _replace_folder(site_dir, docs_dir)
    except BaseException:
        shutil.rmtree(site_dir, ignore_errors=True)
        raise
    return QualityReport(suites, docs_dir / "index.html")
