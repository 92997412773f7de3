-- Per plant the employer-worker gap, and the project's and portfolio's average gap, per semester and per
-- calendar year (a year's gaps come from the year's answers: gaps of semesters do not add up).
WITH answers AS (
    -- Plant codes are typed by hand in survey forms: compare them trimmed and in upper case.
    SELECT project_code, period_start, period_end, upper(trim(plant_code)) AS plant_code, stakeholder_group,
           employer_compliance AS score
    FROM v_feedback_spans
    WHERE employer_compliance IS NOT NULL AND stakeholder_group IN ('employer', 'worker')
      AND nullif(trim(plant_code), '') IS NOT NULL
),
-- The portfolio pools every project's answers per plant: a plant surveyed by two projects is one plant,
-- with one gap.
everywhere AS (
    SELECT * FROM answers
    UNION ALL
    SELECT 'PORTFOLIO', period_start, period_end, plant_code, stakeholder_group, score FROM answers
),
-- A gap needs both sides: a plant heard from only one group is left out.
plants AS (
    SELECT project_code, period_start, period_end, plant_code,
           avg(score) FILTER (WHERE stakeholder_group = 'employer')
             - avg(score) FILTER (WHERE stakeholder_group = 'worker') AS gap,
           count(*) FILTER (WHERE stakeholder_group = 'employer') AS employer_answers,
           count(*) FILTER (WHERE stakeholder_group = 'worker') AS worker_answers
    FROM everywhere
    GROUP BY project_code, period_start, period_end, plant_code
    HAVING count(*) FILTER (WHERE stakeholder_group = 'employer') > 0
       AND count(*) FILTER (WHERE stakeholder_group = 'worker') > 0
)
-- A denominator is the smaller group's number of answers, so disclosure control hides a gap drawn from
-- a handful of people.
SELECT project_code, period_start, period_end, 'plant_code' AS disaggregation, plant_code AS disaggregation_value,
       NULL AS numerator, least(employer_answers, worker_answers) AS denominator, gap AS value
FROM plants
UNION ALL
-- Each plant weighs the same in the total, however many people answered there; the total is given once
-- both groups have the minimum number of answers over its plants. The gaps are averaged in value order,
-- so that the last bit of the mean never depends on the order rows arrive in.
SELECT project_code, period_start, period_end, 'total', 'total', NULL,
       least(sum(employer_answers), sum(worker_answers)),
       CASE WHEN least(sum(employer_answers), sum(worker_answers)) >= $min_group_size THEN avg(gap ORDER BY gap) END
FROM plants
GROUP BY project_code, period_start, period_end
