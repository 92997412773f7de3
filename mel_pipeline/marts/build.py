"""The mart tables analysts read, built from the warehouse into an attached database named `mart`.

Each mart is one SQL statement over warehouse tables except `indicator_values`, which passes
through disclosure control first. Nothing here decides where the file lives or when it becomes
visible: `publish` does that.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from mel_pipeline.marts.disclosure import HIDDEN, KEY, published, suppress

SURVEY_ITEMS = ("enforcement_improved", "coercion_observed", "employer_compliance", "training_useful", "rights_known")
DIVERGENCE_GAP = 1.0  # points on a 1-5 scale between two groups' means that count as divergent
DIVERGENCE_CODE = "stakeholder_divergence:"  # how the survey groups are named among indicator cells
SAME_ANSWERS_AS_ENFORCEMENT_ITEM = "ENF-05"  # its stakeholder groups are the answers to enforcement_improved
SELECTION_ORDER = "CASE selection_level WHEN 'collected' THEN 1 WHEN 'project' THEN 2 WHEN 'portfolio' THEN 3 ELSE 4 END"
# Defence in depth for free text copied into the marts: anything shaped like a direct identifier is masked.
IDENTIFIER_PATTERNS = (
    r"[A-Z]{4}[0-9]{6}[HMX][A-Z]{5}[A-Z0-9][0-9]",  # CURP (the contract's own example is masked too)
    r"[^@\s]+@[^@\s]+\.[^@\s]+",                    # email
    r"\+?[0-9](?:[ ()-]?[0-9]){9,}",               # phone: ten digits or more, so dates stay readable
)

MART_SQL = {
    "indicator_catalog": "SELECT * FROM indicator_catalog ORDER BY code",
    "sentinel_signals": "SELECT * FROM sentinel_signals",
    "outcome_harvest_summary": """
        WITH substantiated AS (
            SELECT *, substantiation IN ('confirmed', 'partially_confirmed') AS is_substantiated FROM stg_outcomes
        ),
        by_project AS (
            SELECT theme, project_code, year(outcome_date) AS year, significance, contribution, intention, polarity,
                   count(*) AS outcomes, count(*) FILTER (WHERE is_substantiated) AS substantiated_outcomes
            FROM substantiated GROUP BY ALL
        )
        SELECT * FROM by_project
        UNION ALL
        SELECT theme, 'PORTFOLIO', year, significance, contribution, intention, polarity,
               sum(outcomes), sum(substantiated_outcomes)
        FROM by_project GROUP BY ALL
        ORDER BY theme, project_code, year, significance, contribution, intention, polarity""",
    "load_audit": "SELECT * FROM load_audit ORDER BY source, file",
}


def msc_summary_sql(threshold: int) -> str:
    """Most Significant Change stories per project, domain, year and selection level reached."""
    return f"""
        WITH stories AS (
            SELECT project_code, domain, year(story_date) AS year, {SELECTION_ORDER} AS level_rank,
                   selection_level, storyteller_type, storyteller_sex FROM stg_msc_stories
            UNION ALL
            SELECT 'PORTFOLIO', domain, year(story_date), {SELECTION_ORDER}, selection_level, storyteller_type,
                   storyteller_sex FROM stg_msc_stories
        ),
        levels AS (SELECT * FROM (VALUES (1, 'collected'), (2, 'project'), (3, 'portfolio'), (4, 'donor')) l(rank, level))
        SELECT s.project_code, s.domain, s.year, l.level AS selection_level,
               count(*) FILTER (WHERE s.level_rank >= l.rank) AS stories_reaching_level,
               count(*) AS stories_collected,
               round(100.0 * count(*) FILTER (WHERE s.level_rank >= l.rank) / count(*), 1) AS selection_rate_pct,
               -- Women storytellers are people: a count of 1 to threshold-1 is not shown, and the count is
               -- given for the portfolio only, so that no project's can be had by subtraction.
               CASE WHEN s.project_code = 'PORTFOLIO'
                     AND count(*) FILTER (WHERE s.level_rank >= l.rank AND s.storyteller_sex = 'female')
                         NOT BETWEEN 1 AND {threshold} - 1
                    THEN count(*) FILTER (WHERE s.level_rank >= l.rank AND s.storyteller_sex = 'female') END
                   AS told_by_women,
               count(DISTINCT s.storyteller_type) FILTER (WHERE s.level_rank >= l.rank) AS storyteller_types
        FROM stories s CROSS JOIN levels l
        GROUP BY s.project_code, s.domain, s.year, l.rank, l.level
        ORDER BY s.project_code, s.domain, s.year, l.rank"""


def divergence_groups_sql() -> str:
    """Each stakeholder group's answers to each survey item per project (and the portfolio) and year, shaped
    as indicator rows (sum of scores over answers) so that disclosure control treats them as it treats
    the indicators."""
    answers = " UNION ALL ".join(
        f"SELECT project_code, year(submitted_at) AS year, stakeholder_group, '{item}' AS item, "
        f"CAST({item} AS DOUBLE) AS score FROM stg_feedback WHERE {item} IS NOT NULL" for item in SURVEY_ITEMS)
    return f"""
        WITH answers AS ({answers}),
        everywhere AS (SELECT * FROM answers UNION ALL SELECT 'PORTFOLIO', year, stakeholder_group, item, score FROM answers)
        SELECT '{DIVERGENCE_CODE}' || item AS indicator_code, item, project_code, 'year' AS period_type,
               make_date(year, 1, 1) AS period_start, make_date(year, 12, 31) AS period_end,
               'stakeholder_group' AS disaggregation, stakeholder_group AS disaggregation_value, 'score' AS unit,
               sum(score ORDER BY score) AS numerator, CAST(count(*) AS DOUBLE) AS denominator,
               avg(score ORDER BY score) AS value, 'incremental' AS accumulation, true AS published
        FROM everywhere GROUP BY item, project_code, year, stakeholder_group
        ORDER BY item, project_code, year, stakeholder_group"""


# Pairwise gaps between the groups of `divergence_groups` (disclosure control applied): a hidden group
# shows neither its count nor its mean, and no gap is given against it.
STAKEHOLDER_DIVERGENCE_SQL = f"""
    SELECT a.item, a.project_code, year(a.period_start) AS year, a.disaggregation_value AS group_a,
           b.disaggregation_value AS group_b,
           CAST(CASE WHEN NOT a.suppressed THEN a.denominator END AS BIGINT) AS respondents_a,
           CAST(CASE WHEN NOT b.suppressed THEN b.denominator END AS BIGINT) AS respondents_b,
           CASE WHEN NOT (a.suppressed OR b.suppressed) THEN a.value END AS mean_a,
           CASE WHEN NOT (a.suppressed OR b.suppressed) THEN b.value END AS mean_b,
           CASE WHEN NOT (a.suppressed OR b.suppressed) THEN a.value - b.value END AS gap,
           CASE WHEN NOT (a.suppressed OR b.suppressed) THEN abs(a.value - b.value) >= {DIVERGENCE_GAP} END AS divergent,
           a.suppressed OR b.suppressed AS suppressed
    FROM divergence_groups a JOIN divergence_groups b
      ON a.item = b.item AND a.project_code = b.project_code AND a.period_start = b.period_start
     AND a.disaggregation_value < b.disaggregation_value
    ORDER BY a.item, a.project_code = 'PORTFOLIO' DESC, a.project_code, year, group_a, group_b"""


def masked_identifiers_sql(expression: str) -> str:
    """SQL for the text of `expression` with anything shaped like a direct identifier masked."""
    for pattern in IDENTIFIER_PATTERNS:
        expression = f"regexp_replace({expression}, '{pattern}', '***', 'g')"
    return expression


def rejected_rows_sql() -> str:
    """Rejected rows for the marts, with anything shaped like a direct identifier masked."""
    return (f'SELECT source, file, row_number, "column", "check", {masked_identifiers_sql("value")} AS value, '
            f"{masked_identifiers_sql('message')} AS message, severity FROM rejected_rows "
            "ORDER BY source, file, row_number")


THEME_SCORECARD_SQL = """
    WITH spans AS (
        -- Indicators' years and lives start and end on different days; the scorecard counts them per
        -- calendar year and over the whole life.
        SELECT *,
               CASE period_type WHEN 'semester' THEN period_start
                                WHEN 'year' THEN make_date(year(period_start), 1, 1) END AS span_start,
               CASE period_type WHEN 'semester' THEN period_end
                                WHEN 'year' THEN make_date(year(period_start), 12, 31) END AS span_end
        FROM mart.indicator_values WHERE disaggregation = 'total'
    ),
    statuses AS (
        SELECT theme, project_code, period_type, coalesce(span_start, min(period_start)) AS period_start,
               coalesce(span_end, max(period_end)) AS period_end,
               count(DISTINCT indicator_code) AS indicators,
               count(*) FILTER (WHERE status = 'on_track') AS on_track,
               count(*) FILTER (WHERE status = 'at_risk') AS at_risk,
               count(*) FILTER (WHERE status = 'off_track') AS off_track,
               count(*) FILTER (WHERE status = 'incomplete') AS incomplete,
               count(*) FILTER (WHERE status = 'not_reported') AS not_reported,
               count(*) FILTER (WHERE status = 'no_target') AS no_target,
               count(*) FILTER (WHERE status IS NULL) AS not_judged,
               count(*) FILTER (WHERE status = 'suppressed') AS suppressed,
               sum(periods_expected) AS periods_expected,
               sum(periods_reported) AS periods_reported
        FROM spans GROUP BY theme, project_code, period_type, span_start, span_end
    )
    SELECT s.*,
           -- Sentinel series watch the portfolio's context, not one project: they are counted on its rows only.
           CASE WHEN s.project_code = 'PORTFOLIO' THEN
               (SELECT count(*) FROM mart.sentinel_signals g
                 WHERE g.theme = s.theme AND g.signal AND g.observed_on BETWEEN s.period_start AND s.period_end)
           END AS sentinel_signals,
           (SELECT count(*) FROM stg_outcomes o
             WHERE o.theme = s.theme AND o.substantiation IN ('confirmed', 'partially_confirmed')
               AND (s.project_code = 'PORTFOLIO' OR o.project_code = s.project_code)
               AND o.outcome_date BETWEEN s.period_start AND s.period_end) AS substantiated_outcomes,
           (SELECT count(*) FROM stg_msc_stories m
             WHERE m.domain = s.theme AND (s.project_code = 'PORTFOLIO' OR m.project_code = s.project_code)
               AND m.story_date BETWEEN s.period_start AND s.period_end) AS msc_stories
    FROM statuses s
    ORDER BY theme, project_code = 'PORTFOLIO' DESC, project_code, period_type, period_start"""


def same_survey_groups(system: pd.DataFrame) -> list[tuple[int, int]]:
    """Positions of the rows that are one cell in two tables: the groups answering the item ENF-05 asks about
    are ENF-05's groups of the same project and year."""
    key = ["project_code", "period_type", "period_start", "disaggregation_value"]
    rows = system.reset_index(drop=True).reset_index()
    pairs = rows[rows["indicator_code"] == DIVERGENCE_CODE + "enforcement_improved"].merge(
        rows[rows["indicator_code"] == SAME_ANSWERS_AS_ENFORCEMENT_ITEM], on=key)
    return list(zip(pairs["index_x"], pairs["index_y"]))


