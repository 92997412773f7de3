-- The floor: the pipeline's staging work written by hand as plain DuckDB SQL, run by floor.py.
--
-- Each `-- step: NAME` section is timed on its own. floor.py fills in three kinds of marker before
-- running a section: {{<source>}} becomes the source's files as one relation (every CSV scanned by
-- `csv_rows`, every Excel or IATI file read to text by the pipeline's readers, unioned by column
-- name), {{as_of}} the run's as-of date, and {{hmac_inner}} / {{hmac_outer}} the HMAC key pads in hex.
-- The vocabularies (spelling -> code) arrive as the table `vocabulary`, the files and their hashes as
-- `raw_files`, and the indicator catalogue as `indicator_catalog`.
--
-- Per source: `typed` holds every row parsed (identifiers only as check results and a pseudonym),
-- `failures` one row per failed check, the source's staging table the rows without any, and
-- `rows_read` the per-file counts that become `load_audit`. Checks, messages and staged columns
-- follow the data contract (docs/data-contract.md); the SQL is written here, not generated from it.

-- step: setup
CREATE TABLE rejected_rows (
    source VARCHAR NOT NULL, file VARCHAR NOT NULL, row_number BIGINT, "column" VARCHAR, "check" VARCHAR NOT NULL,
    value VARCHAR, message VARCHAR NOT NULL, severity VARCHAR NOT NULL);
CREATE TABLE rows_read (source VARCHAR, file VARCHAR, rows_read BIGINT);
CREATE TEMP TABLE vocab AS
    SELECT domain, map(list(spelling), list(code)) AS spellings, list(DISTINCT code ORDER BY code) AS codes
    FROM vocabulary GROUP BY domain;

-- Every cell as text, numbered as a spreadsheet numbers rows (the header is row 1).
CREATE MACRO csv_rows(path, relative_path) AS TABLE
    SELECT relative_path AS _source_file, row_number() OVER () + 1 AS _row_number, *
    FROM read_csv(path, all_varchar = true, header = true);

-- No marker is longer than 9 characters: longer cells skip the IN list.
CREATE MACRO clean(v) AS
    CASE WHEN length(trim(v)) > 9 THEN trim(v)
         WHEN lower(trim(v)) IN ('', 'n/a', 'na', 'n.a.', 'n/d', 'nd', '-', '--', 'null', 'none', 's/d',
                                 'sin dato', 'sin datos') THEN NULL ELSE trim(v) END;
CREATE MACRO norm(v) AS trim(regexp_replace(lower(strip_accents(v)), '[\s_-]+', ' ', 'g'));
CREATE MACRO to_code(domain_name, v) AS coalesce((SELECT spellings FROM vocab WHERE domain = domain_name)[norm(v)], v);
CREATE MACRO known_code(domain_name, v) AS list_contains((SELECT codes FROM vocab WHERE domain = domain_name), v);
CREATE MACRO to_date(v) AS
    CASE WHEN regexp_full_match(v, '[0-9]{4}-[0-9]{2}-[0-9]{2}([ T].*)?') THEN TRY_CAST(left(v, 10) AS DATE)
         WHEN regexp_full_match(v, '[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}') THEN CAST(try_strptime(v, '%d/%m/%Y') AS DATE) END;
