"""The indicator registry: reference sheets under `indicators/<theme>/<CODE>.yaml` and their SQL.

A sheet is the indicator's definition in the USAID PIRS sense (what it measures, its unit,
direction, how it accumulates over periods and aggregates across projects, its disaggregations
and sources); its SQL computes project-level values per reporting period from the staging
tables. Loading validates every sheet and fails loudly, naming the file. Adding an indicator
means adding these two files: no Python.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Literal

import duckdb
import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from mel_pipeline.reference.codes import DISAGGREGATIONS, INDICATOR_CODE_PATTERN, THEMES

RESULT_COLUMNS = ("project_code", "period_start", "period_end", "disaggregation", "disaggregation_value",
                  "numerator", "denominator", "value")
SHARED_VIEWS_FILE = "_shared/views.sql"
EXTRA_DISAGGREGATIONS = ("channel", "stakeholder_group", "domain", "significance", "contribution", "intention",
                         "selection_level", "evidence_type", "step_kind", "plant_code", "actor_type", "polarity")


class IndicatorError(Exception):
    """A reference sheet or its SQL is invalid; the message names the file."""


class Thresholds(BaseModel):
    """How a sentinel series is judged: fixed bounds and/or a robust z-score."""

    model_config = ConfigDict(extra="forbid")
    series_code: str
    upper: float | None = None
    lower: float | None = None
    modified_z: float = 3.5


class StatusBands(BaseModel):
    """Percent of target at or above which an indicator is on track / at risk (higher is better)."""

    model_config = ConfigDict(extra="forbid")
    on_track: float = 90.0
    at_risk: float = 75.0


PERIOD_TYPES = ("semester", "year", "life")


class PublicationLevel(BaseModel):
    """Where some of an indicator's breakdowns are published: for each project and the portfolio
    (`projects: each`) or for the portfolio alone, at the period types listed."""

    model_config = ConfigDict(extra="forbid")
    disaggregations: list[str] = Field(min_length=1)
    projects: Literal["each", "portfolio"]
    periods: list[Literal["semester", "year", "life"]] = Field(min_length=1)


class Publication(BaseModel):
    """What an indicator publishes at which level. Rows outside every level stay in the warehouse and never
    reach the marts; a breakdown published nowhere is listed in `withheld`, so the sheet says so."""

    model_config = ConfigDict(extra="forbid")
    levels: list[PublicationLevel] = Field(min_length=1)
    withheld: list[str] = []
    # The fewest answers a group may have to enter a figure computed from groups (CMP-05's plants, ENF-05's
    # stakeholder groups); the disclosure threshold applies when it is higher.
    min_group_size: int | None = Field(default=None, ge=1)


class IndicatorSheet(BaseModel):
    """One indicator's reference sheet."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=INDICATOR_CODE_PATTERN)
    name: str = Field(min_length=5)
    theme: Literal["awareness", "capacity", "enforcement", "compliance", "cla"]
    definition: str = Field(min_length=20)
    unit: Literal["count", "percent", "ratio", "days", "score"]
    direction: Literal["higher_is_better", "lower_is_better", "none"]
    accumulation: Literal["incremental", "cumulative"]
    aggregation: Literal["sum", "ratio", "mean", "median", "distinct"]
    disaggregations: list[str] = []
    # Source folder names; which exist is the staging contract's to say (`load_sheet` checks them).
    data_sources: list[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]*$")]] = Field(min_length=1)
    frequency: str = "semi-annual"
    approach: Literal["conventional", "sentinel", "outcome_harvesting", "msc", "stakeholder_feedback",
                      "process_monitoring"]
    counts_people: bool = False
    reported_by_grantees: bool = False
    thresholds: Thresholds | None = None
    status_bands: StatusBands = StatusBands()
    # How a year's or the life's target follows from the semesters' when the targets file gives none for
    # that span: 'sum' of the semesters' (incremental counts), the 'latest' semester's (cumulative
    # indicators), or 'none' (rates, means and medians: percentages are never summed). Defaults to the rule
    # the indicator's accumulation and aggregation imply.
    target_rule: Literal["sum", "latest", "none"] | None = None
    notes: str | None = None
    # Values the SQL reads as `$name` (e.g. ENF-03's `sectors`), so a scope is stated in the sheet, not buried in SQL.
    parameters: dict[str, str | float | list[str] | list[float]] = {}
    # Period types the SQL computes itself (whole calendar years for figures that cannot be rolled up).
    sql_periods: list[Literal["semester", "year"]] = ["semester"]
    # Absent, everything the indicator has is published (the shipped sheets all state it).
    publication: Publication | None = None
    sql: str = ""  # filled from the .sql file beside the sheet

    @model_validator(mode="after")
    def _consistent(self) -> "IndicatorSheet":
        allowed = set(DISAGGREGATIONS) | set(EXTRA_DISAGGREGATIONS)
        unknown_dims = [name for name in self.disaggregations if name not in allowed]
        if unknown_dims:
            raise ValueError(f"unknown disaggregation(s) {unknown_dims}; known: {sorted(allowed)}")
        if self.approach == "sentinel" and self.thresholds is None:
            raise ValueError("a sentinel indicator needs thresholds (series_code, and upper/lower and/or modified_z)")
        if self.unit == "percent" and self.aggregation not in ("ratio", "distinct"):
            raise ValueError("a percent is re-aggregated from numerators and denominators: aggregation must be "
                             "'ratio' (or 'distinct' when the SQL computes portfolio rows itself)")
        if self.reported_by_grantees and "indicator_reports" not in self.data_sources:
            raise ValueError("reported_by_grantees needs indicator_reports among data_sources")
        implied = self.implied_target_rule()
        if self.target_rule is None:
            self.target_rule = implied
        elif self.target_rule != implied and self.target_rule != "none":
            raise ValueError(f"target_rule {self.target_rule!r} contradicts a {self.accumulation} {self.unit} "
                             f"aggregated by {self.aggregation}: its targets roll up by {implied!r}"
                             + (" (a sum of percentages or means is no target)" if implied == "none" else ""))
        self._check_publication()
        return self

    def _check_publication(self) -> None:
        """A sheet publishes only breakdowns it has, each stated once as published or withheld, and only at
        period types the engine or its SQL produces."""
        breakdowns = ["total", *self.disaggregations]
        if self.publication is None:
            self.publication = Publication(levels=[PublicationLevel(disaggregations=breakdowns, projects="each",
                                                                    periods=self.produced_periods)])
        published = {name for level in self.publication.levels for name in level.disaggregations}
        unknown = sorted((published | set(self.publication.withheld)) - set(breakdowns))
        if unknown:
            raise ValueError(f"publication names {unknown}, which are not among its breakdowns {breakdowns}")
        both = sorted(published & set(self.publication.withheld))
        if both:
            raise ValueError(f"publication both publishes and withholds {both}")
        unstated = [name for name in breakdowns if name not in published and name not in self.publication.withheld]
        if unstated:
            raise ValueError(f"publication does not say where {unstated} is published (or that it is withheld)")
        claimed = {period for level in self.publication.levels for period in level.periods}
        unproduced = [period for period in PERIOD_TYPES if period in claimed and period not in self.produced_periods]
        if unproduced:
            raise ValueError(f"publication claims {unproduced} figures, which this indicator never has: the engine "
                             f"rolls up only sums, ratios, means and cumulative figures, and its SQL computes "
                             f"{self.sql_periods} (sql_periods)")

    @property
    def produced_periods(self) -> list[str]:
        """The period types this indicator has rows for: its SQL's, and year and life where the engine rolls up."""
        produced = set(self.sql_periods) | ({"year", "life"} if self.rolls_up else set())
        return [period for period in PERIOD_TYPES if period in produced]

    def min_group_size(self, threshold: int) -> int:
        """The fewest answers a group needs to enter a group-based figure: the sheet's, never below the threshold."""
        return max(threshold, self.publication.min_group_size or 0)

    def implied_target_rule(self) -> str:
        """The only rule by which semester targets can give a span's: summed for incremental sums, the latest
        for cumulative indicators, none otherwise."""
        if self.accumulation == "cumulative":
            return "latest"
        if self.aggregation == "sum" and self.unit not in ("percent", "ratio"):
            return "sum"
        return "none"

    @property
    def asset_name(self) -> str:
        """The Dagster asset name: 'AWR-01' -> 'awr_01'."""
        return self.code.lower().replace("-", "_")

    @property
    def rolls_up(self) -> bool:
        """Whether the engine derives year and life figures from the semesters: cumulative indicators (the
        latest semester), sums, ratios and means; a median or a de-duplicated count of separate semesters
        cannot be combined, so those have year rows only where their SQL returns whole calendar years."""
        return self.accumulation == "cumulative" or self.aggregation in ("sum", "ratio", "mean")

    @property
    def additive(self) -> bool:
        """Whether disaggregated values, projects and periods add up to their totals."""
        return self.aggregation in ("sum", "ratio")


