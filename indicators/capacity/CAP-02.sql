-- Grantee-reported counts of unions, as submitted; v_reported keeps only the latest submission of a
-- period sent twice. Wherever rows are combined the percent is recomputed from the summed counts.
SELECT project_code, period_start, period_end, disaggregation, disaggregation_value,
       numerator, denominator, pct(numerator, denominator) AS value
FROM v_reported
WHERE indicator_code = 'CAP-02'
