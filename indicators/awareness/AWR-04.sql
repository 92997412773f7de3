WITH answers AS (
    SELECT project_code, period_start, period_end, coalesce(sex, 'not_recorded') AS sex, state,
           rights_known >= 3 AS knows_three
    FROM v_feedback
    WHERE stakeholder_group = 'worker' AND rights_known IS NOT NULL
    -- A worker who answered twice in a semester counts once (the latest answer); anonymous
    -- submissions, without a respondent_id, each count once.
    QUALIFY respondent_id IS NULL
         OR row_number() OVER (PARTITION BY project_code, period_start, respondent_id
                               ORDER BY submitted_at DESC, submission_id DESC) = 1
)
SELECT project_code, period_start, period_end, 'total' AS disaggregation, 'total' AS disaggregation_value,
       count(*) FILTER (WHERE knows_three) AS numerator, count(*) AS denominator,
       pct(count(*) FILTER (WHERE knows_three), count(*)) AS value
FROM answers GROUP BY ALL
UNION ALL
SELECT project_code, period_start, period_end, 'sex', sex,
       count(*) FILTER (WHERE knows_three), count(*), pct(count(*) FILTER (WHERE knows_three), count(*))
FROM answers GROUP BY ALL
UNION ALL
SELECT project_code, period_start, period_end, 'state', state,
       count(*) FILTER (WHERE knows_three), count(*), pct(count(*) FILTER (WHERE knows_three), count(*))
FROM answers GROUP BY ALL