def load_sheet(sheet_path: Path, sources: Collection[str]) -> IndicatorSheet:
    """Read and validate one sheet and the SQL file of the same name beside it; its data sources
    must be among `sources`, the staging contract's (passed in: the catalogue stands below staging)."""
    label = sheet_path.as_posix()
    try:
        raw = yaml.safe_load(sheet_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise IndicatorError(f"{label}: not valid YAML ({error})") from None
    if not isinstance(raw, dict):
        raise IndicatorError(f"{label}: expected a mapping of fields")
    sql_path = sheet_path.with_suffix(".sql")
    if not sql_path.is_file():
        raise IndicatorError(f"{label}: its SQL file {sql_path.name} is missing")
    try:
        sheet = IndicatorSheet(**raw, sql=sql_path.read_text(encoding="utf-8"))
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in item['loc']) or 'sheet'}: {item['msg']}"
                             for item in error.errors())
        raise IndicatorError(f"{label}: {problems}") from None
    unknown_sources = [name for name in sheet.data_sources if name not in sources]
    if unknown_sources:
        raise IndicatorError(f"{label}: unknown data source(s) {unknown_sources}; known: {sorted(sources)}")
    if sheet.code != sheet_path.stem:
        raise IndicatorError(f"{label}: code {sheet.code} does not match the file name {sheet_path.stem}")
    if sheet.theme != sheet_path.parent.name:
        raise IndicatorError(f"{label}: theme {sheet.theme} does not match its folder {sheet_path.parent.name}")
    try:
        statements = duckdb.extract_statements(sheet.sql)
    except duckdb.Error as error:
        raise IndicatorError(f"{sql_path.as_posix()}: SQL does not parse ({error})") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise IndicatorError(f"{sql_path.as_posix()}: must hold exactly one SELECT (or WITH ... SELECT) statement")
    return sheet


