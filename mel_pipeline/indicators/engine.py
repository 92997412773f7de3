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

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from mel_pipeline.reference.catalogue import (
    RESULT_COLUMNS,
    IndicatorError,
    IndicatorSheet,
    shared_views_sql,
    write_catalog,
)
from mel_pipeline.settings import Settings
from mel_pipeline.staging.contract import DEFAULT_REPORT_DUE_DAYS, SOURCES
from mel_pipeline.staging.ingest import ensure_staging_table
from mel_pipeline.warehouse import quote_literal as ql
from mel_pipeline.warehouse import table_exists, table_fingerprint

SENTINEL_SIGNALS_FILE = "_shared/sentinel_signals.sql"
PORTFOLIO = "PORTFOLIO"
TOTAL = "total"

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


def build_sentinel_signals(connection: duckdb.DuckDBPyConnection, indicators_dir: Path) -> None:
    """(Re)build `sentinel_signals`: every staged sentinel observation judged against its sheet's
    thresholds and a robust baseline, by `indicators/_shared/sentinel_signals.sql`."""
    try:
        connection.execute((indicators_dir / SENTINEL_SIGNALS_FILE).read_text(encoding="utf-8"))
    except duckdb.Error as error:
        raise IndicatorError(f"indicators/{SENTINEL_SIGNALS_FILE}: {error}") from None


def create_shared_views(connection: duckdb.DuckDBPyConnection, views_sql: str, settings: Settings) -> None:
    """Create the views indicator SQL builds on; a staging table not loaded yet is created empty."""
    for source in SOURCES.values():
        if not table_exists(connection, f"stg_{source.name}"):
            ensure_staging_table(connection, source, source.schema(settings.as_of))
    try:
        connection.execute(views_sql)
    except duckdb.Error as error:
        raise IndicatorError(f"indicators/_shared/views.sql: {error}") from None


def sheet_sql_parameters(sheet: IndicatorSheet, settings: Settings) -> dict:
    """The values of the `$name` parameters the sheet's SQL uses: the engine's (`as_of`, and
    `min_group_size` where the sheet states one) and the sheet's own.

    `min_group_size` is the sheet's `publication.min_group_size`, raised to the disclosure threshold.

    A name the SQL uses but nobody supplies, a sheet parameter the SQL never uses (a misspelling,
    most likely) and a sheet parameter shadowing one of the engine's all fail.
    """
    values = {"as_of": settings.as_of}
    if sheet.publication.min_group_size is not None:
        values["min_group_size"] = sheet.min_group_size(settings.suppression_threshold)
    shadowing = sorted(set(sheet.parameters) & set(values))
    if shadowing:
        raise IndicatorError(f"sheet parameter(s) {shadowing} would replace the engine's own; rename them")
    values.update(sheet.parameters)
    used = set(re.findall(r"\$([a-z_]+)", sheet.sql))
    unknown = used - set(values)
    if unknown:
        available = ", ".join(values)
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
        parameters = sheet_sql_parameters(sheet, settings)
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


# Semesters are January-June and July-December; a target or result row is a calendar year when it runs
# from 1 January to 31 December.
def _semester_start(day: str) -> str:
    return f"make_date(year({day}), CASE WHEN month({day}) <= 6 THEN 1 ELSE 7 END, 1)"


def _is_semester(start: str, end: str) -> str:
    return f"({start} = {_semester_start(start)} AND {end} = CAST({start} + INTERVAL 6 MONTH - INTERVAL 1 DAY AS DATE))"


def _is_year(start: str, end: str) -> str:
    return f"({start} = make_date(year({start}), 1, 1) AND {end} = make_date(year({start}), 12, 31))"


# Numerators, denominators and targets are summed as DECIMAL, exactly, so that neither the order rows
# arrive in nor the number of threads can change a last digit: two refreshes of the same data give
# bit-for-bit equal marts.
EXACT = "DECIMAL(38, 9)"


