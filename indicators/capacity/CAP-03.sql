-- Grantee-reported index scores (0-100) in value; v_reported keeps only the latest submission of a
-- period sent twice. Rows without a score are left out rather than read as 0.
SELECT project_code, period_start, period_end, disaggregation, disaggregation_value,
       NULL AS numerator, NULL AS denominator, value
FROM v_reported
WHERE indicator_code = 'CAP-03' AND value IS NOT NULL