def load_registry(indicators_dir: Path, sources: Collection[str]) -> list[IndicatorSheet]:
    """Every sheet under `indicators_dir/<theme>/`, validated against the data `sources` there are,
    sorted by code; codes must be unique."""
    sheets = []
    for theme in THEMES:
        folder = indicators_dir / theme
        if folder.is_dir():
            sheets += [load_sheet(path, sources) for path in sorted(folder.glob("*.yaml"))]
    seen: dict[str, str] = {}
    for sheet in sheets:
        if sheet.code in seen:
            raise IndicatorError(f"indicator code {sheet.code} is defined twice ({seen[sheet.code]} and {sheet.theme})")
        seen[sheet.code] = sheet.theme
    stray = [path.as_posix() for path in indicators_dir.glob("*/*.yaml") if path.parent.name not in THEMES]
    if stray:
        raise IndicatorError(f"sheets outside a theme folder ({', '.join(THEMES)}): {', '.join(stray)}")
    return sorted(sheets, key=lambda sheet: sheet.code)


def shared_views_sql(indicators_dir: Path) -> str:
    """The views every indicator's SQL may use (`indicators/_shared/views.sql`)."""
    return (indicators_dir / SHARED_VIEWS_FILE).read_text(encoding="utf-8")


CATALOG_COLUMNS = ("code", "name", "theme", "definition", "unit", "direction", "accumulation", "aggregation",
                   "rolls_up", "target_rule", "disaggregations", "data_sources", "frequency", "approach", "counts_people",
                   "reported_by_grantees", "series_code", "threshold_upper", "threshold_lower", "modified_z",
                   "on_track_pct", "at_risk_pct", "notes", "publication")


def write_catalog(connection: duckdb.DuckDBPyConnection, sheets: list[IndicatorSheet]) -> None:
    """(Re)write `indicator_catalog`, one row per reference sheet."""
    connection.execute("""
        CREATE OR REPLACE TABLE indicator_catalog (
            code VARCHAR PRIMARY KEY, name VARCHAR, theme VARCHAR, definition VARCHAR, unit VARCHAR,
            direction VARCHAR, accumulation VARCHAR, aggregation VARCHAR, rolls_up BOOLEAN, target_rule VARCHAR,
            disaggregations VARCHAR[],
            data_sources VARCHAR[], frequency VARCHAR, approach VARCHAR, counts_people BOOLEAN,
            reported_by_grantees BOOLEAN, series_code VARCHAR, threshold_upper DOUBLE, threshold_lower DOUBLE,
            modified_z DOUBLE, on_track_pct DOUBLE, at_risk_pct DOUBLE, notes VARCHAR, publication VARCHAR)""")
    rows = []
    for sheet in sheets:
        thresholds = sheet.thresholds
        rows.append([
            sheet.code, sheet.name, sheet.theme, sheet.definition.strip(), sheet.unit, sheet.direction,
            sheet.accumulation, sheet.aggregation, sheet.rolls_up, sheet.target_rule, sheet.disaggregations,
            sheet.data_sources, sheet.frequency,
            sheet.approach, sheet.counts_people, sheet.reported_by_grantees,
            thresholds.series_code if thresholds else None, thresholds.upper if thresholds else None,
            thresholds.lower if thresholds else None, thresholds.modified_z if thresholds else None,
            sheet.status_bands.on_track, sheet.status_bands.at_risk, sheet.notes,
            sheet.publication.model_dump_json(exclude_none=True)])
    if rows:
        connection.executemany(f"INSERT INTO indicator_catalog VALUES ({', '.join('?' * len(CATALOG_COLUMNS))})", rows)
