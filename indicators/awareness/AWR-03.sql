-- Unique people reached to date: each semester counts every pseudonymous person_id seen from the
-- first contact up to the semester's end, once, whatever the number of events or channels.
WITH contacts AS (
    SELECT project_code, person_id, event_date, channel, sex
    FROM stg_participants
    WHERE person_id IS NOT NULL
),
project_ends AS (SELECT project_code, max(end_date) AS end_date FROM stg_projects GROUP BY project_code),
-- A cumulative series needs a row in every semester, including those without new contacts, from the
-- first contact to the project's end (or its last contact, if later), never beyond the as-of date.
spans AS (
    SELECT c.project_code, semester_start(min(c.event_date)) AS first_semester,
           semester_start(least(CAST($as_of AS DATE),
                                greatest(max(c.event_date), coalesce(max(e.end_date), max(c.event_date))))) AS last_semester
    FROM contacts c LEFT JOIN project_ends e USING (project_code)
    GROUP BY c.project_code
),
project_semesters AS (
    SELECT project_code, CAST(semester AS DATE) AS period_start, semester_end(CAST(semester AS DATE)) AS period_end
    FROM spans,
         LATERAL (SELECT unnest(generate_series(CAST(first_semester AS TIMESTAMP), CAST(last_semester AS TIMESTAMP),
                                                INTERVAL 6 MONTH)) AS semester)
),
-- People are de-duplicated across projects for the portfolio: its rows pool every project's contacts
-- (including projects that have ended), so a person reached by two projects counts once.
scopes AS (
    SELECT project_code, period_start, period_end FROM project_semesters
    UNION ALL
    SELECT DISTINCT 'PORTFOLIO', period_start, period_end FROM project_semesters
),
reached AS (
    SELECT s.project_code, s.period_start, s.period_end, c.person_id, c.event_date, c.channel, c.sex
    FROM scopes s
    JOIN contacts c ON (s.project_code = 'PORTFOLIO' OR c.project_code = s.project_code)
                   AND c.event_date <= s.period_end
),
-- One sex per person (the latest recorded to date), so the sex rows add up to the total even when
-- two records of the same person disagree.
people AS (
    SELECT project_code, period_start, period_end, person_id, sex
    FROM reached
    QUALIFY row_number() OVER (PARTITION BY project_code, period_start, period_end, person_id
                               ORDER BY event_date DESC, sex) = 1
)
SELECT project_code, period_start, period_end, 'total' AS disaggregation, 'total' AS disaggregation_value,
       NULL AS numerator, NULL AS denominator, count(*) AS value
FROM people GROUP BY ALL
UNION ALL
SELECT project_code, period_start, period_end, 'sex', sex, NULL, NULL, count(*)
FROM people GROUP BY ALL
UNION ALL
-- A person reached through several channels counts once in each of them.
SELECT project_code, period_start, period_end, 'channel', channel, NULL, NULL, count(DISTINCT person_id)
FROM reached GROUP BY ALL
