SELECT project_code, semester_start(entry_date) AS period_start, semester_end(entry_date) AS period_end,
       'total' AS disaggregation, 'total' AS disaggregation_value,
       NULL AS numerator, NULL AS denominator, count(*) AS value
FROM stg_cla_log
WHERE entry_type = 'process_step' AND step_kind = 'emergent'
GROUP BY ALL