CREATE MACRO to_timestamp(v) AS CAST(TRY_CAST(v AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP);
-- Survey tools write the submission time in UTC; it is published in Mexico City time (a bare date stays as it is).
CREATE MACRO to_local_time(v) AS
    CASE WHEN length(v) > 10 THEN CAST(timezone('America/Mexico_City', TRY_CAST(v AS TIMESTAMPTZ)) AS TIMESTAMP)
         ELSE to_timestamp(v) END;
CREATE MACRO plain_number(v) AS
    CASE WHEN regexp_full_match(v, '[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?') THEN replace(v, ',', '') ELSE v END;
CREATE MACRO to_number(v) AS
    CASE WHEN isfinite(TRY_CAST(plain_number(v) AS DOUBLE)) THEN TRY_CAST(plain_number(v) AS DOUBLE) END;
CREATE MACRO to_integer(v) AS
    CASE WHEN regexp_full_match(plain_number(v), '[+-]?[0-9]+(\.0+)?') THEN TRY_CAST(TRY_CAST(plain_number(v) AS DOUBLE) AS BIGINT) END;
-- A select-multiple answer ("libertad_sindical voto_secreto") counts the options chosen.
CREATE MACRO to_selections(v) AS
    CASE WHEN regexp_full_match(v, '[0-9]+') THEN TRY_CAST(v AS BIGINT)
         WHEN regexp_full_match(v, '[A-Za-z_][A-Za-z0-9_]*( +[A-Za-z_][A-Za-z0-9_]*)*')
         THEN len(string_split(regexp_replace(v, ' +', ' ', 'g'), ' ')) END;
CREATE MACRO to_boolean(v) AS
    CASE WHEN norm(v) IN ('yes', 'y', 'si', 's', 'true', 'verdadero', '1', 'x') THEN true
         WHEN norm(v) IN ('no', 'n', 'false', 'falso', '0') THEN false END;
-- HMAC-SHA256 (RFC 2104) of 'kind:normalised identifier', 32 hex characters, as mel_pipeline.staging.validation.
CREATE MACRO pseudonym(message) AS
    left(sha256(unhex('{{hmac_outer}}') || unhex(sha256(unhex('{{hmac_inner}}') || encode(message)))), 32);
CREATE MACRO shown(v) AS regexp_replace(CAST(v AS VARCHAR), '\.0$', '');

-- One failed check; NULL when the condition does not hold (or cannot be judged).
CREATE MACRO fail(failed, col, chk, val, msg) AS
    CASE WHEN coalesce(failed, false) THEN {'column': col, 'check': chk, 'value': CAST(val AS VARCHAR), 'message': msg} END;
CREATE MACRO required(text, col) AS fail(text IS NULL, col, 'not_nullable', NULL, col || ' is required but empty');
CREATE MACRO parses(text, typed, col, what) AS
    fail(text IS NOT NULL AND typed IS NULL, col, 'dtype', text, '''' || text || ''' is not ' || what);
CREATE MACRO allowed(v, col, domain_name) AS
    fail(v IS NOT NULL AND NOT known_code(domain_name, v), col, 'isin', v, '''' || v || ''' is not an allowed ' || col);
CREATE MACRO matches(v, col, pattern, hint) AS
    fail(v IS NOT NULL AND NOT regexp_matches(v, pattern), col, 'str_matches', v, '''' || v || ''' does not look like ' || hint);
CREATE MACRO sized(v, col, low, high) AS
    fail(length(v) < low OR length(v) > high, col, 'str_length', v,
         col || ' is ' || length(v) || ' characters long; expected ' || low || ' to ' || high);
CREATE MACRO not_before(v, col, low) AS
    fail(v < low, col, 'greater_than_or_equal_to', v, shown(v) || ' is before the earliest allowed date ' || low);
CREATE MACRO not_after(v, col, high) AS
    fail(v > high, col, 'less_than_or_equal_to', v,
         shown(v) || ' is after the latest allowed date ' || high || ' (dates in the future are not accepted)');
CREATE MACRO at_least(v, col, low) AS fail(v < low, col, 'greater_than_or_equal_to', v, shown(v) || ' is below the minimum ' || low);
CREATE MACRO in_range(v, col, low, high) AS
    fail(v < low OR v > high, col, 'in_range', v, shown(v) || ' is outside the range ' || low || ' to ' || high);
CREATE MACRO ordered(a, a_name, op, b, b_name) AS
    fail(CASE op WHEN '<' THEN a >= b ELSE a > b END, a_name, 'column_compare', shown(a) || ' vs ' || shown(b),
         a_name || ' (' || shown(a) || ') must be ' || op || ' ' || b_name || ' (' || shown(b) || ')');
-- An identifier's value never appears in a message.
CREATE MACRO identifier_matches(bad, col, hint) AS fail(bad, col, 'str_matches', '***', col || ' does not look like ' || hint);
CREATE MACRO unknown_project(v) AS
    fail(v IS NOT NULL AND v NOT IN (SELECT project_code FROM stg_projects), 'project_code', 'reference', v,
         '''' || v || ''' is not in the projects register');
CREATE MACRO duplicate_key(col, names, copies, first_row) AS
    fail(copies > 1, col, 'unique', NULL,
         'duplicate key (' || names || '): appears ' || copies || ' times in this file, first at row ' || first_row);

CREATE TEMP TABLE failures (file VARCHAR, row_number BIGINT, f STRUCT("column" VARCHAR, "check" VARCHAR, value VARCHAR, message VARCHAR));

-- Moves one source's failures to rejected_rows and counts its rows per file.
CREATE MACRO failed_rows(source_name) AS TABLE
    SELECT source_name, file, row_number, f."column", f."check", left(f.value, 200), left(f.message, 1000), 'row'
    FROM failures;

-- step: projects
CREATE TEMP TABLE projects_columns (
    _source_file VARCHAR, _row_number BIGINT, project_code VARCHAR, codigo_proyecto VARCHAR, title VARCHAR, titulo VARCHAR,
    short_name VARCHAR, nombre_corto VARCHAR, grantee VARCHAR, organizacion VARCHAR, start_date VARCHAR,
    fecha_inicio VARCHAR, end_date VARCHAR, fecha_fin VARCHAR, budget_usd VARCHAR, presupuesto_usd VARCHAR,
    themes VARCHAR, temas VARCHAR, report_due_days VARCHAR, dias_entrega VARCHAR, source_url VARCHAR, fuente VARCHAR);
CREATE OR REPLACE TEMP TABLE typed AS
SELECT _source_file, _row_number, upper(project_code) AS project_code, title, short_name, grantee,
       start_date_text, to_date(start_date_text) AS start_date, end_date_text, to_date(end_date_text) AS end_date,
       budget_usd_text, to_number(budget_usd_text) AS budget_usd, themes,
       report_due_days_text, to_integer(report_due_days_text) AS report_due_days, source_url
FROM (
    SELECT _source_file, _row_number, clean(coalesce(project_code, codigo_proyecto)) AS project_code,
           clean(coalesce(title, titulo)) AS title, clean(coalesce(short_name, nombre_corto)) AS short_name,
           clean(coalesce(grantee, organizacion)) AS grantee, clean(coalesce(start_date, fecha_inicio)) AS start_date_text,
           clean(coalesce(end_date, fecha_fin)) AS end_date_text, clean(coalesce(budget_usd, presupuesto_usd)) AS budget_usd_text,
           clean(coalesce(themes, temas)) AS themes,
           coalesce(clean(coalesce(report_due_days, dias_entrega)), '30') AS report_due_days_text,
           clean(coalesce(source_url, fuente)) AS source_url
    FROM {{projects}});
INSERT INTO failures
SELECT * FROM (SELECT _source_file, _row_number, unnest([
    required(project_code, 'project_code'),
    matches(project_code, 'project_code', '^[A-Z0-9][A-Z0-9-]{1,31}$', 'a project code (capital letters, digits and ''-'', e.g. CALLE)'),
    required(title, 'title'), sized(title, 'title', 3, 300),
    required(grantee, 'grantee'),
    required(start_date_text, 'start_date'), parses(start_date_text, start_date, 'start_date', 'a date (YYYY-MM-DD or DD/MM/YYYY)'),
    not_before(start_date, 'start_date', DATE '2015-01-01'),
    required(end_date_text, 'end_date'), parses(end_date_text, end_date, 'end_date', 'a date (YYYY-MM-DD or DD/MM/YYYY)'),
    parses(budget_usd_text, budget_usd, 'budget_usd', 'a number'), at_least(budget_usd, 'budget_usd', 0),
    required(themes, 'themes'),
    matches(themes, 'themes', '^(awareness|capacity|enforcement|compliance|cla)(;(awareness|capacity|enforcement|compliance|cla))*$',
            'theme codes separated by '';'''),
    parses(report_due_days_text, report_due_days, 'report_due_days', 'a whole number'),
    in_range(report_due_days, 'report_due_days', 0, 365),
    ordered(start_date, 'start_date', '<=', end_date, 'end_date'),
    duplicate_key('project_code', 'project_code', count(*) OVER (PARTITION BY _source_file, project_code),
                  min(_row_number) OVER (PARTITION BY _source_file, project_code))]) AS f
FROM typed) WHERE f IS NOT NULL;
INSERT INTO rejected_rows SELECT * FROM failed_rows('projects');
CREATE TABLE stg_projects AS
SELECT project_code, title, short_name, grantee, start_date, end_date, budget_usd, themes, report_due_days, source_url,
       _source_file, _row_number
FROM typed t ANTI JOIN failures f ON f.file = t._source_file AND f.row_number = t._row_number;
INSERT INTO rows_read SELECT 'projects', _source_file, count(*) FROM typed GROUP BY ALL;
DELETE FROM failures;

-- step: indicator_reports
CREATE TEMP TABLE indicator_reports_columns (
    _source_file VARCHAR, _row_number BIGINT, project_code VARCHAR, proyecto VARCHAR, indicator_code VARCHAR,
    codigo_indicador VARCHAR, period_start VARCHAR, periodo_inicio VARCHAR, period_end VARCHAR, periodo_fin VARCHAR,
    sex VARCHAR, sexo VARCHAR, state VARCHAR, estado VARCHAR, employer_size VARCHAR, tamano_empresa VARCHAR,
    supply_chain_tier VARCHAR, nivel_cadena VARCHAR, participant_type VARCHAR, tipo_participante VARCHAR,
    numerator VARCHAR, numerador VARCHAR, denominator VARCHAR, denominador VARCHAR, value VARCHAR, valor VARCHAR,
    submitted_on VARCHAR, fecha_entrega VARCHAR, notes VARCHAR, notas VARCHAR);
CREATE OR REPLACE TEMP TABLE typed AS
SELECT _source_file, _row_number, upper(project_code) AS project_code, upper(indicator_code) AS indicator_code,
       period_start_text, to_date(period_start_text) AS period_start, period_end_text, to_date(period_end_text) AS period_end,
       to_code('sex_or_total', sex) AS sex, to_code('state_or_total', state) AS state,
       to_code('employer_size', employer_size) AS employer_size, to_code('supply_chain_tier', supply_chain_tier) AS supply_chain_tier,
       to_code('participant_type_or_total', participant_type) AS participant_type,
       numerator_text, to_number(numerator_text) AS numerator, denominator_text, to_number(denominator_text) AS denominator,
       value_text, to_number(value_text) AS value, submitted_on_text, to_date(submitted_on_text) AS submitted_on, notes
FROM (
    SELECT _source_file, _row_number, clean(coalesce(project_code, proyecto)) AS project_code,
           clean(coalesce(indicator_code, codigo_indicador)) AS indicator_code,
           clean(coalesce(period_start, periodo_inicio)) AS period_start_text,
           clean(coalesce(period_end, periodo_fin)) AS period_end_text,
           coalesce(clean(coalesce(sex, sexo)), 'total') AS sex, coalesce(clean(coalesce(state, estado)), 'total') AS state,
           coalesce(clean(coalesce(employer_size, tamano_empresa)), 'total') AS employer_size,
           coalesce(clean(coalesce(supply_chain_tier, nivel_cadena)), 'total') AS supply_chain_tier,
           coalesce(clean(coalesce(participant_type, tipo_participante)), 'total') AS participant_type,
           clean(coalesce(numerator, numerador)) AS numerator_text, clean(coalesce(denominator, denominador)) AS denominator_text,
           clean(coalesce(value, valor)) AS value_text, clean(coalesce(submitted_on, fecha_entrega)) AS submitted_on_text,
           clean(coalesce(notes, notas)) AS notes
    FROM {{indicator_reports}});
INSERT INTO failures
SELECT * FROM (SELECT _source_file, _row_number, unnest([
    required(project_code, 'project_code'),
    matches(project_code, 'project_code', '^[A-Z0-9][A-Z0-9-]{1,31}$', 'a project code (capital letters, digits and ''-'', e.g. CALLE)'),
    required(indicator_code, 'indicator_code'),
    matches(indicator_code, 'indicator_code', '^[A-Z]{3}-[0-9]{2}$', 'an indicator code such as AWR-01'),
    required(period_start_text, 'period_start'),
    parses(period_start_text, period_start, 'period_start', 'a date (YYYY-MM-DD or DD/MM/YYYY)'),
    not_before(period_start, 'period_start', DATE '2015-01-01'),
    required(period_end_text, 'period_end'), parses(period_end_text, period_end, 'period_end', 'a date (YYYY-MM-DD or DD/MM/YYYY)'),
    not_after(period_end, 'period_end', DATE '{{as_of}}'),
    allowed(sex, 'sex', 'sex_or_total'), allowed(state, 'state', 'state_or_total'),
    allowed(employer_size, 'employer_size', 'employer_size'), allowed(supply_chain_tier, 'supply_chain_tier', 'supply_chain_tier'),
    allowed(participant_type, 'participant_type', 'participant_type_or_total'),
    parses(numerator_text, numerator, 'numerator', 'a number'), at_least(numerator, 'numerator', 0),
    parses(denominator_text, denominator, 'denominator', 'a number'), at_least(denominator, 'denominator', 0),
    parses(value_text, value, 'value', 'a number'), at_least(value, 'value', 0),
    parses(submitted_on_text, submitted_on, 'submitted_on', 'a date (YYYY-MM-DD or DD/MM/YYYY)'),
    not_after(submitted_on, 'submitted_on', DATE '{{as_of}}'),
    ordered(period_start, 'period_start', '<', period_end, 'period_end'),
    ordered(numerator, 'numerator', '<=', denominator, 'denominator'),
    fail(value IS NULL AND numerator IS NULL, 'value', 'any_present', NULL, 'at least one of value, numerator must be given'),
    duplicate_key('project_code', 'project_code, indicator_code, period_start, period_end, sex, state, employer_size, supply_chain_tier, participant_type',
                  count(*) OVER report_key, min(_row_number) OVER report_key),
    unknown_project(project_code),
    fail(indicator_code IS NOT NULL AND indicator_code NOT IN (SELECT code FROM indicator_catalog WHERE reported_by_grantees),
         'indicator_code', 'reference', indicator_code,
         '''' || indicator_code || ''' is not in the indicator catalogue (indicators grantees report)')]) AS f
FROM typed
WINDOW report_key AS (PARTITION BY _source_file, project_code, indicator_code, period_start, period_end, sex, state,
                                   employer_size, supply_chain_tier, participant_type)) WHERE f IS NOT NULL;
-- Rules that look rows up in the registers.
INSERT INTO failures
SELECT t._source_file, t._row_number,
       fail(true,
            'period_start', 'within_project_dates', t.period_start,
            'dates ' || t.period_start || ' to ' || t.period_end || ' fall outside project ' || t.project_code
            || '''s dates (' || p.start_date || ' to ' || p.end_date || ')')
FROM typed t JOIN stg_projects p ON p.project_code = t.project_code
WHERE t.period_end < p.start_date OR t.period_start > p.end_date
UNION ALL
SELECT t._source_file, t._row_number,
       fail(true, 'numerator', 'rate_parts', NULL,
            t.indicator_code || ' is a percentage: give its numerator and denominator, not only a value')
FROM typed t JOIN indicator_catalog c ON c.code = t.indicator_code
WHERE c.unit = 'percent' AND (t.numerator IS NULL OR t.denominator IS NULL);
INSERT INTO rejected_rows SELECT * FROM failed_rows('indicator_reports');
CREATE TABLE stg_indicator_reports AS
SELECT project_code, indicator_code, period_start, period_end, sex, state, employer_size, supply_chain_tier,
       participant_type, numerator, denominator, value, submitted_on, notes, _source_file, _row_number
FROM typed t ANTI JOIN failures f ON f.file = t._source_file AND f.row_number = t._row_number;
INSERT INTO rows_read SELECT 'indicator_reports', _source_file, count(*) FROM typed GROUP BY ALL;
DELETE FROM failures;

-- step: targets
CREATE TEMP TABLE targets_columns (
    _source_file VARCHAR, _row_number BIGINT, project_code VARCHAR, indicator_code VARCHAR, period_start VARCHAR,
    period_end VARCHAR, baseline VARCHAR, linea_base VARCHAR, target VARCHAR, meta VARCHAR, notes VARCHAR);
CREATE OR REPLACE TEMP TABLE typed AS
SELECT _source_file, _row_number, upper(project_code) AS project_code, upper(indicator_code) AS indicator_code,
       period_start_text, to_date(period_start_text) AS period_start, period_end_text, to_date(period_end_text) AS period_end,
       baseline_text, to_number(baseline_text) AS baseline, target_text, to_number(target_text) AS target, notes
FROM (
    SELECT _source_file, _row_number, clean(project_code) AS project_code, clean(indicator_code) AS indicator_code,
           clean(period_start) AS period_start_text, clean(period_end) AS period_end_text,
           clean(coalesce(baseline, linea_base)) AS baseline_text, clean(coalesce(target, meta)) AS target_text,
           clean(notes) AS notes
    FROM {{targets}});
INSERT INTO failures
SELECT * FROM (SELECT _source_file, _row_number, unnest([
    required(project_code, 'project_code'),
    matches(project_code, 'project_code', '^[A-Z0-9][A-Z0-9-]{1,31}$', 'a project code (capital letters, digits and ''-'', e.g. CALLE)'),
    required(indicator_code, 'indicator_code'),
    matches(indicator_code, 'indicator_code', '^[A-Z]{3}-[0-9]{2}$', 'an indicator code such as AWR-01'),
    required(period_start_text, 'period_start'),
    parses(period_start_text, period_start, 'period_start', 'a date (YYYY-MM-DD or DD/MM/YYYY)'),
    not_before(period_start, 'period_start', DATE '2015-01-01'),
    required(period_end_text, 'period_end'), parses(period_end_text, period_end, 'period_end', 'a date (YYYY-MM-DD or DD/MM/YYYY)'),
    parses(baseline_text, baseline, 'baseline', 'a number'),
    required(target_text, 'target'), parses(target_text, target, 'target', 'a number'), at_least(target, 'target', 0),
    ordered(period_start, 'period_start', '<', period_end, 'period_end'),
    duplicate_key('project_code', 'project_code, indicator_code, period_start, period_end',
                  count(*) OVER target_key, min(_row_number) OVER target_key),
    unknown_project(project_code),
    fail(indicator_code IS NOT NULL AND indicator_code NOT IN (SELECT code FROM indicator_catalog),
         'indicator_code', 'reference', indicator_code, '''' || indicator_code || ''' is not in the indicator catalogue')]) AS f
FROM typed
WINDOW target_key AS (PARTITION BY _source_file, project_code, indicator_code, period_start, period_end)) WHERE f IS NOT NULL;
INSERT INTO rejected_rows SELECT * FROM failed_rows('targets');
CREATE TABLE stg_targets AS
SELECT project_code, indicator_code, period_start, period_end, baseline, target, notes, _source_file, _row_number
FROM typed t ANTI JOIN failures f ON f.file = t._source_file AND f.row_number = t._row_number;
INSERT INTO rows_read SELECT 'targets', _source_file, count(*) FROM typed GROUP BY ALL;
DELETE FROM failures;

-- step: participants
CREATE TEMP TABLE participants_columns (
    _source_file VARCHAR, _row_number BIGINT, project_code VARCHAR, proyecto VARCHAR, event_id VARCHAR, id_evento VARCHAR,
    event_date VARCHAR, fecha_evento VARCHAR, channel VARCHAR, canal VARCHAR, full_name VARCHAR, nombre_completo VARCHAR,
    curp VARCHAR, phone VARCHAR, telefono VARCHAR, email VARCHAR, correo VARCHAR, sex VARCHAR, sexo VARCHAR,
    age VARCHAR, edad VARCHAR, state VARCHAR, estado VARCHAR, participant_type VARCHAR, tipo_participante VARCHAR,
    pre_score VARCHAR, puntaje_pre VARCHAR, post_score VARCHAR, puntaje_post VARCHAR);
-- Numbering rows keeps a scan on one thread: the text is numbered once, then parsed on every thread.
CREATE TEMP TABLE participants_text AS SELECT * FROM {{participants}};
-- Identifiers are read only here: checked, hashed into person_id and one pseudonym each (linked after
-- staging, benchmarks/person_keys.py), and dropped.
CREATE OR REPLACE TEMP TABLE typed AS
SELECT _source_file, _row_number, upper(project_code) AS project_code, event_id,
       event_date_text, to_date(event_date_text) AS event_date, to_code('channel', channel) AS channel,
       to_code('sex', sex) AS sex, age_text, to_integer(age_text) AS age, to_code('state', state) AS state,
       to_code('participant_type', participant_type) AS participant_type,
       pre_score_text, to_number(pre_score_text) AS pre_score, post_score_text, to_number(post_score_text) AS post_score,
       NOT regexp_matches(curp, '^[A-Z]{4}[0-9]{6}[HMX][A-Z]{5}[A-Z0-9][0-9]$') AS bad_curp,
       NOT regexp_matches(phone, '^\+?[0-9 ()-]{8,20}$') AS bad_phone,
       NOT regexp_matches(email, '^[^@\s]+@[^@\s]+\.[^@\s]+$') AS bad_email,
       coalesce(curp, email, phone, full_name) IS NULL AS no_identifier,
       pseudonym(coalesce('curp:' || upper(curp), 'email:' || lower(email),
                          'phone:' || right(regexp_replace(phone, '[^0-9]', '', 'g'), 10), 'name:' || norm(full_name))) AS person_id,
       pseudonym('curp:' || upper(curp)) AS curp_id, pseudonym('email:' || lower(email)) AS email_id,
       pseudonym('phone:' || right(regexp_replace(phone, '[^0-9]', '', 'g'), 10)) AS phone_id
FROM (
    SELECT _source_file, _row_number, clean(coalesce(project_code, proyecto)) AS project_code,
           clean(coalesce(event_id, id_evento)) AS event_id, clean(coalesce(event_date, fecha_evento)) AS event_date_text,
           clean(coalesce(channel, canal)) AS channel, clean(coalesce(full_name, nombre_completo)) AS full_name,
           clean(curp) AS curp, clean(coalesce(phone, telefono)) AS phone, clean(coalesce(email, correo)) AS email,
           clean(coalesce(sex, sexo)) AS sex, clean(coalesce(age, edad)) AS age_text, clean(coalesce(state, estado)) AS state,
           clean(coalesce(participant_type, tipo_participante)) AS participant_type,
           clean(coalesce(pre_score, puntaje_pre)) AS pre_score_text, clean(coalesce(post_score, puntaje_post)) AS post_score_text
    FROM participants_text);
DROP TABLE participants_text;
INSERT INTO failures
SELECT * FROM (SELECT _source_file, _row_number, unnest([
    required(project_code, 'project_code'),
    matches(project_code, 'project_code', '^[A-Z0-9][A-Z0-9-]{1,31}$', 'a project code (capital letters, digits and ''-'', e.g. CALLE)'),
    required(event_id, 'event_id'), sized(event_id, 'event_id', 1, 64),
    required(event_date_text, 'event_date'), parses(event_date_text, event_date, 'event_date', 'a date (YYYY-MM-DD or DD/MM/YYYY)'),
    not_before(event_date, 'event_date', DATE '2015-01-01'), not_after(event_date, 'event_date', DATE '{{as_of}}'),
    required(channel, 'channel'), allowed(channel, 'channel', 'channel'),
    identifier_matches(bad_curp, 'curp', 'a CURP (18 characters: 4 letters, 6 digits of birth date, H/M/X, 5 letters, 1 letter or digit, 1 digit)'),
    identifier_matches(bad_phone, 'phone', 'a phone number (8 to 20 digits, spaces, +, - or brackets)'),
    identifier_matches(bad_email, 'email', 'an email address'),
    required(sex, 'sex'), allowed(sex, 'sex', 'sex'),
    parses(age_text, age, 'age', 'a whole number'), in_range(age, 'age', 14, 100),
    required(state, 'state'), allowed(state, 'state', 'state'),
    required(participant_type, 'participant_type'), allowed(participant_type, 'participant_type', 'participant_type'),
    parses(pre_score_text, pre_score, 'pre_score', 'a number'), in_range(pre_score, 'pre_score', 0, 100),
    parses(post_score_text, post_score, 'post_score', 'a number'), in_range(post_score, 'post_score', 0, 100),
    fail(no_identifier, 'curp', 'any_present', NULL, 'at least one of curp, email, phone, full_name must be given'),
    unknown_project(project_code)]) AS f
FROM typed) WHERE f IS NOT NULL;
-- The key is checked over the key columns alone: a window carrying every parsed column spills at 10M rows.
INSERT INTO failures
SELECT _source_file, _row_number, duplicate_key('project_code', 'project_code, event_id, person_id', copies, first_row)
FROM (SELECT _source_file, _row_number, count(*) OVER attendance AS copies, min(_row_number) OVER attendance AS first_row
      FROM typed WINDOW attendance AS (PARTITION BY _source_file, project_code, event_id, person_id))
WHERE copies > 1;
INSERT INTO failures
SELECT t._source_file, t._row_number,
       fail(true, 'event_date', 'within_project_dates', t.event_date,
            'dates ' || t.event_date || ' fall outside project ' || t.project_code || '''s dates ('
            || p.start_date || ' to ' || p.end_date || ')')
FROM typed t JOIN stg_projects p ON p.project_code = t.project_code
WHERE t.event_date < p.start_date OR t.event_date > p.end_date;
INSERT INTO rejected_rows SELECT * FROM failed_rows('participants');
CREATE TABLE stg_participants AS
SELECT project_code, event_id, event_date, channel, sex, age, state, participant_type, pre_score, post_score, person_id,
       curp_id, email_id, phone_id, _source_file, _row_number
FROM typed t ANTI JOIN failures f ON f.file = t._source_file AND f.row_number = t._row_number;
INSERT INTO rows_read SELECT 'participants', _source_file, count(*) FROM typed GROUP BY ALL;
DELETE FROM failures;

-- step: outcomes
CREATE TEMP TABLE outcomes_columns (
    _source_file VARCHAR, _row_number BIGINT, outcome_id VARCHAR, project_code VARCHAR, theme VARCHAR, description VARCHAR,
    social_actor VARCHAR, actor_type VARCHAR, change_agent VARCHAR, outcome_date VARCHAR, state VARCHAR,
    significance VARCHAR, contribution VARCHAR, polarity VARCHAR, intention VARCHAR, source VARCHAR,
    substantiator VARCHAR, substantiation VARCHAR);
CREATE OR REPLACE TEMP TABLE typed AS
SELECT _source_file, _row_number, outcome_id, upper(project_code) AS project_code, to_code('theme', theme) AS theme,
       description, social_actor, to_code('actor_type', actor_type) AS actor_type, change_agent,
       outcome_date_text, to_date(outcome_date_text) AS outcome_date, to_code('state_or_total', state) AS state,
       to_code('significance', significance) AS significance, to_code('contribution', contribution) AS contribution,
       to_code('polarity', polarity) AS polarity, to_code('intention', intention) AS intention, source, substantiator,
       to_code('substantiation', substantiation) AS substantiation
FROM (
    SELECT _source_file, _row_number, clean(outcome_id) AS outcome_id, clean(project_code) AS project_code,
           clean(theme) AS theme, clean(description) AS description, clean(social_actor) AS social_actor,
           clean(actor_type) AS actor_type, clean(change_agent) AS change_agent, clean(outcome_date) AS outcome_date_text,
           clean(state) AS state, clean(significance) AS significance, clean(contribution) AS contribution,
           clean(polarity) AS polarity, clean(intention) AS intention, clean(source) AS source,
           clean(substantiator) AS substantiator, clean(substantiation) AS substantiation
    FROM {{outcomes}});
INSERT INTO failures
SELECT * FROM (SELECT _source_file, _row_number, unnest([
    required(outcome_id, 'outcome_id'), sized(outcome_id, 'outcome_id', 1, 64),
    required(project_code, 'project_code'),
    matches(project_code, 'project_code', '^[A-Z0-9][A-Z0-9-]{1,31}$', 'a project code (capital letters, digits and ''-'', e.g. CALLE)'),
    required(theme, 'theme'), allowed(theme, 'theme', 'theme'),
    required(description, 'description'), sized(description, 'description', 10, 4000),
    required(social_actor, 'social_actor'),
    required(actor_type, 'actor_type'), allowed(actor_type, 'actor_type', 'actor_type'),
    required(outcome_date_text, 'outcome_date'),
    parses(outcome_date_text, outcome_date, 'outcome_date', 'a date (YYYY-MM-DD or DD/MM/YYYY)'),
    not_before(outcome_date, 'outcome_date', DATE '2015-01-01'), not_after(outcome_date, 'outcome_date', DATE '{{as_of}}'),
    required(state, 'state'), allowed(state, 'state', 'state_or_total'),
    required(significance, 'significance'), allowed(significance, 'significance', 'significance'),
    required(contribution, 'contribution'), allowed(contribution, 'contribution', 'contribution'),
    required(polarity, 'polarity'), allowed(polarity, 'polarity', 'polarity'),
    required(intention, 'intention'), allowed(intention, 'intention', 'intention'),
    required(substantiation, 'substantiation'), allowed(substantiation, 'substantiation', 'substantiation'),
    duplicate_key('outcome_id', 'outcome_id', count(*) OVER (PARTITION BY _source_file, outcome_id),
                  min(_row_number) OVER (PARTITION BY _source_file, outcome_id)),
    unknown_project(project_code)]) AS f
FROM typed) WHERE f IS NOT NULL;
INSERT INTO rejected_rows SELECT * FROM failed_rows('outcomes');
CREATE TABLE stg_outcomes AS
SELECT outcome_id, project_code, theme, description, social_actor, actor_type, change_agent, outcome_date, state,
       significance, contribution, polarity, intention, source, substantiator, substantiation, _source_file, _row_number
FROM typed t ANTI JOIN failures f ON f.file = t._source_file AND f.row_number = t._row_number;
INSERT INTO rows_read SELECT 'outcomes', _source_file, count(*) FROM typed GROUP BY ALL;
DELETE FROM failures;

-- step: msc_stories
CREATE TEMP TABLE msc_stories_columns (
    _source_file VARCHAR, _row_number BIGINT, story_id VARCHAR, project_code VARCHAR, domain VARCHAR, story_date VARCHAR,
    storyteller_type VARCHAR, storyteller_sex VARCHAR, collector VARCHAR, title VARCHAR, story VARCHAR,
    why_significant VARCHAR, selection_level VARCHAR, selection_reason VARCHAR, feedback_given VARCHAR);
CREATE OR REPLACE TEMP TABLE typed AS
SELECT _source_file, _row_number, story_id, upper(project_code) AS project_code, to_code('theme', domain) AS domain,
       story_date_text, to_date(story_date_text) AS story_date,
       to_code('msc_storyteller_type', storyteller_type) AS storyteller_type, to_code('sex', storyteller_sex) AS storyteller_sex,
       collector, title, story, why_significant, to_code('msc_selection_level', selection_level) AS selection_level,
       selection_reason, feedback_given_text, to_boolean(feedback_given_text) AS feedback_given
FROM (
    SELECT _source_file, _row_number, clean(story_id) AS story_id, clean(project_code) AS project_code,
           clean(domain) AS domain, clean(story_date) AS story_date_text, clean(storyteller_type) AS storyteller_type,
           clean(storyteller_sex) AS storyteller_sex, clean(collector) AS collector, clean(title) AS title,
           clean(story) AS story, clean(why_significant) AS why_significant, clean(selection_level) AS selection_level,
           clean(selection_reason) AS selection_reason, clean(feedback_given) AS feedback_given_text
    FROM {{msc_stories}});
INSERT INTO failures
SELECT * FROM (SELECT _source_file, _row_number, unnest([
    required(story_id, 'story_id'), sized(story_id, 'story_id', 1, 64),
    required(project_code, 'project_code'),
    matches(project_code, 'project_code', '^[A-Z0-9][A-Z0-9-]{1,31}$', 'a project code (capital letters, digits and ''-'', e.g. CALLE)'),
    required(domain, 'domain'), allowed(domain, 'domain', 'theme'),
    required(story_date_text, 'story_date'), parses(story_date_text, story_date, 'story_date', 'a date (YYYY-MM-DD or DD/MM/YYYY)'),
    not_before(story_date, 'story_date', DATE '2015-01-01'), not_after(story_date, 'story_date', DATE '{{as_of}}'),
    required(storyteller_type, 'storyteller_type'), allowed(storyteller_type, 'storyteller_type', 'msc_storyteller_type'),
    required(storyteller_sex, 'storyteller_sex'), allowed(storyteller_sex, 'storyteller_sex', 'sex'),
    required(title, 'title'), required(story, 'story'), sized(story, 'story', 20, 20000),
    required(why_significant, 'why_significant'),
    required(selection_level, 'selection_level'), allowed(selection_level, 'selection_level', 'msc_selection_level'),
    parses(feedback_given_text, feedback_given, 'feedback_given', 'yes or no'),
    duplicate_key('story_id', 'story_id', count(*) OVER (PARTITION BY _source_file, story_id),
                  min(_row_number) OVER (PARTITION BY _source_file, story_id)),
    unknown_project(project_code)]) AS f
FROM typed) WHERE f IS NOT NULL;
INSERT INTO rejected_rows SELECT * FROM failed_rows('msc_stories');
CREATE TABLE stg_msc_stories AS
SELECT story_id, project_code, domain, story_date, storyteller_type, storyteller_sex, collector, title, story,
       why_significant, selection_level, selection_reason, feedback_given, _source_file, _row_number
FROM typed t ANTI JOIN failures f ON f.file = t._source_file AND f.row_number = t._row_number;
INSERT INTO rows_read SELECT 'msc_stories', _source_file, count(*) FROM typed GROUP BY ALL;
DELETE FROM failures;

-- step: feedback
-- KoboToolbox names questions by group path with '/', ODK Central with '-'.
CREATE TEMP TABLE feedback_columns (
    _source_file VARCHAR, _row_number BIGINT, "_uuid" VARCHAR, "meta-instanceID" VARCHAR, "_submission_time" VARCHAR,
    "SubmissionDate" VARCHAR, "datos/proyecto" VARCHAR, "datos-proyecto" VARCHAR, "datos/grupo_actor" VARCHAR,
    "datos-grupo_actor" VARCHAR, "datos/estado" VARCHAR, "datos-estado" VARCHAR, "datos/sexo" VARCHAR, "datos-sexo" VARCHAR,
    "datos/planta" VARCHAR, "datos-planta" VARCHAR, "percepcion/mejora_inspeccion" VARCHAR,
    "percepcion-mejora_inspeccion" VARCHAR, "percepcion/coercion_observada" VARCHAR, "percepcion-coercion_observada" VARCHAR,
    "percepcion/cumplimiento_empleador" VARCHAR, "percepcion-cumplimiento_empleador" VARCHAR,
    "percepcion/capacitacion_util" VARCHAR, "percepcion-capacitacion_util" VARCHAR,
    "derechos/derechos_conocidos" VARCHAR, "derechos-derechos_conocidos" VARCHAR, "comentarios" VARCHAR,
    "datos/nombre_contacto" VARCHAR, "datos-nombre_contacto" VARCHAR, "datos/telefono_contacto" VARCHAR,
    "datos-telefono_contacto" VARCHAR);
CREATE TEMP TABLE feedback_text AS SELECT * FROM {{feedback}};
CREATE OR REPLACE TEMP TABLE typed AS
SELECT _source_file, _row_number, submission_id, submitted_at_text, to_local_time(submitted_at_text) AS submitted_at,
       upper(project_code) AS project_code, to_code('stakeholder_group', stakeholder_group) AS stakeholder_group,
       to_code('state', state) AS state, to_code('sex', sex) AS sex, plant_code,
       NOT regexp_matches(respondent_phone, '^\+?[0-9 ()-]{8,20}$') AS bad_phone,
       rights_known_text, to_selections(rights_known_text) AS rights_known,
       enforcement_improved_text, to_integer(enforcement_improved_text) AS enforcement_improved,
       coercion_observed_text, to_integer(coercion_observed_text) AS coercion_observed,
       employer_compliance_text, to_integer(employer_compliance_text) AS employer_compliance,
       training_useful_text, to_integer(training_useful_text) AS training_useful, comment,
       pseudonym(coalesce('phone:' || right(regexp_replace(respondent_phone, '[^0-9]', '', 'g'), 10),
                          'name:' || norm(respondent_name))) AS respondent_id
FROM (
    SELECT _source_file, _row_number, clean(coalesce("_uuid", "meta-instanceID")) AS submission_id,
           clean(coalesce("_submission_time", "SubmissionDate")) AS submitted_at_text,
           clean(coalesce("datos/proyecto", "datos-proyecto")) AS project_code,
           clean(coalesce("datos/grupo_actor", "datos-grupo_actor")) AS stakeholder_group,
           clean(coalesce("datos/estado", "datos-estado")) AS state, clean(coalesce("datos/sexo", "datos-sexo")) AS sex,
           clean(coalesce("datos/planta", "datos-planta")) AS plant_code,
           clean(coalesce("datos/nombre_contacto", "datos-nombre_contacto")) AS respondent_name,
           clean(coalesce("datos/telefono_contacto", "datos-telefono_contacto")) AS respondent_phone,
           clean(coalesce("derechos/derechos_conocidos", "derechos-derechos_conocidos")) AS rights_known_text,
           clean(coalesce("percepcion/mejora_inspeccion", "percepcion-mejora_inspeccion")) AS enforcement_improved_text,
           clean(coalesce("percepcion/coercion_observada", "percepcion-coercion_observada")) AS coercion_observed_text,
           clean(coalesce("percepcion/cumplimiento_empleador", "percepcion-cumplimiento_empleador")) AS employer_compliance_text,
           clean(coalesce("percepcion/capacitacion_util", "percepcion-capacitacion_util")) AS training_useful_text,
           clean("comentarios") AS comment
    FROM feedback_text);
DROP TABLE feedback_text;
INSERT INTO failures
SELECT * FROM (SELECT _source_file, _row_number, unnest([
    required(submission_id, 'submission_id'),
    required(submitted_at_text, 'submitted_at'),
    parses(submitted_at_text, submitted_at, 'submitted_at', 'a date and time (ISO 8601)'),
    not_after(submitted_at, 'submitted_at', TIMESTAMP '{{as_of}}' + INTERVAL 1 DAY),
    required(project_code, 'project_code'),
    matches(project_code, 'project_code', '^[A-Z0-9][A-Z0-9-]{1,31}$', 'a project code (capital letters, digits and ''-'', e.g. CALLE)'),
    required(stakeholder_group, 'stakeholder_group'), allowed(stakeholder_group, 'stakeholder_group', 'stakeholder_group'),
    required(state, 'state'), allowed(state, 'state', 'state'),
    allowed(sex, 'sex', 'sex'),
    identifier_matches(bad_phone, 'respondent_phone', 'a phone number (8 to 20 digits, spaces, +, - or brackets)'),
    parses(rights_known_text, rights_known, 'rights_known', 'a whole number'), in_range(rights_known, 'rights_known', 0, 5),
    parses(enforcement_improved_text, enforcement_improved, 'enforcement_improved', 'a whole number'),
    in_range(enforcement_improved, 'enforcement_improved', 1, 5),
    parses(coercion_observed_text, coercion_observed, 'coercion_observed', 'a whole number'),
    in_range(coercion_observed, 'coercion_observed', 1, 5),
    parses(employer_compliance_text, employer_compliance, 'employer_compliance', 'a whole number'),
    in_range(employer_compliance, 'employer_compliance', 1, 5),
    parses(training_useful_text, training_useful, 'training_useful', 'a whole number'),
    in_range(training_useful, 'training_useful', 1, 5),
    duplicate_key('submission_id', 'submission_id', count(*) OVER (PARTITION BY _source_file, submission_id),
                  min(_row_number) OVER (PARTITION BY _source_file, submission_id)),
    unknown_project(project_code)]) AS f
FROM typed) WHERE f IS NOT NULL;
INSERT INTO rejected_rows SELECT * FROM failed_rows('feedback');
CREATE TABLE stg_feedback AS
SELECT submission_id, submitted_at, project_code, stakeholder_group, state, sex, plant_code, rights_known,
       enforcement_improved, coercion_observed, employer_compliance, training_useful, comment, respondent_id,
       _source_file, _row_number
FROM typed t ANTI JOIN failures f ON f.file = t._source_file AND f.row_number = t._row_number;
INSERT INTO rows_read SELECT 'feedback', _source_file, count(*) FROM typed GROUP BY ALL;
DELETE FROM failures;

-- step: sentinel
CREATE TEMP TABLE sentinel_columns (
    _source_file VARCHAR, _row_number BIGINT, series_code VARCHAR, observed_on VARCHAR, geography VARCHAR, value VARCHAR,
    unit VARCHAR, label VARCHAR, source VARCHAR, sector VARCHAR);
CREATE OR REPLACE TEMP TABLE typed AS
SELECT _source_file, _row_number, lower(series_code) AS series_code, observed_on_text, to_date(observed_on_text) AS observed_on,
       to_code('state_or_total', geography) AS geography, value_text, to_number(value_text) AS value, unit, label, source,
       sector
FROM (
    SELECT _source_file, _row_number, clean(series_code) AS series_code, clean(observed_on) AS observed_on_text,
           clean(geography) AS geography, clean(value) AS value_text, clean(unit) AS unit, clean(label) AS label,
           clean(source) AS source, clean(sector) AS sector
    FROM {{sentinel}});
INSERT INTO failures
SELECT * FROM (SELECT _source_file, _row_number, unnest([
    required(series_code, 'series_code'),
    matches(series_code, 'series_code', '^[a-z0-9_]{3,64}$', 'a series code in lower case with ''_'''),
    required(observed_on_text, 'observed_on'),
    parses(observed_on_text, observed_on, 'observed_on', 'a date (YYYY-MM-DD or DD/MM/YYYY)'),
    not_before(observed_on, 'observed_on', DATE '2000-01-01'), not_after(observed_on, 'observed_on', DATE '{{as_of}}'),
    required(geography, 'geography'), allowed(geography, 'geography', 'state_or_total'),
    required(value_text, 'value'), parses(value_text, value, 'value', 'a number'),
    required(source, 'source'),
    duplicate_key('series_code', 'series_code, observed_on, geography, label', count(*) OVER observation,
                  min(_row_number) OVER observation)]) AS f
FROM typed
WINDOW observation AS (PARTITION BY _source_file, series_code, observed_on, geography, label)) WHERE f IS NOT NULL;
INSERT INTO rejected_rows SELECT * FROM failed_rows('sentinel');
CREATE TABLE stg_sentinel AS
SELECT series_code, observed_on, geography, value, unit, label, source, sector, _source_file, _row_number
FROM typed t ANTI JOIN failures f ON f.file = t._source_file AND f.row_number = t._row_number;
INSERT INTO rows_read SELECT 'sentinel', _source_file, count(*) FROM typed GROUP BY ALL;
DELETE FROM failures;

-- step: iati
CREATE TEMP TABLE iati_columns (
    _source_file VARCHAR, _row_number BIGINT, iati_identifier VARCHAR, result_index VARCHAR, result_type VARCHAR,
    result_title VARCHAR, aggregation_status VARCHAR, indicator_index VARCHAR, indicator_ref VARCHAR,
    indicator_title VARCHAR, measure VARCHAR, ascending VARCHAR, element VARCHAR, period_start VARCHAR,
    period_end VARCHAR, value_text VARCHAR, value VARCHAR, disaggregation VARCHAR);
CREATE OR REPLACE TEMP TABLE typed AS
SELECT _source_file, _row_number, iati_identifier, result_index_text, to_integer(result_index_text) AS result_index,
       to_code('iati_result_type', result_type) AS result_type, result_title,
       aggregation_status_text, to_boolean(aggregation_status_text) AS aggregation_status,
       indicator_index_text, to_integer(indicator_index_text) AS indicator_index, indicator_ref, indicator_title,
       to_code('iati_measure', measure) AS measure, ascending_text, to_boolean(ascending_text) AS ascending,
       to_code('iati_element', element) AS element, period_start_text, to_date(period_start_text) AS period_start,
       period_end_text, to_date(period_end_text) AS period_end, value_text, number_text, to_number(number_text) AS value,
       disaggregation
FROM (
    SELECT _source_file, _row_number, clean(iati_identifier) AS iati_identifier, clean(result_index) AS result_index_text,
           clean(result_type) AS result_type, clean(result_title) AS result_title,
           clean(aggregation_status) AS aggregation_status_text, clean(indicator_index) AS indicator_index_text,
           clean(indicator_ref) AS indicator_ref, clean(indicator_title) AS indicator_title, clean(measure) AS measure,
           clean(ascending) AS ascending_text, clean(element) AS element, clean(period_start) AS period_start_text,
           clean(period_end) AS period_end_text, clean(value_text) AS value_text, clean(value) AS number_text,
           clean(disaggregation) AS disaggregation
    FROM {{iati}});
INSERT INTO failures
SELECT * FROM (SELECT _source_file, _row_number, unnest([
    required(result_index_text, 'result_index'), parses(result_index_text, result_index, 'result_index', 'a whole number'),
    at_least(result_index, 'result_index', 1),
    allowed(result_type, 'result_type', 'iati_result_type'),
    parses(aggregation_status_text, aggregation_status, 'aggregation_status', 'yes or no'),
    required(indicator_index_text, 'indicator_index'),
    parses(indicator_index_text, indicator_index, 'indicator_index', 'a whole number'),
    at_least(indicator_index, 'indicator_index', 1),
    required(measure, 'measure'), allowed(measure, 'measure', 'iati_measure'),
    parses(ascending_text, ascending, 'ascending', 'yes or no'),
    required(element, 'element'), allowed(element, 'element', 'iati_element'),
    parses(period_start_text, period_start, 'period_start', 'a date (YYYY-MM-DD or DD/MM/YYYY)'),
    parses(period_end_text, period_end, 'period_end', 'a date (YYYY-MM-DD or DD/MM/YYYY)'),
    parses(number_text, value, 'value', 'a number'),
    required(disaggregation, 'disaggregation'),
    ordered(period_start, 'period_start', '<=', period_end, 'period_end'),
    duplicate_key('iati_identifier', 'iati_identifier, result_index, indicator_index, element, period_start, period_end, disaggregation',
                  count(*) OVER result_row, min(_row_number) OVER result_row)]) AS f
FROM typed
WINDOW result_row AS (PARTITION BY _source_file, iati_identifier, result_index, indicator_index, element, period_start,
                                   period_end, disaggregation)) WHERE f IS NOT NULL;
INSERT INTO rejected_rows SELECT * FROM failed_rows('iati');
CREATE TABLE stg_iati AS
SELECT iati_identifier, result_index, result_type, result_title, aggregation_status, indicator_index, indicator_ref,
       indicator_title, measure, ascending, element, period_start, period_end, value_text, value, disaggregation,
       _source_file, _row_number
FROM typed t ANTI JOIN failures f ON f.file = t._source_file AND f.row_number = t._row_number;
INSERT INTO rows_read SELECT 'iati', _source_file, count(*) FROM typed GROUP BY ALL;
DELETE FROM failures;

-- step: cla_log
CREATE TEMP TABLE cla_log_columns (
    _source_file VARCHAR, _row_number BIGINT, entry_id VARCHAR, project_code VARCHAR, entry_type VARCHAR, entry_date VARCHAR,
    stakeholder_group VARCHAR, theme VARCHAR, description VARCHAR, evidence_type VARCHAR, step_kind VARCHAR,
    status VARCHAR, service_window_days VARCHAR, resolved_on VARCHAR);
CREATE OR REPLACE TEMP TABLE typed AS
SELECT _source_file, _row_number, entry_id, upper(project_code) AS project_code, to_code('cla_entry_type', entry_type) AS entry_type,
       entry_date_text, to_date(entry_date_text) AS entry_date, to_code('stakeholder_group', stakeholder_group) AS stakeholder_group,
       to_code('theme', theme) AS theme, description, to_code('evidence_type', evidence_type) AS evidence_type,
       to_code('step_kind', step_kind) AS step_kind, to_code('cla_status', status) AS status,
       service_window_days_text, to_integer(service_window_days_text) AS service_window_days,
       resolved_on_text, to_date(resolved_on_text) AS resolved_on
FROM (
    SELECT _source_file, _row_number, clean(entry_id) AS entry_id, clean(project_code) AS project_code,
           clean(entry_type) AS entry_type, clean(entry_date) AS entry_date_text, clean(stakeholder_group) AS stakeholder_group,
           clean(theme) AS theme, clean(description) AS description, clean(evidence_type) AS evidence_type,
           clean(step_kind) AS step_kind, clean(status) AS status,
           coalesce(clean(service_window_days), '30') AS service_window_days_text, clean(resolved_on) AS resolved_on_text
    FROM {{cla_log}});
INSERT INTO failures
SELECT * FROM (SELECT _source_file, _row_number, unnest([
    required(entry_id, 'entry_id'),
    required(project_code, 'project_code'),
    matches(project_code, 'project_code', '^[A-Z0-9][A-Z0-9-]{1,31}$', 'a project code (capital letters, digits and ''-'', e.g. CALLE)'),
    required(entry_type, 'entry_type'), allowed(entry_type, 'entry_type', 'cla_entry_type'),
    required(entry_date_text, 'entry_date'), parses(entry_date_text, entry_date, 'entry_date', 'a date (YYYY-MM-DD or DD/MM/YYYY)'),
    not_before(entry_date, 'entry_date', DATE '2015-01-01'), not_after(entry_date, 'entry_date', DATE '{{as_of}}'),
    allowed(stakeholder_group, 'stakeholder_group', 'stakeholder_group'),
    allowed(theme, 'theme', 'theme'),
    required(description, 'description'),
    allowed(evidence_type, 'evidence_type', 'evidence_type'),
    allowed(step_kind, 'step_kind', 'step_kind'),
    required(status, 'status'), allowed(status, 'status', 'cla_status'),
    parses(service_window_days_text, service_window_days, 'service_window_days', 'a whole number'),
    in_range(service_window_days, 'service_window_days', 1, 365),
    parses(resolved_on_text, resolved_on, 'resolved_on', 'a date (YYYY-MM-DD or DD/MM/YYYY)'),
    not_after(resolved_on, 'resolved_on', DATE '{{as_of}}'),
    ordered(entry_date, 'entry_date', '<=', resolved_on, 'resolved_on'),
    duplicate_key('entry_id', 'entry_id', count(*) OVER (PARTITION BY _source_file, entry_id),
                  min(_row_number) OVER (PARTITION BY _source_file, entry_id)),
    unknown_project(project_code)]) AS f
FROM typed) WHERE f IS NOT NULL;
INSERT INTO rejected_rows SELECT * FROM failed_rows('cla_log');
CREATE TABLE stg_cla_log AS
SELECT entry_id, project_code, entry_type, entry_date, stakeholder_group, theme, description, evidence_type, step_kind,
       status, service_window_days, resolved_on, _source_file, _row_number
FROM typed t ANTI JOIN failures f ON f.file = t._source_file AND f.row_number = t._row_number;
INSERT INTO rows_read SELECT 'cla_log', _source_file, count(*) FROM typed GROUP BY ALL;
DELETE FROM failures;

-- step: load_audit
CREATE TABLE load_audit AS
SELECT f.source, f.file, f.sha256, 'loaded' AS status, coalesce(r.rows_read, 0) AS rows_read,
       coalesce(r.rows_read, 0) - coalesce(j.rows_rejected, 0) AS rows_loaded, coalesce(j.rows_rejected, 0) AS rows_rejected,
       'floor' AS contract_version, CAST(now() AS TIMESTAMP) AS loaded_at, NULL::VARCHAR AS notes
FROM raw_files f
LEFT JOIN rows_read r ON r.source = f.source AND r.file = f.file
LEFT JOIN (SELECT source, file, count(DISTINCT row_number) AS rows_rejected FROM rejected_rows GROUP BY ALL) j
       ON j.source = f.source AND j.file = f.file;
DROP TABLE typed;
DROP TABLE failures;
