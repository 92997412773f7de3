"""Running indicator SQL in the warehouse and turning its rows into `indicator_values`.

Each indicator's SQL yields project-level rows per reporting period and disaggregation
(`RESULT_COLUMNS`). An indicator is recomputed only when its SQL or a table it reads has changed
(`indicator_inputs` keeps what its stored rows were computed from). This module checks that
output, then applies the sheet's arithmetic in one
place for every indicator: portfolio rows (summed, or re-aggregated from summed numerators and
denominators, never by averaging rates), yearly and life-of-project roll-ups (summed for
incremental indicators, the latest value for cumulative ones), targets, percent of target and a
status read in the indicator's direction.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import duckdb

from mel_pipeline.indicator_registry import RESULT_COLUMNS, IndicatorError, IndicatorSheet, shared_views_sql
from mel_pipeline.settings import Settings
from mel_pipeline.warehouse import quote_literal as ql
from mel_pipeline.warehouse import table_exists, table_fingerprint

PORTFOLIO = "PORTFOLIO"
TOTAL = "total"
SQL_PARAMETERS = ("as_of",)

RESULTS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS indicator_results (
    indicator_code VARCHAR NOT NULL, project_code VARCHAR NOT NULL, period_start DATE NOT NULL,
    period_end DATE NOT NULL, disaggregation VARCHAR NOT NULL, disaggregation_value VARCHAR NOT NULL,
    numerator DOUBLE, denominator DOUBLE, value DOUBLE
)"""

# What each indicator's stored rows were computed from (see `inputs_fingerprint`).
INPUTS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS indicator_inputs (
    indicator_code VARCHAR PRIMARY KEY, fingerprint VARCHAR NOT NULL, computed_at TIMESTAMP NOT NULL)"""


@dataclass(frozen=True)
class IndicatorRun:
    """One indicator's turn in a refresh: its row count, and whether its inputs had changed."""

    rows: int
    recomputed: bool


CATALOG_COLUMNS = ("code", "name", "theme", "definition", "unit", "direction", "accumulation", "aggregation",
                   "disaggregations", "data_sources", "frequency", "approach", "counts_people",
                   "reported_by_grantees", "series_code", "threshold_upper", "threshold_lower", "modified_z",
                   "on_track_pct", "at_risk_pct", "notes")


def write_catalog(connection: duckdb.DuckDBPyConnection, sheets: list[IndicatorSheet]) -> None:
    """(Re)write `indicator_catalog`, one row per reference sheet."""
    connection.execute("""
        CREATE OR REPLACE TABLE indicator_catalog (
            code VARCHAR PRIMARY KEY, name VARCHAR, theme VARCHAR, definition VARCHAR, unit VARCHAR,
            direction VARCHAR, accumulation VARCHAR, aggregation VARCHAR, disaggregations VARCHAR[],
            data_sources VARCHAR[], frequency VARCHAR, approach VARCHAR, counts_people BOOLEAN,
            reported_by_grantees BOOLEAN, series_code VARCHAR, threshold_upper DOUBLE, threshold_lower DOUBLE,
            modified_z DOUBLE, on_track_pct DOUBLE, at_risk_pct DOUBLE, notes VARCHAR)""")
    rows = []
    for sheet in sheets:
        thresholds = sheet.thresholds
        rows.append([
            sheet.code, sheet.name, sheet.theme, sheet.definition.strip(), sheet.unit, sheet.direction,
            sheet.accumulation, sheet.aggregation, sheet.disaggregations, sheet.data_sources, sheet.frequency,
            sheet.approach, sheet.counts_people, sheet.reported_by_grantees,
            thresholds.series_code if thresholds else None, thresholds.upper if thresholds else None,
            thresholds.lower if thresholds else None, thresholds.modified_z if thresholds else None,
            sheet.status_bands.on_track, sheet.status_bands.at_risk, sheet.notes])
    if rows:
        connection.executemany(f"INSERT INTO indicator_catalog VALUES ({', '.join('?' * len(CATALOG_COLUMNS))})", rows)