def _ordered_sum(column: str) -> str:
    """A sum taken in the order of the summed values, so that the last bits of a DOUBLE sum (values computed by
    an indicator's SQL, such as means, keep every digit, and portfolio means sum them) do not depend on the
    order rows reach the aggregate."""
    return f"sum({column} ORDER BY {column})"


INDICATOR_VALUES_SQL = f"""
CREATE OR REPLACE TABLE indicator_values AS
WITH catalog AS (SELECT * FROM indicator_catalog),
results AS (
    SELECT r.indicator_code, r.project_code, r.period_start, r.period_end, r.disaggregation, r.disaggregation_value,
           CAST(r.numerator AS {EXACT}) AS numerator, CAST(r.denominator AS {EXACT}) AS denominator,
           r.value, {_is_year('r.period_start', 'r.period_end')} AS whole_year
    FROM indicator_results r JOIN catalog c ON c.code = r.indicator_code
),
supplied AS (
    -- Portfolio rows or calendar-year rows an indicator's SQL computes itself: the engine adds none of its own.
    SELECT indicator_code, bool_or(project_code = '{PORTFOLIO}') AS portfolio, bool_or(whole_year) AS years
    FROM results GROUP BY indicator_code
),
target_rows AS (
    -- A target row's period says what it is for: a semester, a calendar year, or (any other span) the
    -- life of the project. Sent twice, the later file wins.
    SELECT project_code, indicator_code, period_start, period_end,
           CAST(arg_max(target, _source_file) AS {EXACT}) AS target, CAST(arg_max(baseline, _source_file) AS {EXACT}) AS baseline,
           CASE WHEN {_is_semester('period_start', 'period_end')} THEN 'semester'
                WHEN {_is_year('period_start', 'period_end')} THEN 'year' ELSE 'life' END AS target_span
    FROM stg_targets GROUP BY project_code, indicator_code, period_start, period_end
),
stated_spans AS (
    SELECT project_code, indicator_code, target_span,
           CASE WHEN target_span = 'year' THEN year(period_start) ELSE 0 END AS span_key,
           arg_max(target, period_end) AS target
    FROM target_rows WHERE target_span <> 'semester' GROUP BY ALL
),
project_semesters AS (
    SELECT p.project_code, CAST(s.semester AS DATE) AS period_start,
           CAST(s.semester + INTERVAL 6 MONTH - INTERVAL 1 DAY AS DATE) AS period_end,
           CAST(coalesce(p.report_due_days, $default_due_days) AS INTEGER) AS due_days
    FROM stg_projects p,
         LATERAL (SELECT unnest(generate_series(CAST({_semester_start('p.start_date')} AS TIMESTAMP),
                                                CAST(p.end_date AS TIMESTAMP), INTERVAL 6 MONTH)) AS semester) s
),
expected_projects AS (
    -- Reports are expected of the projects that have a target for the indicator or have reported it, from
    -- the first semester with either (monitoring may start after a project does), for indicators grantees
    -- report and any with targets. Indicators counted from records carry no coverage: there a semester
    -- without records is a zero, not a missing report.
    SELECT indicator_code, project_code, min(period_start) AS first_start
    FROM (SELECT t.indicator_code, t.project_code, t.period_start FROM target_rows t
          UNION ALL
          SELECT r.indicator_code, r.project_code, r.period_start FROM results r JOIN catalog c ON c.code = r.indicator_code
          WHERE r.project_code <> '{PORTFOLIO}'
            AND (c.reported_by_grantees OR r.indicator_code IN (SELECT indicator_code FROM target_rows)))
    GROUP BY indicator_code, project_code
),
reported AS (
    SELECT DISTINCT indicator_code, project_code, period_start, period_end FROM results
    WHERE project_code <> '{PORTFOLIO}' AND NOT whole_year
),
coverage AS (
    -- Every semester a report was due by the as-of date (or came anyway), and whether it came.
    SELECT e.indicator_code, e.project_code, s.period_start, s.period_end,
           r.project_code IS NOT NULL AS is_reported
    FROM expected_projects e
    JOIN project_semesters s ON s.project_code = e.project_code
    LEFT JOIN reported r ON r.indicator_code = e.indicator_code AND r.project_code = e.project_code
         AND r.period_start = s.period_start AND r.period_end = s.period_end
    WHERE s.period_end >= e.first_start
      AND (s.period_end + s.due_days <= CAST($as_of AS DATE) OR r.project_code IS NOT NULL)
),
semester AS (
    SELECT r.indicator_code, r.project_code, r.period_start, r.period_end, r.disaggregation, r.disaggregation_value,
           r.numerator, r.denominator, r.value, t.target, t.baseline, false AS missing_report
    FROM results r
    LEFT JOIN target_rows t ON r.disaggregation = '{TOTAL}' AND t.target_span = 'semester'
         AND t.project_code = r.project_code AND t.indicator_code = r.indicator_code
         AND t.period_start = r.period_start AND t.period_end = r.period_end
    WHERE NOT r.whole_year
    UNION ALL
    -- A report that was due and never came keeps its target: a missing actual must not raise attainment.
    SELECT k.indicator_code, k.project_code, k.period_start, k.period_end, '{TOTAL}', '{TOTAL}',
           NULL, NULL, NULL, t.target, t.baseline, true
    FROM coverage k
    JOIN target_rows t ON t.target_span = 'semester' AND t.project_code = k.project_code
         AND t.indicator_code = k.indicator_code AND t.period_start = k.period_start AND t.period_end = k.period_end
    WHERE NOT k.is_reported
),
semester_coverage AS (
    SELECT indicator_code, project_code, period_start, period_end, 1 AS periods_expected,
           CAST(is_reported AS INTEGER) AS periods_reported, NULL AS reporting_projects
    FROM coverage
    UNION ALL
    SELECT indicator_code, '{PORTFOLIO}', period_start, period_end, count(*), count(*) FILTER (WHERE is_reported),
           string_agg(project_code, ',' ORDER BY project_code) FILTER (WHERE is_reported)
    FROM coverage GROUP BY indicator_code, period_start, period_end
),
calendar AS (SELECT DISTINCT indicator_code, period_start, period_end FROM semester),
carried AS (
    -- A cumulative indicator's portfolio value sums each project's latest reported value as of the semester's
    -- end, so a project that has stopped reporting still counts with what it reached.
    SELECT k.indicator_code, s.project_code, k.period_start, k.period_end, s.disaggregation, s.disaggregation_value,
           arg_max({{'numerator': s.numerator, 'denominator': s.denominator, 'value': s.value}}, s.period_end)
               FILTER (WHERE NOT s.missing_report) AS latest,
           arg_max(s.target, s.period_end) AS target
    FROM calendar k
    JOIN semester s ON s.indicator_code = k.indicator_code AND s.period_end <= k.period_end
    JOIN catalog c ON c.code = k.indicator_code AND c.accumulation = 'cumulative'
    GROUP BY ALL
),
portfolio_input AS (
    SELECT s.indicator_code, s.project_code, s.period_start, s.period_end, s.disaggregation, s.disaggregation_value,
           s.numerator, s.denominator, s.value, s.target, s.missing_report
    FROM semester s JOIN catalog c ON c.code = s.indicator_code AND c.accumulation = 'incremental'
    UNION ALL
    SELECT indicator_code, project_code, period_start, period_end, disaggregation, disaggregation_value,
           latest.numerator, latest.denominator, latest.value, target, latest IS NULL
    FROM carried
),
portfolio AS (
    -- Summed targets stand for counts only, and only when every project with a figure has a target of its own.
    SELECT s.indicator_code, '{PORTFOLIO}' AS project_code, s.period_start, s.period_end, s.disaggregation,
           s.disaggregation_value,
           CASE WHEN c.aggregation = 'mean' THEN {_ordered_sum('s.value')} ELSE sum(s.numerator) END AS numerator,
           CASE WHEN c.aggregation = 'mean' THEN count(s.value) ELSE sum(s.denominator) END AS denominator,
           CASE c.aggregation WHEN 'sum' THEN {_ordered_sum('s.value')} WHEN 'mean' THEN avg(s.value ORDER BY s.value)
                              WHEN 'median' THEN median(s.value) END AS value,
           CASE WHEN c.target_rule = 'sum' AND count(*) FILTER (WHERE NOT s.missing_report AND s.target IS NULL) = 0
                THEN sum(s.target) END AS target,
           NULL AS baseline, false AS missing_report
    FROM portfolio_input s JOIN catalog c ON c.code = s.indicator_code
    WHERE c.aggregation <> 'distinct'
      AND s.indicator_code NOT IN (SELECT indicator_code FROM supplied WHERE portfolio)
    GROUP BY s.indicator_code, s.period_start, s.period_end, s.disaggregation, s.disaggregation_value, c.aggregation,
             c.target_rule
),
periods AS (
    SELECT *, 'semester' AS period_type FROM semester
    UNION ALL BY NAME
    SELECT *, 'semester' AS period_type FROM portfolio
),
span_members AS (
    SELECT p.*, 'year' AS span_type, year(p.period_start) AS span_key FROM periods p
    WHERE p.indicator_code NOT IN (SELECT indicator_code FROM supplied WHERE years)
    UNION ALL
    SELECT p.*, 'life' AS span_type, 0 AS span_key FROM periods p
),
coverage_in_spans AS (
    SELECT *, 'year' AS span_type, year(period_start) AS span_key FROM coverage
    UNION ALL SELECT *, 'life', 0 FROM coverage
),
span_coverage AS (
    -- A span runs over the semesters its reports were due in (or arrived in): a project ending in June has a
    -- half year, and a year with one of two reports says so.
    SELECT indicator_code, project_code, span_type, span_key, min(period_start) AS span_start,
           max(period_end) AS span_end, count(*) AS periods_expected, count(*) FILTER (WHERE is_reported) AS periods_reported,
           NULL AS reporting_projects
    FROM coverage_in_spans
    GROUP BY ALL
    UNION ALL
    SELECT indicator_code, '{PORTFOLIO}', span_type, span_key, min(period_start), max(period_end), count(*),
           count(*) FILTER (WHERE is_reported),
           string_agg(DISTINCT project_code, ',' ORDER BY project_code) FILTER (WHERE is_reported)
    FROM coverage_in_spans
    GROUP BY indicator_code, span_type, span_key
),
spans AS (
    -- A category reported in one semester only still shares its total's period.
    SELECT m.*, least(min(m.period_start) OVER span, any_value(v.span_start) OVER span) AS span_start,
           greatest(max(m.period_end) OVER span, any_value(v.span_end) OVER span) AS span_end
    FROM span_members m
    LEFT JOIN span_coverage v ON v.indicator_code = m.indicator_code AND v.project_code = m.project_code
         AND v.span_type = m.span_type AND v.span_key = m.span_key
    WINDOW span AS (PARTITION BY m.indicator_code, m.project_code, m.span_type, m.span_key)
),
span_groups AS (
    -- Medians and de-duplicated counts of separate semesters cannot be combined into a year's:
    -- only cumulative ones (whose latest value is the year's) are rolled up.
    SELECT s.indicator_code, s.project_code, s.disaggregation, s.disaggregation_value, s.span_type AS period_type,
           s.span_key, s.span_start AS period_start, s.span_end AS period_end, c.accumulation, c.aggregation,
           c.target_rule,
           arg_max({{'numerator': s.numerator, 'denominator': s.denominator, 'value': s.value}}, s.period_end)
               FILTER (WHERE NOT s.missing_report) AS latest,
           arg_max(s.target, s.period_end) AS latest_target,
           {_ordered_sum('s.numerator')} AS numerator_sum, {_ordered_sum('s.denominator')} AS denominator_sum,
           {_ordered_sum('s.value')} AS value_sum, avg(s.value ORDER BY s.value) AS value_mean, sum(s.target) AS target_sum,
           count(*) FILTER (WHERE s.target IS NULL) = 0 AS every_target
    FROM spans s JOIN catalog c ON c.code = s.indicator_code
    WHERE c.rolls_up
    GROUP BY s.indicator_code, s.project_code, s.disaggregation, s.disaggregation_value, s.span_type, s.span_key,
             s.span_start, s.span_end, c.accumulation, c.aggregation, c.target_rule
),
rollups AS (
    -- A span's target is the one the targets file gives for it; otherwise it follows the sheet's target
    -- rule: the sum of its semesters' targets (counts), the latest semester's (cumulative indicators), or
    -- none (rates and means: a sum of percentages is no target).
    SELECT g.indicator_code, g.project_code, g.period_start, g.period_end, g.disaggregation, g.disaggregation_value,
           g.period_type, g.span_key,
           CASE WHEN g.accumulation = 'cumulative' THEN g.latest.numerator ELSE g.numerator_sum END AS numerator,
           CASE WHEN g.accumulation = 'cumulative' THEN g.latest.denominator ELSE g.denominator_sum END AS denominator,
           CASE WHEN g.accumulation = 'cumulative' THEN g.latest.value
                WHEN g.aggregation = 'mean' THEN coalesce(g.numerator_sum / nullif(g.denominator_sum, 0), g.value_mean)
                ELSE g.value_sum END AS value,
           CASE WHEN g.disaggregation <> '{TOTAL}' THEN NULL
                WHEN t.target IS NOT NULL THEN t.target
                WHEN g.target_rule = 'sum' AND g.every_target THEN g.target_sum
                WHEN g.target_rule = 'latest' THEN g.latest_target END AS target,
           NULL AS baseline
    FROM span_groups g
    LEFT JOIN stated_spans t ON g.disaggregation = '{TOTAL}' AND t.project_code = g.project_code
         AND t.indicator_code = g.indicator_code AND t.target_span = g.period_type AND t.span_key = g.span_key
),
supplied_years AS (
    SELECT r.indicator_code, r.project_code, r.period_start, r.period_end, r.disaggregation, r.disaggregation_value,
           'year' AS period_type, r.numerator, r.denominator, r.value, t.target, t.baseline
    FROM results r
    LEFT JOIN target_rows t ON r.disaggregation = '{TOTAL}' AND t.target_span = 'year'
         AND t.project_code = r.project_code AND t.indicator_code = r.indicator_code
         AND t.period_start = r.period_start
    WHERE r.whole_year
),
combined AS (
    SELECT indicator_code, project_code, period_type, period_start, period_end, disaggregation, disaggregation_value,
           numerator, denominator, value, target, baseline, year(period_start) AS span_key FROM periods
    UNION ALL BY NAME SELECT *, year(period_start) AS span_key FROM supplied_years
    UNION ALL BY NAME SELECT * FROM rollups
),
covered AS (
    SELECT v.*, coalesce(sc.periods_expected, pc.periods_expected) AS periods_expected,
           coalesce(sc.periods_reported, pc.periods_reported) AS periods_reported,
           coalesce(sc.reporting_projects, pc.reporting_projects) AS reporting_projects
    FROM combined v
    LEFT JOIN semester_coverage sc ON v.period_type = 'semester' AND sc.indicator_code = v.indicator_code
         AND sc.project_code = v.project_code AND sc.period_start = v.period_start AND sc.period_end = v.period_end
    LEFT JOIN span_coverage pc ON v.period_type <> 'semester' AND pc.indicator_code = v.indicator_code
         AND pc.project_code = v.project_code AND pc.span_type = v.period_type
         AND pc.span_key = v.span_key
),
cumulative_steps AS (
    -- A stock whose total falls from one reported semester to the next is flagged: neither a cumulative
    -- count nor the numerator or denominator of a cumulative rate should (a category may, as people move).
    SELECT v.*, CASE WHEN c.accumulation = 'cumulative' AND v.period_type = 'semester' AND v.disaggregation = '{TOTAL}'
                     THEN coalesce(v.numerator < lag(v.numerator) OVER stock, false)
                          OR coalesce(v.denominator < lag(v.denominator) OVER stock, false)
                          OR coalesce(v.value < lag(v.value) OVER stock AND v.numerator IS NULL, false) END
                AS stock_decreased
    FROM covered v JOIN catalog c ON c.code = v.indicator_code
    WINDOW stock AS (PARTITION BY v.indicator_code, v.project_code, v.period_type, v.disaggregation,
                                  v.disaggregation_value, v.value IS NULL AND v.numerator IS NULL
                     ORDER BY v.period_start)
),
valued AS (
    SELECT v.indicator_code, c.theme, v.project_code, v.period_type, v.period_start, v.period_end,
           v.disaggregation, v.disaggregation_value, c.unit,
           CAST(v.numerator AS DOUBLE) AS numerator, CAST(v.denominator AS DOUBLE) AS denominator,
           CAST(CASE WHEN c.unit = 'percent' THEN CASE WHEN v.denominator > 0 THEN 100.0 * v.numerator / v.denominator END
                     WHEN c.unit = 'ratio' AND c.aggregation = 'ratio'
                          THEN CASE WHEN v.denominator > 0 THEN v.numerator / v.denominator END
                     ELSE v.value END AS DOUBLE) AS value,
           CAST(v.baseline AS DOUBLE) AS baseline, CAST(v.target AS DOUBLE) AS target,
           CAST(v.periods_expected AS INTEGER) AS periods_expected, CAST(v.periods_reported AS INTEGER) AS periods_reported,
           v.reporting_projects, coalesce(v.stock_decreased, false) AS stock_decreased,
           c.direction, c.on_track_pct, c.at_risk_pct
    FROM cumulative_steps v JOIN catalog c ON c.code = v.indicator_code
)
SELECT indicator_code, theme, project_code, period_type, period_start, period_end, disaggregation,
       disaggregation_value, unit, numerator, denominator, value, baseline, target,
       CASE WHEN direction <> 'none' AND target > 0 AND value IS NOT NULL THEN 100.0 * value / target END AS pct_of_target,
       CASE WHEN direction = 'none' THEN NULL
            WHEN target IS NULL THEN 'no_target'
            WHEN value IS NULL THEN 'not_reported'
            WHEN periods_reported < periods_expected THEN 'incomplete'
            WHEN direction = 'higher_is_better' AND target = 0 THEN 'on_track'
            WHEN direction = 'higher_is_better' AND 100.0 * value / target >= on_track_pct THEN 'on_track'
            WHEN direction = 'higher_is_better' AND 100.0 * value / target >= at_risk_pct THEN 'at_risk'
            WHEN direction = 'higher_is_better' THEN 'off_track'
            WHEN value <= target THEN 'on_track'
            WHEN target > 0 AND 100.0 * value / target <= 200.0 - at_risk_pct THEN 'at_risk'
            ELSE 'off_track' END AS status,
       periods_expected, periods_reported, reporting_projects, stock_decreased
FROM valued
ORDER BY indicator_code, project_code = '{PORTFOLIO}', project_code, period_type, period_start, disaggregation,
         disaggregation_value
"""


def build_indicator_values(connection: duckdb.DuckDBPyConnection, sheets: list[IndicatorSheet], as_of: dt.date) -> int:
    """Rebuild `indicator_values` from `indicator_results` for the catalogue's indicators; a report counts as
    expected once its due date (the period's end plus the project's `report_due_days`) is on or before `as_of`."""
    write_catalog(connection, sheets)
    connection.execute(RESULTS_TABLE_SQL)
    connection.execute(INDICATOR_VALUES_SQL, {"as_of": as_of, "default_due_days": DEFAULT_REPORT_DUE_DAYS})
    return connection.execute("SELECT count(*) FROM indicator_values").fetchone()[0]
