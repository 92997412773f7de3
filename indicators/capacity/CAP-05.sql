-- Stories per semester of the story date; both breakdowns come from the same rows and add up to the total.
WITH stories AS (
    SELECT project_code, semester_start(story_date) AS period_start, semester_end(story_date) AS period_end,
           domain, selection_level
    FROM stg_msc_stories
)
SELECT project_code, period_start, period_end, 'total' AS disaggregation, 'total' AS disaggregation_value,
       NULL AS numerator, NULL AS denominator, count(*) AS value
FROM stories GROUP BY ALL
UNION ALL
SELECT project_code, period_start, period_end, 'domain', domain, NULL, NULL, count(*)
FROM stories GROUP BY ALL
UNION ALL
SELECT project_code, period_start, period_end, 'selection_level', selection_level, NULL, NULL, count(*)
FROM stories GROUP BY ALL
