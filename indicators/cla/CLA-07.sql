-- One row per project semester whose report deadline has passed: received (1) or missing (0), out of 1.
WITH expected AS (
    -- A project listed in two register files with different deadlines gets the later one.
    SELECT project_code, period_start, period_end,
           max(period_end + CAST(coalesce(report_due_days, 30) AS INTEGER)) AS due_on
    FROM v_project_semesters
    GROUP BY project_code, period_start, period_end
),
received AS (SELECT DISTINCT project_code, period_start, period_end FROM stg_indicator_reports)
SELECT e.project_code, e.period_start, e.period_end, 'total' AS disaggregation, 'total' AS disaggregation_value,
       CASE WHEN r.project_code IS NULL THEN 0 ELSE 1 END AS numerator, 1 AS denominator,
       CASE WHEN r.project_code IS NULL THEN 0.0 ELSE 100.0 END AS value
FROM expected e
LEFT JOIN received r USING (project_code, period_start, period_end)
WHERE e.due_on <= $as_of
