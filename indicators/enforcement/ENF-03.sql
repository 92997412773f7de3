-- RRM cases belong to no single project: rows are PORTFOLIO only, per semester in which cases started.
-- Numerator and denominator stay empty: a median is not a ratio, and a case count there would be
-- re-aggregated as if it were one.
WITH cases AS (
    SELECT semester_start(observed_on) AS period_start, semester_end(observed_on) AS period_end,
           geography, value AS days
    FROM stg_sentinel
    WHERE series_code = 'rrm_days_to_resolution' AND value IS NOT NULL
)
SELECT 'PORTFOLIO' AS project_code, period_start, period_end, 'total' AS disaggregation,
       'total' AS disaggregation_value, NULL AS numerator, NULL AS denominator, median(days) AS value
FROM cases
GROUP BY period_start, period_end
UNION ALL
-- A case without a state (geography 'total') counts in the total only: a 'state' row valued 'total'
-- would be read as the total.
SELECT 'PORTFOLIO', period_start, period_end, 'state', geography, NULL, NULL, median(days)
FROM cases
WHERE geography <> 'total'
GROUP BY period_start, period_end, geography
