-- RRM cases belong to no single project: rows are PORTFOLIO only, per semester in which cases started.
-- Numerator and denominator stay empty: a median is not a ratio, and a case count there would be
-- re-aggregated as if it were one.
--
-- Kaplan-Meier median with open cases right-censored at the as-of date. A case resolved after the
-- as-of date was still open on it, so it is censored there too: a run is reproducible for a fixed
-- as-of, whatever the reference file learnt later.
WITH cases AS (
    SELECT semester_start(observed_on) AS period_start, semester_end(observed_on) AS period_end, geography,
           series_code = 'rrm_days_to_resolution' AND observed_on + CAST(value AS INTEGER) <= $as_of AS resolved,
           CASE WHEN resolved THEN value ELSE date_diff('day', observed_on, $as_of) END AS days
    FROM stg_sentinel
    WHERE series_code IN ('rrm_days_to_resolution', 'rrm_cases_open') AND value IS NOT NULL
      AND observed_on <= $as_of AND list_contains($sectors, sector)
),
groups AS (
    SELECT period_start, period_end, 'total' AS disaggregation, 'total' AS disaggregation_value, days, resolved
    FROM cases
    UNION ALL
    -- A case without a state (geography 'total') counts in the total only: a 'state' row valued 'total'
    -- would be read as the total.
    SELECT period_start, period_end, 'state', geography, days, resolved FROM cases WHERE geography <> 'total'
),
times AS (
    SELECT period_start, period_end, disaggregation, disaggregation_value, days,
           count(*) FILTER (WHERE resolved) AS resolved_then, count(*) AS leaving
    FROM groups
    GROUP BY ALL
),
at_risk AS (
    -- Cases censored at a time are still at risk at it (the usual convention when times tie).
    SELECT *, sum(leaving) OVER (PARTITION BY period_start, period_end, disaggregation, disaggregation_value
                                 ORDER BY days DESC) AS at_risk
    FROM times
),
survival AS (
    -- S(t) = product over resolution times t_i <= t of (n_i - d_i) / n_i, kept as two integer products so
    -- that S(t) <= 0.5 is decided without rounding (DOUBLE holds them exactly below 2^53, i.e. for fewer
    -- than 18 resolution times in a semester).
    SELECT *, product(CAST(at_risk - resolved_then AS DOUBLE)) OVER running AS surviving_product,
           product(CAST(at_risk AS DOUBLE)) OVER running AS at_risk_product
    FROM at_risk
    WHERE resolved_then > 0
    WINDOW running AS (PARTITION BY period_start, period_end, disaggregation, disaggregation_value ORDER BY days
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
medians AS (
    SELECT period_start, period_end, disaggregation, disaggregation_value,
           min(days) FILTER (WHERE 2 * surviving_product <= at_risk_product) AS median_days
    FROM survival
    GROUP BY ALL
)
-- Every semester and state with a case in scope has a row; its value is NULL while S(t) stays above 0.5.
SELECT 'PORTFOLIO' AS project_code, g.period_start, g.period_end, g.disaggregation, g.disaggregation_value,
       NULL AS numerator, NULL AS denominator, m.median_days AS value
FROM (SELECT DISTINCT period_start, period_end, disaggregation, disaggregation_value FROM groups) g
LEFT JOIN medians m USING (period_start, period_end, disaggregation, disaggregation_value)
