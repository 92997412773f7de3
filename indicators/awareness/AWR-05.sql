-- A context series belongs to no project: rows are PORTFOLIO only. Numerator and denominator carry the
-- sum and the number of monthly observations behind each semester's mean.
WITH observations AS (
    SELECT semester_start(observed_on) AS period_start, semester_end(observed_on) AS period_end,
           geography, value
    FROM stg_sentinel
    WHERE series_code = 'rights_inquiries_per_1000' AND value IS NOT NULL
)
-- The total is the series' own national figure, never an unweighted average of the states; a semester
-- without a national observation has no total row.
SELECT 'PORTFOLIO' AS project_code, period_start, period_end, 'total' AS disaggregation,
       'total' AS disaggregation_value, sum(value) AS numerator, count(*) AS denominator, avg(value) AS value
FROM observations
WHERE geography = 'total'
GROUP BY period_start, period_end
UNION ALL
SELECT 'PORTFOLIO', period_start, period_end, 'state', geography, sum(value), count(*), avg(value)
FROM observations
WHERE geography <> 'total'
GROUP BY period_start, period_end, geography
