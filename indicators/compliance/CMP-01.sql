-- Grantee-reported SMEs to date at each period's end. v_reported keeps only the latest submission of a
-- period sent twice; the engine carries each project's latest figures into later portfolio rows.
SELECT project_code, period_start, period_end, disaggregation, disaggregation_value,
       numerator, denominator, pct(numerator, denominator) AS value
FROM v_reported
WHERE indicator_code = 'CMP-01'
