WITH decisions AS (
    SELECT project_code, semester_start(entry_date) AS period_start, semester_end(entry_date) AS period_end,
           coalesce(evidence_type, 'not_recorded') AS evidence_type, status, resolved_on,
           -- the last day of the semester after the decision's own
           semester_end(semester_end(entry_date) + 1) AS deadline
    FROM stg_cla_log
    WHERE entry_type = 'reflection_decision'
),
-- Only decisions whose deadline has passed can be judged; later ones would count as failures early.
judged AS (
    SELECT *, coalesce(status = 'implemented' AND resolved_on <= deadline, false) AS taken_up
    FROM decisions
    WHERE deadline <= $as_of
)
SELECT project_code, period_start, period_end, 'total' AS disaggregation, 'total' AS disaggregation_value,
       count(*) FILTER (WHERE taken_up) AS numerator, count(*) AS denominator,
       pct(count(*) FILTER (WHERE taken_up), count(*)) AS value
FROM judged GROUP BY ALL
UNION ALL
SELECT project_code, period_start, period_end, 'evidence_type', evidence_type,
       count(*) FILTER (WHERE taken_up), count(*), pct(count(*) FILTER (WHERE taken_up), count(*))
FROM judged GROUP BY ALL