def create_shared_views(connection: duckdb.DuckDBPyConnection, views_sql: str, settings: Settings) -> None:
    """Create the views indicator SQL builds on; a staging table not loaded yet is created empty."""
    from mel_pipeline.contract import SOURCES
    from mel_pipeline.ingest import ensure_staging_table

    for source in SOURCES.values():
        if not table_exists(connection, f"stg_{source.name}"):
            ensure_staging_table(connection, source, source.schema(settings.as_of))
    try:
        connection.execute(views_sql)
    except duckdb.Error as error:
        raise IndicatorError(f"indicators/_shared/views.sql: {error}") from None


def _parameters(sheet: IndicatorSheet, settings: Settings) -> dict:
    """The values of the `$name` parameters the sheet's SQL uses: the engine's (`SQL_PARAMETERS`) and the sheet's own.

    A name the SQL uses but nobody supplies, a sheet parameter the SQL never uses (a misspelling,
    most likely) and a sheet parameter shadowing one of the engine's all fail.
    """
    values = {"as_of": settings.as_of}
    shadowing = sorted(set(sheet.parameters) & set(values))
    if shadowing:
        raise IndicatorError(f"sheet parameter(s) {shadowing} would replace the engine's own; rename them")
    values.update(sheet.parameters)
    used = set(re.findall(r"\$([a-z_]+)", sheet.sql))
    unknown = used - set(values)
    if unknown:
        available = ", ".join([*SQL_PARAMETERS, *sheet.parameters])
        raise IndicatorError(f"unknown SQL parameter(s) {sorted(unknown)}; available: {available}")
    unused = sorted(set(sheet.parameters) - used)
    if unused:
        raise IndicatorError(f"sheet parameter(s) {unused} are not used by the SQL (as ${unused[0]})")
    return {name: values[name] for name in used}


def tables_read(connection: duckdb.DuckDBPyConnection, sql: str, parameters: dict) -> set[str]:
    """The tables a query scans, through views, from its unoptimised plan (the optimiser would drop
    the scans of tables that are empty now but may not be next time)."""
    connection.execute("PRAGMA disable_optimizer")
    try:
        plan = json.loads(connection.execute(f"EXPLAIN (FORMAT json) {sql}", parameters).fetchall()[0][1])
    finally:
        connection.execute("PRAGMA enable_optimizer")
    tables, nodes = set(), list(plan)
    while nodes:
        node = nodes.pop()
        nodes.extend(node.get("children", []))
        if "Table" in node.get("extra_info", {}):
            tables.add(node["extra_info"]["Table"].rsplit(".", 1)[-1])
    return tables


def inputs_fingerprint(connection: duckdb.DuckDBPyConnection, sql: str, parameters: dict, shared_sql: str) -> str:
    """A fingerprint of everything an indicator's rows depend on.

    Its SQL and parameters, the shared views and macros it may use (`shared_sql`, their
    definitions), and the content of every table it reads,
    directly or through views, as DuckDB itself binds the query: a staging table by its files'
    hashes and contract versions in `load_audit` (hashing millions of rows would cost what
    recomputing does), any other table by its rows.
    """
    from mel_pipeline.contract import SOURCES

    described = {"sql": sql, "parameters": {name: str(value) for name, value in parameters.items()},
                 "shared": shared_sql}
    for table in sorted(tables_read(connection, sql, parameters)):
        source = table.removeprefix("stg_")
        if table.startswith("stg_") and source in SOURCES:
            described[table] = connection.execute(
                "SELECT list((file, sha256, contract_version) ORDER BY file) FROM load_audit WHERE source = ?",
                [source]).fetchone()[0]
        else:
            described[table] = table_fingerprint(connection, table)
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