def published_tables(connection: duckdb.DuckDBPyConnection, threshold: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """indicator_values within each sheet's publication levels, and the stakeholder groups of
    `stakeholder_divergence`, with disclosure control applied to both as one system of tables."""
    values = connection.execute(f"""
        SELECT v.*, c.counts_people, c.accumulation, c.publication
        FROM indicator_values v JOIN indicator_catalog c ON c.code = v.indicator_code
        ORDER BY {', '.join(KEY)}""").df()
    for column in ("numerator", "denominator", "value", "pct_of_target"):
        values[column] = pd.to_numeric(values[column]).astype("float64")
    values["published"] = published(values)
    groups = connection.execute(divergence_groups_sql()).df()
    people = values[values["counts_people"].fillna(False).astype(bool)]
    system = pd.concat([people, groups], ignore_index=True)
    hidden = suppress(system, threshold, same_survey_groups(system)).to_numpy()
    values["suppressed"] = False
    values.loc[people.index, "suppressed"] = hidden[:len(people)]
    groups["suppressed"] = hidden[len(people):]
    values = values.astype({"stock_decreased": "boolean"})  # a nullable flag, blanked with the figures
    values.loc[values["suppressed"], HIDDEN] = None
    values.loc[values["suppressed"], "status"] = "suppressed"
    kept = values[values["published"]].drop(columns=["counts_people", "accumulation", "publication", "published"])
    return kept.reset_index(drop=True), groups


def build_marts(connection: duckdb.DuckDBPyConnection, threshold: int) -> dict[str, int]:
    """Create every mart table in the attached database `mart`; returns row counts per table."""
    values, groups = published_tables(connection, threshold)
    connection.register("published_indicator_values", values)
    connection.register("divergence_groups", groups)
    # The round trip through pandas turns DATE into timestamps: give analysts dates back.
    connection.execute("CREATE TABLE mart.indicator_values AS SELECT * REPLACE (CAST(period_start AS DATE) AS "
                       "period_start, CAST(period_end AS DATE) AS period_end) FROM published_indicator_values")
    connection.unregister("published_indicator_values")
    for name, sql in MART_SQL.items():
        connection.execute(f"CREATE TABLE mart.{name} AS {sql}")
    connection.execute(f"CREATE TABLE mart.stakeholder_divergence AS {STAKEHOLDER_DIVERGENCE_SQL}")
    connection.unregister("divergence_groups")
    connection.execute(f"CREATE TABLE mart.msc_summary AS {msc_summary_sql(threshold)}")
    connection.execute(f"CREATE TABLE mart.rejected_rows AS {rejected_rows_sql()}")
    connection.execute(f"CREATE TABLE mart.theme_scorecard AS {THEME_SCORECARD_SQL}")
    tables = [row[0] for row in connection.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'mart' ORDER BY table_name").fetchall()]
    return {table: connection.execute(f"SELECT count(*) FROM mart.{table}").fetchone()[0] for table in tables}
