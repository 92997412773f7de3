-- One row per project semester with a dated report: on time (1) or late (0), out of 1.
WITH expected AS (
    -- A project listed in two register files with different deadlines gets the later one.
    SELECT project_code, period_start, period_end,
           max(period_end + CAST(coalesce(report_due_days, 30) AS INTEGER)) AS due_on
    FROM v_project_semesters
    GROUP BY project_code, period_start, period_end
),
-- A report arrives with its first row: later rows of the same period are additions or corrections.
received AS (
    SELECT project_code, period_start, period_end, min(submitted_on) AS first_submitted_on
    FROM stg_indicator_reports
    GROUP BY project_code, period_start, period_end
    HAVING min(submitted_on) IS NOT NULL
)
SELECT e.project_code, e.period_start, e.period_end, 'total' AS disaggregation, 'total' AS disaggregation_value,
       CASE WHEN r.first_submitted_on <= e.due_on THEN 1 ELSE 0 END AS numerator, 1 AS denominator,
       CASE WHEN r.first_submitted_on <= e.due_on THEN 100.0 ELSE 0.0 END AS value
FROM expected e
JOIN received r USING (project_code, period_start, period_end)
