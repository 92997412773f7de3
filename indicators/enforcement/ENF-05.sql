-- Per-group mean scores and the gap between the extreme groups, per project and for the portfolio, per
-- semester and per calendar year (a year's means come from the year's answers).
WITH answers AS (
    SELECT project_code, period_start, period_end, stakeholder_group, enforcement_improved AS score
    FROM v_feedback_spans
    WHERE enforcement_improved IS NOT NULL
),
-- The portfolio pools every respondent: a mean of project means would weigh a project with three
-- answers like one with three hundred.
everywhere AS (
    SELECT * FROM answers
    UNION ALL
    SELECT 'PORTFOLIO', period_start, period_end, stakeholder_group, score FROM answers
),
groups AS (
    SELECT project_code, period_start, period_end, stakeholder_group,
           sum(score) AS score_sum, count(*) AS answers, avg(score) AS mean_score
    FROM everywhere
    GROUP BY project_code, period_start, period_end, stakeholder_group
)
SELECT project_code, period_start, period_end, 'stakeholder_group' AS disaggregation,
       stakeholder_group AS disaggregation_value, score_sum AS numerator, answers AS denominator,
       mean_score AS value
FROM groups
UNION ALL
-- The gap is taken between groups with the minimum number of answers, so it never rests on a handful of
-- people; one such group alone has no one to diverge from, and a gap of 0 would read as agreement, so it
-- stays empty.
SELECT project_code, period_start, period_end, 'total', 'total', NULL, NULL,
       CASE WHEN count(*) FILTER (WHERE answers >= $min_group_size) >= 2
            THEN max(mean_score) FILTER (WHERE answers >= $min_group_size)
                 - min(mean_score) FILTER (WHERE answers >= $min_group_size) END
FROM groups
GROUP BY project_code, period_start, period_end
