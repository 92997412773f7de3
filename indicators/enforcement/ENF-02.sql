-- Grantee-reported sanction rates: one row per project, period and disaggregation.
-- A period sent again in another file (a correction) keeps only its latest submission.
SELECT project_code, period_start, period_end, disaggregation, disaggregation_value,
       numerator, denominator, pct(numerator, denominator) AS value
FROM v_reported
WHERE indicator_code = 'ENF-02'
QUALIFY row_number() OVER (
    PARTITION BY project_code, period_start, period_end, disaggregation, disaggregation_value
    ORDER BY submitted_on DESC NULLS LAST, denominator DESC NULLS LAST, numerator DESC NULLS LAST) = 1
