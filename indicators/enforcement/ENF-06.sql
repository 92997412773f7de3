-- Substantiated enforcement outcomes per semester of the outcome, by significance, contribution, intention
-- and polarity (each breakdown adds up to the total; see v_substantiated_outcomes).
SELECT project_code, period_start, period_end, disaggregation, disaggregation_value,
       NULL AS numerator, NULL AS denominator, count(*) AS value
FROM v_substantiated_outcomes
WHERE theme = 'enforcement'
GROUP BY ALL
