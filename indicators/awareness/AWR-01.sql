-- Grantee-reported counts, as submitted: one row per project, period and disaggregation.
SELECT project_code, period_start, period_end, disaggregation, disaggregation_value,
       NULL AS numerator, NULL AS denominator, value
FROM v_reported
WHERE indicator_code = 'AWR-01'
