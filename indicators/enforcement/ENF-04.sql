-- Grantee-reported cumulative figures (to date at each period end).
WITH reported AS (
    SELECT project_code, period_start, period_end, disaggregation, disaggregation_value, numerator, denominator
    FROM v_reported
    WHERE indicator_code = 'ENF-04'
    -- A period sent again in another file (a correction) keeps only its latest submission.
    QUALIFY row_number() OVER (
        PARTITION BY project_code, period_start, period_end, disaggregation, disaggregation_value
        ORDER BY submitted_on DESC NULLS LAST, denominator DESC NULLS LAST, numerator DESC NULLS LAST) = 1
),
portfolio_periods AS (
    SELECT DISTINCT period_start, period_end, disaggregation, disaggregation_value FROM reported
),
-- The engine would sum only the projects that reported in a period, so a project's commitments would
-- vanish from the portfolio once it ended. Instead each project contributes its latest figures to date.
latest AS (
    SELECT p.period_start, p.period_end, p.disaggregation, p.disaggregation_value, r.numerator, r.denominator
    FROM portfolio_periods p
    JOIN reported r ON r.disaggregation = p.disaggregation AND r.disaggregation_value = p.disaggregation_value
                   AND r.period_end <= p.period_end
    QUALIFY row_number() OVER (
        PARTITION BY p.period_start, p.period_end, p.disaggregation, p.disaggregation_value, r.project_code
        ORDER BY r.period_end DESC, r.period_start DESC) = 1
)
SELECT project_code, period_start, period_end, disaggregation, disaggregation_value,
       numerator, denominator, pct(numerator, denominator) AS value
FROM reported
UNION ALL
SELECT 'PORTFOLIO', period_start, period_end, disaggregation, disaggregation_value,
       sum(numerator), sum(denominator), pct(sum(numerator), sum(denominator))
FROM latest
GROUP BY period_start, period_end, disaggregation, disaggregation_value
