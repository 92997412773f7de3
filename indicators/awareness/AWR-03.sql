-- Unique people reached to date, in one pass over the contacts (not one per semester): a person
-- counts from their first contact on, once whatever the number of events, under the sex of their
-- latest record to date and once under each channel they came through.
WITH contacts AS (
    -- A pseudonym is 32 hex digits: as the 128-bit number they spell, it groups and sorts several times
    -- faster than as text, and stays one number per person.
    SELECT project_code, CAST('0x' || person_id AS UHUGEINT) AS person_id, event_date, channel, sex,
           semester_start(event_date) AS semester
    FROM stg_participants
    WHERE person_id IS NOT NULL
),
project_ends AS (SELECT project_code, max(end_date) AS end_date FROM stg_projects GROUP BY project_code),
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
scopes AS (
    SELECT project_code, period_start, period_end FROM project_semesters
    UNION ALL
    SELECT DISTINCT 'PORTFOLIO', period_start, period_end FROM project_semesters
),
-- Each person's sex on their latest record of each semester they were seen in (earliest sex on a tie).
person_semesters AS (
    SELECT project_code, person_id, semester, arg_min(sex, {'days_before': DATE '2200-01-01' - event_date, 'sex': sex}) AS sex
    FROM contacts GROUP BY ALL
    UNION ALL
    SELECT 'PORTFOLIO', person_id, semester, arg_min(sex, {'days_before': DATE '2200-01-01' - event_date, 'sex': sex})
    FROM contacts GROUP BY ALL
),
-- A person counts under that sex from that semester until the next semester they were seen in.
sex_changes AS (
    SELECT project_code, semester, sex, 1 AS change FROM person_semesters
    UNION ALL
    SELECT project_code, next_semester, sex, -1
    FROM (SELECT project_code, sex, lead(semester) OVER (PARTITION BY project_code, person_id ORDER BY semester) AS next_semester
          FROM person_semesters)
    WHERE next_semester IS NOT NULL
),
sex_deltas AS (SELECT project_code, semester, sex, sum(change) AS change FROM sex_changes GROUP BY ALL),
first_by_channel AS (
    SELECT project_code, channel, min(semester) AS semester FROM contacts GROUP BY project_code, person_id, channel
    UNION ALL
    SELECT 'PORTFOLIO', channel, min(semester) FROM contacts GROUP BY person_id, channel
),
channel_deltas AS (SELECT project_code, semester, channel, count(*) AS change FROM first_by_channel GROUP BY ALL),
by_sex AS (
    SELECT s.project_code, s.period_start, s.period_end, d.sex, sum(d.change) AS people
    FROM scopes s JOIN sex_deltas d ON d.project_code = s.project_code AND d.semester <= s.period_start
    GROUP BY ALL HAVING sum(d.change) > 0
),
by_channel AS (
    SELECT s.project_code, s.period_start, s.period_end, d.channel, sum(d.change) AS people
    FROM scopes s JOIN channel_deltas d ON d.project_code = s.project_code AND d.semester <= s.period_start
    GROUP BY ALL
)
SELECT project_code, period_start, period_end, 'total' AS disaggregation, 'total' AS disaggregation_value,
       NULL AS numerator, NULL AS denominator, sum(people) AS value
FROM by_sex GROUP BY ALL
UNION ALL
SELECT project_code, period_start, period_end, 'sex', sex, NULL, NULL, people FROM by_sex
UNION ALL
SELECT project_code, period_start, period_end, 'channel', channel, NULL, NULL, people FROM by_channel