def run_indicator(connection: duckdb.DuckDBPyConnection, sheet: IndicatorSheet, settings: Settings) -> IndicatorRun:
    """Compute one indicator into `indicator_results`, unless nothing it reads has changed since it
    last was. Errors name the SQL file."""
    label = f"indicators/{sheet.theme}/{sheet.code}.sql"
    connection.execute(RESULTS_TABLE_SQL)
    connection.execute(INPUTS_TABLE_SQL)
    try:
        parameters = _parameters(sheet, settings)
        fingerprint = inputs_fingerprint(connection, sheet.sql, parameters, shared_views_sql(settings.indicators_dir))
    except (duckdb.Error, IndicatorError) as error:
        raise IndicatorError(f"{label}: {error}") from None
    previous = connection.execute(
        "SELECT fingerprint FROM indicator_inputs WHERE indicator_code = ?", [sheet.code]).fetchone()
    if previous and previous[0] == fingerprint:
        rows = connection.execute("SELECT count(*) FROM indicator_results WHERE indicator_code = ?",
                                  [sheet.code]).fetchone()[0]
        return IndicatorRun(rows, recomputed=False)
    try:
        connection.execute(f"CREATE OR REPLACE TEMP TABLE indicator_output AS {sheet.sql}", parameters)
    except duckdb.Error as error:
        raise IndicatorError(f"{label}: {error}") from None
    columns = [row[0] for row in connection.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'indicator_output'").fetchall()]
    if sorted(columns) != sorted(RESULT_COLUMNS):
        raise IndicatorError(f"{label}: must return exactly the columns {', '.join(RESULT_COLUMNS)}; "
                             f"it returns {', '.join(columns)}")
    problems = connection.execute(f"""
        SELECT
          count(*) FILTER (WHERE project_code IS NULL OR period_start IS NULL OR period_end IS NULL
                           OR disaggregation IS NULL OR disaggregation_value IS NULL),
          count(*) FILTER (WHERE period_end < period_start),
          count(*) - count(DISTINCT (project_code, period_start, period_end, disaggregation, disaggregation_value)),
          count(*) FILTER (WHERE (disaggregation = {ql(TOTAL)}) <> (disaggregation_value = {ql(TOTAL)}))
        FROM indicator_output""").fetchone()
    for count, what in zip(problems, ("rows with an empty key column", "rows whose period ends before it starts",
                                      "duplicate rows for the same project, period and disaggregation",
                                      "rows where only one of disaggregation and disaggregation_value is 'total'")):
        if count:
            raise IndicatorError(f"{label}: {count} {what}")
    connection.execute("BEGIN TRANSACTION")
    try:
        connection.execute("DELETE FROM indicator_results WHERE indicator_code = ?", [sheet.code])
        count = connection.execute(f"""
            INSERT INTO indicator_results
            SELECT {ql(sheet.code)}, CAST(project_code AS VARCHAR), CAST(period_start AS DATE), CAST(period_end AS DATE),
                   CAST(disaggregation AS VARCHAR), CAST(disaggregation_value AS VARCHAR),
                   CAST(numerator AS DOUBLE), CAST(denominator AS DOUBLE), CAST(value AS DOUBLE)
            FROM indicator_output""").fetchone()[0]
        connection.execute("INSERT OR REPLACE INTO indicator_inputs VALUES (?, ?, current_localtimestamp())",
                           [sheet.code, fingerprint])
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("DROP TABLE indicator_output")
    return IndicatorRun(count, recomputed=True)


INDICATOR_VALUES_SQL = f"""
CREATE OR REPLACE TABLE indicator_values AS
WITH catalog AS (SELECT * FROM indicator_catalog),
results AS (
    SELECT r.* FROM indicator_results r JOIN catalog c ON c.code = r.indicator_code
),
supplied_portfolio AS (SELECT DISTINCT indicator_code FROM results WHERE project_code = '{PORTFOLIO}'),
project_targets AS (
    SELECT project_code, indicator_code, period_start, period_end,
           arg_max(target, _source_file) AS target, arg_max(baseline, _source_file) AS baseline
    FROM stg_targets GROUP BY ALL
),
semester AS (
    SELECT r.*, t.target, t.baseline
    FROM results r
    LEFT JOIN project_targets t ON r.disaggregation = '{TOTAL}' AND t.project_code = r.project_code
        AND t.indicator_code = r.indicator_code AND t.period_start = r.period_start AND t.period_end = r.period_end
),
calendar AS (SELECT DISTINCT indicator_code, period_start, period_end FROM semester),
carried AS (
    -- A cumulative indicator's portfolio value sums each project's latest value as of the semester's
    -- end, so a project that has stopped reporting still counts with what it reached.
    SELECT k.indicator_code, s.project_code, k.period_start, k.period_end, s.disaggregation, s.disaggregation_value,
           arg_max({{'numerator': s.numerator, 'denominator': s.denominator, 'value': s.value, 'target': s.target}},
                   s.period_end) AS latest
    FROM calendar k
    JOIN semester s ON s.indicator_code = k.indicator_code AND s.period_end <= k.period_end
    JOIN catalog c ON c.code = k.indicator_code AND c.accumulation = 'cumulative'
    GROUP BY ALL
),
portfolio_input AS (
    SELECT s.indicator_code, s.project_code, s.period_start, s.period_end, s.disaggregation, s.disaggregation_value,
           s.numerator, s.denominator, s.value, s.target
    FROM semester s JOIN catalog c ON c.code = s.indicator_code AND c.accumulation = 'incremental'
    UNION ALL
    SELECT indicator_code, project_code, period_start, period_end, disaggregation, disaggregation_value,
           latest.numerator, latest.denominator, latest.value, latest.target
    FROM carried
),
portfolio AS (
    SELECT s.indicator_code, '{PORTFOLIO}' AS project_code, s.period_start, s.period_end, s.disaggregation,
           s.disaggregation_value,
           CASE WHEN c.aggregation = 'mean' THEN sum(s.value) ELSE sum(s.numerator) END AS numerator,
           CASE WHEN c.aggregation = 'mean' THEN count(s.value) ELSE sum(s.denominator) END AS denominator,
           CASE c.aggregation WHEN 'sum' THEN sum(s.value) WHEN 'mean' THEN avg(s.value)
                              WHEN 'median' THEN median(s.value) END AS value,
           CASE WHEN c.aggregation = 'sum' AND count(s.target) = count(*) THEN sum(s.target) END AS target,
           NULL::DOUBLE AS baseline
    FROM portfolio_input s JOIN catalog c ON c.code = s.indicator_code
    WHERE c.aggregation <> 'distinct' AND s.indicator_code NOT IN (SELECT indicator_code FROM supplied_portfolio)
    GROUP BY s.indicator_code, s.period_start, s.period_end, s.disaggregation, s.disaggregation_value, c.aggregation
),
periods AS (
    SELECT *, 'semester' AS period_type FROM semester
    UNION ALL BY NAME
    SELECT *, 'semester' AS period_type FROM portfolio
),
span_members AS (
    SELECT p.*, 'year' AS span_type, year(p.period_start) AS span_key FROM periods p
    UNION ALL
    SELECT p.*, 'life' AS span_type, 0 AS span_key FROM periods p
),
spans AS (
    -- A span's dates are those of the whole year (or life) of the indicator for that project, so a
    -- category reported in one semester only still shares its total's period.
    SELECT *, min(period_start) OVER span AS span_start, max(period_end) OVER span AS span_end
    FROM span_members
    WINDOW span AS (PARTITION BY indicator_code, project_code, span_type, span_key)
),
span_groups AS (
    -- Medians and de-duplicated counts of separate semesters cannot be combined into a year's:
    -- only cumulative ones (whose latest value is the year's) are rolled up.
    SELECT s.indicator_code, s.project_code, s.disaggregation, s.disaggregation_value, s.span_type AS period_type,
           s.span_start AS period_start, s.span_end AS period_end, c.accumulation, c.aggregation,
           arg_max({{'numerator': s.numerator, 'denominator': s.denominator, 'value': s.value, 'target': s.target}},
                   s.period_end) AS latest,
           sum(s.numerator) AS numerator_sum, sum(s.denominator) AS denominator_sum, sum(s.value) AS value_sum,
           avg(s.value) AS value_mean, sum(s.target) AS target_sum, count(s.target) = count(*) AS every_target
    FROM spans s JOIN catalog c ON c.code = s.indicator_code
    WHERE c.accumulation = 'cumulative' OR c.aggregation IN ('sum', 'ratio', 'mean')
    GROUP BY s.indicator_code, s.project_code, s.disaggregation, s.disaggregation_value, s.span_type, s.span_key,
             s.span_start, s.span_end, c.accumulation, c.aggregation
),
rollups AS (
    SELECT indicator_code, project_code, period_start, period_end, disaggregation, disaggregation_value, period_type,
           CASE WHEN accumulation = 'cumulative' THEN latest.numerator ELSE numerator_sum END AS numerator,
           CASE WHEN accumulation = 'cumulative' THEN latest.denominator ELSE denominator_sum END AS denominator,
           CASE WHEN accumulation = 'cumulative' THEN latest.value
                WHEN aggregation = 'mean' THEN coalesce(numerator_sum / nullif(denominator_sum, 0), value_mean)
                ELSE value_sum END AS value,
           CASE WHEN accumulation = 'cumulative' THEN latest.target WHEN every_target THEN target_sum END AS target,
           NULL::DOUBLE AS baseline
    FROM span_groups
),
combined AS (
    SELECT indicator_code, project_code, period_type, period_start, period_end, disaggregation, disaggregation_value,
           numerator, denominator, value, target, baseline FROM periods
    UNION ALL BY NAME SELECT * FROM rollups
),
valued AS (
    SELECT v.indicator_code, c.theme, v.project_code, v.period_type, v.period_start, v.period_end,
           v.disaggregation, v.disaggregation_value, c.unit, v.numerator, v.denominator,
           CASE WHEN c.unit = 'percent' THEN CASE WHEN v.denominator > 0 THEN 100.0 * v.numerator / v.denominator END
                WHEN c.unit = 'ratio' AND c.aggregation = 'ratio' THEN CASE WHEN v.denominator > 0 THEN v.numerator / v.denominator END
                ELSE v.value END AS value,
           v.baseline, v.target, c.direction, c.on_track_pct, c.at_risk_pct
    FROM combined v JOIN catalog c ON c.code = v.indicator_code
)
SELECT indicator_code, theme, project_code, period_type, period_start, period_end, disaggregation,
       disaggregation_value, unit, numerator, denominator, value, baseline, target,
       CASE WHEN target > 0 AND value IS NOT NULL THEN 100.0 * value / target END AS pct_of_target,
       CASE WHEN target IS NULL OR value IS NULL OR direction = 'none' THEN 'no_target'
            WHEN direction = 'higher_is_better' AND target = 0 THEN 'on_track'
            WHEN direction = 'higher_is_better' AND 100.0 * value / target >= on_track_pct THEN 'on_track'
            WHEN direction = 'higher_is_better' AND 100.0 * value / target >= at_risk_pct THEN 'at_risk'
            WHEN direction = 'higher_is_better' THEN 'off_track'
            WHEN value <= target THEN 'on_track'
            WHEN target > 0 AND 100.0 * value / target <= 200.0 - at_risk_pct THEN 'at_risk'
            ELSE 'off_track' END AS status
FROM valued
ORDER BY indicator_code, project_code = '{PORTFOLIO}', project_code, period_type, period_start, disaggregation,
         disaggregation_value
"""


def build_indicator_values(connection: duckdb.DuckDBPyConnection, sheets: list[IndicatorSheet]) -> int:
    """Rebuild `indicator_values` from `indicator_results` for the catalogue's indicators."""
    write_catalog(connection, sheets)
    connection.execute(RESULTS_TABLE_SQL)
    connection.execute(INDICATOR_VALUES_SQL)
    return connection.execute("SELECT count(*) FROM indicator_values").fetchone()[0]
