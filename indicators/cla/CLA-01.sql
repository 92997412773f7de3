WITH items AS (
    SELECT project_code, semester_start(entry_date) AS period_start, semester_end(entry_date) AS period_end,
           coalesce(stakeholder_group, 'not_recorded') AS stakeholder_group, resolved_on,
           entry_date + CAST(coalesce(service_window_days, 30) AS INTEGER) AS window_closes
    FROM stg_cla_log
    WHERE entry_type = 'feedback_item'
),
-- An unanswered item whose window is still open has not failed yet: it is left out until it is answered
-- or its window closes, so the newest semester is not understated.
due AS (
    SELECT *, coalesce(resolved_on <= window_closes, false) AS answered_in_time
    FROM items
    WHERE window_closes <= $as_of OR resolved_on IS NOT NULL
)
SELECT project_code, period_start, period_end, 'total' AS disaggregation, 'total' AS disaggregation_value,
       count(*) FILTER (WHERE answered_in_time) AS numerator, count(*) AS denominator,
       pct(count(*) FILTER (WHERE answered_in_time), count(*)) AS value
FROM due GROUP BY ALL
UNION ALL
SELECT project_code, period_start, period_end, 'stakeholder_group', stakeholder_group,
       count(*) FILTER (WHERE answered_in_time), count(*), pct(count(*) FILTER (WHERE answered_in_time), count(*))
FROM due GROUP BY ALL
