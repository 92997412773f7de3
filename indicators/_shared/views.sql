-- Views and macros every indicator's SQL may build on. Created in the warehouse before any
-- indicator runs; they only read staging tables (stg_*), never write.

-- The reporting calendar is semi-annual: January-June and July-December.
CREATE OR REPLACE MACRO semester_start(d) AS make_date(year(d), CASE WHEN month(d) <= 6 THEN 1 ELSE 7 END, 1);
CREATE OR REPLACE MACRO semester_end(d) AS CAST(semester_start(d) + INTERVAL 6 MONTH - INTERVAL 1 DAY AS DATE);

-- A percent from a numerator and denominator (NULL when the denominator is 0 or missing).
CREATE OR REPLACE MACRO pct(numerator, denominator) AS
    CASE WHEN denominator > 0 THEN 100.0 * numerator / denominator END;

-- Every semester overlapping each project's dates: the reports a grantee is expected to send.
CREATE OR REPLACE VIEW v_project_semesters AS
SELECT p.project_code, p.report_due_days,
       CAST(s.semester AS DATE) AS period_start, semester_end(CAST(s.semester AS DATE)) AS period_end
FROM stg_projects p,
     LATERAL (SELECT unnest(generate_series(CAST(semester_start(p.start_date) AS TIMESTAMP),
                                            CAST(p.end_date AS TIMESTAMP), INTERVAL 6 MONTH)) AS semester) s;

-- Grantee-reported values with their disaggregation spelled out: a row with sex = female and every
-- other dimension 'total' has disaggregation 'sex' and disaggregation_value 'female'; a row crossing
-- two dimensions has 'sex,state' and 'female,Querétaro'. When the same row arrives in two files (a
-- corrected resubmission), the latest submitted_on wins, then the later file name.
CREATE OR REPLACE VIEW v_reported AS
SELECT project_code, indicator_code, period_start, period_end,
       coalesce(nullif(concat_ws(',',
           CASE WHEN sex <> 'total' THEN 'sex' END,
           CASE WHEN state <> 'total' THEN 'state' END,
           CASE WHEN employer_size <> 'total' THEN 'employer_size' END,
           CASE WHEN supply_chain_tier <> 'total' THEN 'supply_chain_tier' END,
           CASE WHEN participant_type <> 'total' THEN 'participant_type' END), ''), 'total') AS disaggregation,
       coalesce(nullif(concat_ws(',',
           CASE WHEN sex <> 'total' THEN sex END,
           CASE WHEN state <> 'total' THEN state END,
           CASE WHEN employer_size <> 'total' THEN employer_size END,
           CASE WHEN supply_chain_tier <> 'total' THEN supply_chain_tier END,
           CASE WHEN participant_type <> 'total' THEN participant_type END), ''), 'total') AS disaggregation_value,
       numerator, denominator, value, submitted_on, _source_file
FROM stg_indicator_reports
QUALIFY row_number() OVER (
    PARTITION BY project_code, indicator_code, period_start, period_end, sex, state, employer_size,
                 supply_chain_tier, participant_type
    ORDER BY submitted_on DESC NULLS LAST, _source_file DESC) = 1;

-- Attendance with its semester and the knowledge-gain test: post-test >= 70 and a gain of >= 15 points.
CREATE OR REPLACE VIEW v_attendance AS
SELECT *, semester_start(event_date) AS period_start, semester_end(event_date) AS period_end,
       pre_score IS NOT NULL AND post_score IS NOT NULL AS tested,
       coalesce(post_score >= 70 AND post_score - pre_score >= 15, false) AS knowledge_gain
FROM stg_participants;

-- Survey answers with their semester.
CREATE OR REPLACE VIEW v_feedback AS
SELECT *, semester_start(CAST(submitted_at AS DATE)) AS period_start,
       semester_end(CAST(submitted_at AS DATE)) AS period_end
FROM stg_feedback;

-- Each feedback answer twice: in its semester and in its calendar year, for figures computed from groups
-- of answers (a mean, a gap) that cannot be added up from semesters into a year.
CREATE OR REPLACE VIEW v_feedback_spans AS
SELECT f.* EXCLUDE (period_start, period_end), s.period_start, s.period_end
FROM v_feedback f,
     LATERAL (VALUES (f.period_start, f.period_end),
                     (make_date(year(f.period_start), 1, 1), make_date(year(f.period_start), 12, 31))) s(period_start, period_end);

-- Substantiated outcome-harvest records (confirmed or partially confirmed), each once per breakdown:
-- the total and each of significance, contribution, intention and polarity, so every breakdown
-- counted from this view adds up to the total.
CREATE OR REPLACE VIEW v_substantiated_outcomes AS
SELECT o.project_code, o.theme, o.actor_type, semester_start(o.outcome_date) AS period_start,
       semester_end(o.outcome_date) AS period_end, b.disaggregation, b.disaggregation_value
FROM stg_outcomes o,
     LATERAL (VALUES ('total', 'total'), ('significance', o.significance), ('contribution', o.contribution),
                     ('intention', o.intention), ('polarity', o.polarity)) AS b(disaggregation, disaggregation_value)
WHERE o.substantiation IN ('confirmed', 'partially_confirmed');
