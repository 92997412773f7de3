-- Grantee-reported counts of votes in value; v_reported keeps only the latest submission of a period
-- sent twice.
SELECT project_code, period_start, period_end, disaggregation, disaggregation_value,
       NULL AS numerator, NULL AS denominator, value
FROM v_reported
WHERE indicator_code = 'CMP-02' AND value IS NOT NULL
