-- Each participant (linked person key) tested in a semester counts once per project: by their latest
-- attendance with both test scores in it (latest event date, then highest event id), whose sex, state
-- and participant type it also gives. The total and each disaggregation come from the same rows, so
-- the disaggregated numerators and denominators add up to the total's.
WITH tested AS (
    SELECT * FROM v_attendance WHERE tested
    QUALIFY row_number() OVER (PARTITION BY project_code, period_start, person_id
                               ORDER BY event_date DESC, event_id DESC) = 1
)
SELECT project_code, period_start, period_end, 'total' AS disaggregation, 'total' AS disaggregation_value,
       count(*) FILTER (WHERE knowledge_gain) AS numerator, count(*) AS denominator, NULL AS value
FROM tested GROUP BY ALL
UNION ALL
SELECT project_code, period_start, period_end, 'sex', sex,
       count(*) FILTER (WHERE knowledge_gain), count(*), NULL
FROM tested GROUP BY ALL
UNION ALL
SELECT project_code, period_start, period_end, 'state', state,
       count(*) FILTER (WHERE knowledge_gain), count(*), NULL
FROM tested GROUP BY ALL
UNION ALL
SELECT project_code, period_start, period_end, 'participant_type', participant_type,
       count(*) FILTER (WHERE knowledge_gain), count(*), NULL
FROM tested GROUP BY ALL
