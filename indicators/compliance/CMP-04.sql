-- Grantee-reported voters and eligible workers, as submitted; v_reported keeps only the latest
-- submission of a period sent twice. Wherever rows are combined turnout is recomputed from the sums.
SELECT project_code, period_start, period_end, disaggregation, disaggregation_value,
       numerator, denominator, pct(numerator, denominator) AS value
FROM v_reported
WHERE indicator_code = 'CMP-04'
