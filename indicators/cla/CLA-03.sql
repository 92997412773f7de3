WITH decisions AS (
    SELECT project_code, semester_start(entry_date) AS period_start, semester_end(entry_date) AS period_end,
           coalesce(evidence_type, 'not_recorded') AS evidence_type
    FROM stg_cla_log
    WHERE entry_type = 'reflection_decision'
)
SELECT project_code, period_start, period_end, 'total' AS disaggregation, 'total' AS disaggregation_value,
       NULL AS numerator, NULL AS denominator, count(*) AS value
FROM decisions GROUP BY ALL
UNION ALL
SELECT project_code, period_start, period_end, 'evidence_type', evidence_type, NULL, NULL, count(*)
FROM decisions GROUP BY ALL
