-- Substantiated outcomes whose social actor is a union or a worker group, per semester of the outcome;
-- every breakdown is counted from the same rows, so each one adds up to the total.
WITH substantiated AS (
    SELECT project_code, semester_start(outcome_date) AS period_start, semester_end(outcome_date) AS period_end,
           significance, contribution, intention
    FROM stg_outcomes
    WHERE actor_type IN ('union', 'worker_group') AND substantiation IN ('confirmed', 'partially_confirmed')
)
SELECT project_code, period_start, period_end, 'total' AS disaggregation, 'total' AS disaggregation_value,
       NULL AS numerator, NULL AS denominator, count(*) AS value
FROM substantiated GROUP BY ALL
UNION ALL
SELECT project_code, period_start, period_end, 'significance', significance, NULL, NULL, count(*)
FROM substantiated GROUP BY ALL
UNION ALL
SELECT project_code, period_start, period_end, 'contribution', contribution, NULL, NULL, count(*)
FROM substantiated GROUP BY ALL
UNION ALL
SELECT project_code, period_start, period_end, 'intention', intention, NULL, NULL, count(*)
FROM substantiated GROUP BY ALL
