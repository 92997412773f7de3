WITH steps AS (
    SELECT project_code, entry_date,
           -- when the step was completed: its resolution date, else the day it was logged
           CASE WHEN status = 'completed' THEN coalesce(resolved_on, entry_date) END AS completed_on
    FROM stg_cla_log
    WHERE entry_type = 'process_step' AND step_kind = 'expected'
),
project_ends AS (SELECT project_code, max(end_date) AS end_date FROM stg_projects GROUP BY project_code),
-- A cumulative series needs a row in every semester, including those in which nothing was logged,
-- from the first step to the project's end (or its last activity, if later), never beyond the as-of date.
spans AS (
    SELECT s.project_code, semester_start(min(s.entry_date)) AS first_semester,
           semester_start(least(CAST($as_of AS DATE),
                                greatest(max(s.entry_date), coalesce(max(s.completed_on), max(s.entry_date)),
                                         coalesce(max(e.end_date), max(s.entry_date))))) AS last_semester
    FROM steps s LEFT JOIN project_ends e USING (project_code)
    GROUP BY s.project_code
),
project_semesters AS (
    SELECT project_code, CAST(semester AS DATE) AS period_start, semester_end(CAST(semester AS DATE)) AS period_end
    FROM spans,
         LATERAL (SELECT unnest(generate_series(CAST(first_semester AS TIMESTAMP), CAST(last_semester AS TIMESTAMP),
                                                INTERVAL 6 MONTH)) AS semester)
),
project_rows AS (
    SELECT p.project_code, p.period_start, p.period_end,
           count(*) FILTER (WHERE s.completed_on <= p.period_end) AS numerator, count(*) AS denominator
    FROM project_semesters p
    JOIN steps s ON s.project_code = p.project_code AND s.entry_date <= p.period_end
    GROUP BY p.project_code, p.period_start, p.period_end
),
-- Summing the projects' rows of a semester would drop a project from the portfolio once it ended;
-- the portfolio counts every project's steps to date instead.
portfolio_rows AS (
    SELECT 'PORTFOLIO' AS project_code, p.period_start, p.period_end,
           count(*) FILTER (WHERE s.completed_on <= p.period_end) AS numerator, count(*) AS denominator
    FROM (SELECT DISTINCT period_start, period_end FROM project_rows) p
    JOIN steps s ON s.entry_date <= p.period_end
    GROUP BY p.period_start, p.period_end
)
SELECT project_code, period_start, period_end, 'total' AS disaggregation, 'total' AS disaggregation_value,
       numerator, denominator, pct(numerator, denominator) AS value
FROM (SELECT * FROM project_rows UNION ALL SELECT * FROM portfolio_rows)
