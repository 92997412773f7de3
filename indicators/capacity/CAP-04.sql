-- Substantiated outcomes whose social actor is a union or a worker group, per semester of the outcome,
-- by significance, contribution and intention (each breakdown adds up to the total).
SELECT project_code, period_start, period_end, disaggregation, disaggregation_value,
       NULL AS numerator, NULL AS denominator, count(*) AS value
FROM v_substantiated_outcomes
WHERE actor_type IN ('union', 'worker_group') AND disaggregation <> 'polarity'
GROUP BY ALL
