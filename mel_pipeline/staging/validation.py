"""Compile a source's pandera schema into one DuckDB query that types, checks and pseudonymises rows.

Pandera stays the single source of truth: this module reads each schema's columns, dtypes,
nullability, built-in checks (isin, ranges, patterns, lengths), registered row rules
(`column_compare`, `any_present`) and `unique` key, and writes the same rules as SQL so that
millions of rows are validated inside DuckDB without ever being held in pandas. The test suite
runs pandera's own pandas backend on the fixtures and asserts both reach the same verdicts.

The query yields, per input row, the typed columns to stage and either NULL (the row is valid) or
a list of failures `{column, check, value, message}`. Direct identifiers are only ever read here:
they are checked, turned into keyed pseudonyms (HMAC-SHA256) and never returned, and their
values are masked in failure messages. A source that links people (`Source.linking`) also stages
each linking identifier's own pseudonym, `<identifier>_id`, for `person_linking` to join records on,
as the 128-bit number its hex digits spell (`LINKING_ID_TYPE`: a third of a hex string's storage, and
compared as fast as a number); its pseudonym column holds the pseudonym of the first identifier
present until that pass replaces it with the linked person key.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import duckdb
import pandas as pd
import pandera.pandas as pa

from mel_pipeline.raw.tabular import AMBIGUOUS_NUMBER
from mel_pipeline.reference.codes import normalise_token, spelling_map
from mel_pipeline.staging.contract import PATTERN_HINTS, Source
from mel_pipeline.warehouse import quote_identifier as qi
from mel_pipeline.warehouse import quote_literal as ql

MISSING_MARKERS = ("", "n/a", "na", "n.a.", "n/d", "nd", "-", "--", "null", "none", "s/d", "sin dato", "sin datos")
MASK = "***"
# What in a non-identifier cell of a person-level source may still identify someone (an email, a phone, a
# CURP typed in the wrong column) is masked in messages, as is text of several words (`unless_identifying_sql`);
# everything else is shown, so the grantee can find and fix it.
IDENTIFYING_LOOK = "@|[0-9][0-9 ()-]{5,}[0-9]|[A-Za-z]{4}[0-9]{6}"
# Words of survey answers written out ('Muy de acuerdo', 'strongly agree'): no name is made of these alone.
ANSWER_WORDS = (
    "muy", "de", "acuerdo", "desacuerdo", "en", "ni", "totalmente", "bastante", "poco", "nada", "algo", "mucho",
    "bien", "mal", "bueno", "buena", "malo", "mala", "regular", "si", "no", "se", "sabe", "nunca", "siempre",
    "a", "veces", "very", "strongly", "agree", "disagree", "neither", "nor", "somewhat", "good", "bad", "fair",
    "not", "at", "all", "don't", "know", "never", "always", "sometimes",
)
MAX_LISTED_CODES = 12
PSEUDONYM_HEX_DIGITS = 32  # a pseudonym is the first 32 lowercase hex digits of its HMAC-SHA256
LINKING_ID_TYPE = "UHUGEINT"  # 32 hex digits are 128 bits: a linking pseudonym is stored as that number
SQL_TYPES = {
    "text": "VARCHAR", "code": "VARCHAR", "identifier": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE",
    "date": "DATE", "datetime": "TIMESTAMP", "boolean": "BOOLEAN",
}
KIND_NAMES = {
    "integer": "a whole number", "number": "a number", "date": "a date (YYYY-MM-DD or DD/MM/YYYY)",
    "datetime": "a date and time (ISO 8601)", "boolean": "yes or no",
}
TRUE_WORDS = ("yes", "y", "si", "s", "true", "verdadero", "1", "x")
FALSE_WORDS = ("no", "n", "false", "falso", "0")
# How each identifier is normalised before hashing, so 'JOSÉ  Pérez' and 'jose perez' match.
IDENTIFIER_NORMALISERS = {
    "curp": "upper({v})",
    "email": "lower({v})",
    "phone": "right(regexp_replace({v}, '[^0-9]', '', 'g'), 10)",
}


@dataclass(frozen=True)
class CompiledQuery:
    """The validation query of one source and the parameters it binds (pseudonym key pads)."""

    sql: str
    parameters: dict
    output_columns: list[tuple[str, str]]  # (name, SQL type) of the staged table, in order
    unique_key: tuple[str, ...]  # staged columns that must not repeat within a file


def labelled(relation: str, relative_path: str) -> str:
    """A reader's relation with the `_source_file` column the validation query carries through."""
    return f"(SELECT {ql(relative_path)} AS _source_file, * FROM {relation})"


def validate_into(connection: duckdb.DuckDBPyConnection, query: CompiledQuery, table: str) -> None:
    """Create the temporary table `table`: every row's staged columns and its failures (NULL if none).

    The file's key is checked on that table, over the key columns and a hash of each row: a window
    carrying every parsed and raw column would hold the whole file in memory and run out of it on
    large files.
    """
    connection.execute(f"CREATE OR REPLACE TEMP TABLE {qi(table)} AS {query.sql}", query.parameters)
    if query.unique_key:
        compared = [name for name, _ in query.output_columns if name not in ("_source_file", "_row_number")]
        connection.execute(
            f"UPDATE {qi(table)} SET _failures = list_append(coalesce(_failures, []), repeated.failure) "
            f"FROM ({_repeated_keys_sql(query.unique_key, compared, table)}) repeated "
            f"WHERE {qi(table)}._source_file = repeated._source_file AND {qi(table)}._row_number = repeated._row_number")


def metadata(col: pa.Column) -> dict:
    """The reader metadata `contract.column` attached to a pandera column."""
    return col.metadata or {}


def linking_column(identifier: str) -> str:
    """The staged column holding one linking identifier's pseudonym: 'curp' -> 'curp_id'."""
    return f"{identifier}_id"


def staged_columns(source: Source, schema: pa.DataFrameSchema) -> list[tuple[str, str]]:
    """Columns of `stg_<source>`: every non-identifier column, then the pseudonyms, then provenance."""
    columns = [(name, SQL_TYPES[metadata(col)["kind"]]) for name, col in schema.columns.items()
               if metadata(col)["kind"] != "identifier"]
    if source.pseudonym:
        columns.append((source.pseudonym[0], "VARCHAR"))
    if source.linking:
        columns += [(linking_column(name), LINKING_ID_TYPE) for name in source.linking.identifiers]
    return columns + [("_source_file", "VARCHAR"), ("_row_number", "BIGINT")]


def hmac_pads(key: str) -> tuple[bytes, bytes]:
    """The inner and outer HMAC-SHA256 pads of `key` (RFC 2104), bound as query parameters."""
    key_bytes = key.encode()
    if len(key_bytes) > 64:
        key_bytes = hashlib.sha256(key_bytes).digest()
    key_bytes = key_bytes.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key_bytes), bytes(b ^ 0x5C for b in key_bytes)


def identifier_kind(column_name: str) -> str:
    """'respondent_phone' -> 'phone', 'full_name' -> 'name': the kind of identifier a column holds."""
    return column_name.rsplit("_", 1)[-1]


def pseudonym(kind: str, value: str, key: str) -> str:
    """Python reference of the SQL pseudonym: HMAC-SHA256 of 'kind:normalised value', 32 hex chars."""
    normalised = {"curp": value.upper(), "email": value.lower(),
                  "phone": "".join(ch for ch in value if ch.isdigit())[-10:]}.get(kind, normalise_token(value))
    return hmac.new(key.encode(), f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_DIGITS]


def normalise_sql(expression: str) -> str:
    """SQL twin of `codes.normalise_token`."""
    return f"trim(regexp_replace(lower(strip_accents({expression})), '[\\s_-]+', ' ', 'g'))"


def linking_id_sql(pseudonym: str) -> str:
    """A hex pseudonym as the number stored in a linking column; the order of pseudonyms is kept."""
    return f"('0x' || {pseudonym})::{LINKING_ID_TYPE}"


def linking_id_pseudonym_sql(number: str) -> str:
    """The hex pseudonym a linking column's number spells (the inverse of `linking_id_sql`)."""
    return f"lpad(lower(hex({number})), {PSEUDONYM_HEX_DIGITS}, '0')"


def pseudonym_sql(column_name: str) -> str:
    """SQL twin of `pseudonym` for a cleaned identifier column (`<name>__v`); NULL when it is empty.

    The key's pads are bound as $pseudonym_inner and $pseudonym_outer (see `hmac_pads`).
    """
    kind = identifier_kind(column_name)
    value = qi(column_name + "__v")
    normalised = IDENTIFIER_NORMALISERS.get(kind, normalise_sql("{v}")).format(v=value)
    return (f"left(sha256($pseudonym_outer::BLOB || unhex(sha256($pseudonym_inner::BLOB || "
            f"encode('{kind}:' || {normalised})))), {PSEUDONYM_HEX_DIGITS})")


def _clean_sql(raw: str, default: str | None) -> str:
    markers = ", ".join(ql(marker) for marker in MISSING_MARKERS)
    # Most cells are longer than any marker: the length test spares them the IN list (a hash join).
    longest = max(len(marker) for marker in MISSING_MARKERS)
    cleaned = (f"CASE WHEN length(trim({raw})) > {longest} THEN trim({raw}) "
               f"WHEN lower(trim({raw})) IN ({markers}) THEN NULL ELSE trim({raw}) END")
    return f"coalesce({cleaned}, {ql(default)})" if default is not None else cleaned


def takes_whole_numbers(col: pa.Column) -> bool:
    """Whether the column counts: an integer column, or one with the `whole_number` rule."""
    return metadata(col)["kind"] == "integer" or any(check.name == "whole_number" for check in col.checks)


def ambiguous_number_sql(v: str) -> str:
    """Whether the text is a number whose one separator could group thousands or mark decimals."""
    return f"regexp_full_match({v}, {ql(AMBIGUOUS_NUMBER)})"


def grouped_reading_sql(v: str) -> str:
    """An ambiguous number read with its separator grouping thousands: '1.927' -> 1927."""
    return f"TRY_CAST(regexp_replace({v}, '[.,]', '') AS DOUBLE)"


def decimal_reading_sql(v: str) -> str:
    """An ambiguous number read with its separator marking decimals: '50,000' -> 50."""
    return f"TRY_CAST(replace({v}, ',', '.') AS DOUBLE)"


def _plain_number_sql(v: str, col: pa.Column) -> str:
    """The cell as a plain decimal text ('1234.5'), or NULL when its separators are ambiguous.

    A comma or dot that can only mean one thing is read: '1,234.5', '1.234,5', '1.234.567', '12,5'.
    The one reading left open is AMBIGUOUS_NUMBER, settled by the column: its declared
    `number_format`, or its counting (the decimal reading of '1.927' is a fraction, so it is 1927;
    '1.000' stays ambiguous). What stays ambiguous is rejected by name, never guessed.
    """
    if metadata(col).get("number_format") == "decimal_point":
        settled = f"replace({v}, ',', '')"
    elif takes_whole_numbers(col):
        settled = f"CASE WHEN NOT ends_with({v}, '000') THEN regexp_replace({v}, '[.,]', '') END"
    else:
        settled = "NULL"
    return (f"CASE WHEN NOT contains({v}, ',') AND NOT contains({v}, '.') THEN {v} "
            f"WHEN {ambiguous_number_sql(v)} THEN {settled} "
            f"WHEN regexp_full_match({v}, '[+-]?[1-9][0-9]{{0,2}}(,[0-9]{{3}})+(\\.[0-9]+)?') THEN replace({v}, ',', '') "
            f"WHEN regexp_full_match({v}, '[+-]?[1-9][0-9]{{0,2}}(\\.[0-9]{{3}})+(,[0-9]+)?') "
            f"THEN replace(replace({v}, '.', ''), ',', '.') "
            f"WHEN regexp_full_match({v}, '[+-]?[0-9]*,[0-9]+') THEN replace({v}, ',', '.') "
            f"ELSE {v} END")


def _parse_sql(col: pa.Column, v: str) -> str:
    meta = metadata(col)
    kind = meta["kind"]
    if kind in ("text", "identifier"):
        return v
    if kind == "code":
        if meta.get("vocabulary"):
            # One MAP constant, not a CASE branch per spelling: the query stays small to plan.
            spellings = ", ".join(f"{ql(spelling)}: {ql(code)}"
                                  for spelling, code in spelling_map(meta["vocabulary"]).items())
            return f"coalesce(MAP {{{spellings}}}[{normalise_sql(v)}], {v})"
        return {"upper": f"upper({v})", "lower": f"lower({v})"}.get(meta.get("case"), v)
    if kind in ("integer", "number"):
        if kind == "integer" and meta.get("counts_selections"):
            return (f"CASE WHEN regexp_full_match({v}, '[0-9]+') THEN TRY_CAST({v} AS BIGINT) "
                    f"WHEN regexp_full_match({v}, '[A-Za-z_][A-Za-z0-9_]*( +[A-Za-z_][A-Za-z0-9_]*)*') "
                    f"THEN len(string_split(regexp_replace({v}, ' +', ' ', 'g'), ' ')) END")
        plain = _plain_number_sql(v, col)
        if kind == "integer":
            return (f"CASE WHEN regexp_full_match({plain}, '[+-]?[0-9]+(\\.0+)?') "
                    f"THEN TRY_CAST(TRY_CAST({plain} AS DOUBLE) AS BIGINT) END")
        number = f"TRY_CAST({plain} AS DOUBLE)"
        return f"CASE WHEN isfinite({number}) THEN {number} END"
    if kind == "date":
        return (f"CASE WHEN regexp_full_match({v}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}([ T].*)?') "
                f"THEN TRY_CAST(left({v}, 10) AS DATE) "
                f"WHEN regexp_full_match({v}, '[0-9]{{1,2}}/[0-9]{{1,2}}/[0-9]{{4}}') "
                f"THEN CAST(try_strptime({v}, '%d/%m/%Y') AS DATE) END")
    if kind == "datetime":
        return f"CAST(TRY_CAST({v} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP)"
    if kind == "boolean":
        words = lambda items: ", ".join(ql(item) for item in items)  # noqa: E731
        return (f"CASE WHEN {normalise_sql(v)} IN ({words(TRUE_WORDS)}) THEN true "
                f"WHEN {normalise_sql(v)} IN ({words(FALSE_WORDS)}) THEN false END")
    raise ValueError(f"unknown column kind {kind!r}")


def _literal(value, kind: str) -> str:
    if isinstance(value, pd.Timestamp):
        return f"DATE {ql(value.date().isoformat())}" if kind == "date" else f"TIMESTAMP {ql(value.isoformat())}"
    if isinstance(value, (int, float)):
        return repr(value)
    return ql(value)


def _shown(value) -> str:
    return value.date().isoformat() if isinstance(value, pd.Timestamp) and value == value.normalize() else str(value)


def display_sql(expression: str, kind: str) -> str:
    """A typed value as a person would write it: 6 rather than 6.0."""
    text = f"CAST({expression} AS VARCHAR)"
    return f"regexp_replace({text}, '\\.0$', '')" if kind == "number" else text


def _ambiguity_message_sql(v: str, shown: str) -> str:
    """'1.927' is ambiguous: 1927 if '.' groups thousands, 1.927 if it marks decimals; and how to write either."""
    separator = f"regexp_extract({v}, '[.,]')"
    grouped, decimal = display_sql(grouped_reading_sql(v), "number"), display_sql(decimal_reading_sql(v), "number")
    # Three decimals would be as ambiguous again: the decimal reading is suggested with a fourth, a zero.
    unambiguous_decimal = f"CASE WHEN ends_with({v}, '0') THEN {decimal} ELSE {decimal} || '0' END"
    return (f"'''' || {shown} || ''' is ambiguous: ' || {grouped} || ' if ''' || {separator} || "
            f"''' groups thousands, ' || {decimal} || ' if it marks decimals; write ' || {grouped} || "
            f"' or ' || {unambiguous_decimal}")


def _failure(column: str, check: str, value_sql: str, message_sql: str) -> str:
    return f"{{'column': {ql(column)}, 'check': {ql(check)}, 'value': {value_sql}, 'message': {message_sql}}}"


def unless_identifying_sql(text: str) -> str:
    """The text shown in a message, masked where it could identify someone: shaped like an email, phone or
    CURP, or several words that are not all ANSWER_WORDS (a name typed in the wrong column), when the mask
    says how many words it hides."""
    words = f"regexp_split_to_array(lower(strip_accents(trim({text}))), '\\s+')"
    answer_words = "[" + ", ".join(ql(word) for word in ANSWER_WORDS) + "]"
    return (f"CASE WHEN regexp_matches({text}, {ql(IDENTIFYING_LOOK)}) THEN {ql(MASK)} "
            f"WHEN regexp_matches({text}, '[A-Za-z]') AND regexp_matches(trim({text}), '\\S\\s+\\S') "
            f"AND NOT list_has_all({answer_words}, {words}) "
            f"THEN '{MASK} (' || len({words}) || ' words, hidden: they could be a name)' ELSE {text} END")


def _column_check_sql(name: str, col: pa.Column, check: pa.Check, masked: bool,
                      shown_sql=lambda text: text) -> tuple[str, str]:
    """(condition that holds when the value FAILS, message SQL) for one built-in pandera check.

    `masked` hides the value altogether (an identifier); `shown_sql` guards any other value shown.
    """
    meta = metadata(col)
    kind = meta["kind"]
    c = qi(name)
    stats = check.statistics
    is_date = kind in ("date", "datetime")
    shown = ql(MASK) if masked else display_sql(c, kind) if is_date else shown_sql(display_sql(c, kind))
    if check.name == "isin":
        allowed = ", ".join(ql(value) for value in stats["allowed_values"])
        listed = ", ".join(str(value) for value in stats["allowed_values"][:MAX_LISTED_CODES])
        if len(stats["allowed_values"]) > MAX_LISTED_CODES:
            listed += ", ... (see docs/data-contract.md)"
        return f"{c} NOT IN ({allowed})", f"'''' || {shown} || ''' is not an allowed {name}: use one of {listed}'"
    bounds = {
        "greater_than_or_equal_to": (f"{c} < {{min}}",
                                     "is before the earliest allowed date {min}" if is_date else "is below the minimum {min}"),
        "greater_than": (f"{c} <= {{min}}", "must be after {min}" if is_date else "must be greater than {min}"),
        "less_than_or_equal_to": (f"{c} > {{max}}",
                                  "is after the latest allowed date {max} (dates in the future are not accepted)"
                                  if is_date else "is above the maximum {max}"),
        "less_than": (f"{c} >= {{max}}", "must be before {max}" if is_date else "must be less than {max}"),
    }
    if check.name in bounds:
        condition, wording = bounds[check.name]
        literals = {key.split("_")[0]: _literal(value, kind) for key, value in stats.items()}
        shown_bounds = {key.split("_")[0]: _shown(value) for key, value in stats.items()}
        return condition.format(**literals), f"{shown} || ' ' || {ql(wording.format(**shown_bounds))}"
    if check.name == "in_range":
        low, high = _literal(stats["min_value"], kind), _literal(stats["max_value"], kind)
        wording = f" is outside the range {_shown(stats['min_value'])} to {_shown(stats['max_value'])}"
        return f"({c} < {low} OR {c} > {high})", f"{shown} || {ql(wording)}"
    if check.name == "str_matches":
        hint = PATTERN_HINTS.get(stats["pattern"], f"the pattern {stats['pattern']}")
        subject = f"'{name}'" if masked else f"'''' || {shown_sql(c)} || ''''"
        return (f"NOT regexp_matches({c}, {ql(stats['pattern'])})",
                f"{subject} || {ql(' does not look like ' + hint)}")
    if check.name == "whole_number":
        return f"{c} <> round({c})", f"{shown} || ' is not a whole number: {name} counts'"
    if check.name == "str_length":
        low, high = stats["min_value"], stats["max_value"]
        return (f"(length({c}) < {low} OR length({c}) > {high})",
                f"'{name} is ' || length({c}) || ' characters long; expected {low} to {high}'")
    raise NotImplementedError(f"pandera check {check.name!r} on {name} has no SQL translation yet")


def _day_first_note_sql(v: str) -> str:
    """Why a slashed date may contradict its period: it was read day first, and could be month first."""
    month_first = f"strftime(try_strptime({v}, '%m/%d/%Y'), '%Y-%m-%d')"
    return (f"CASE WHEN regexp_full_match({v}, '(0?[1-9]|1[0-2])/(0?[1-9]|1[0-2])/[0-9]{{4}}') "
            f"AND split_part({v}, '/', 1)::INTEGER <> split_part({v}, '/', 2)::INTEGER "
            f"THEN ' (' || {v} || ' is read day first, as Mexican files write dates: if it means ' || "
            f"{month_first} || ', write that)' ELSE '' END")


def _row_check_sql(check: pa.Check, kinds: dict[str, str]) -> tuple[str, str, str, str]:
    """(failing condition, column reported, value SQL, message SQL) for a registered row rule."""
    stats = check.statistics
    if check.name == "column_compare":
        left, operator, right = qi(stats["left"]), stats["operator"], qi(stats["right"])
        opposite = {"<=": ">", "<": ">=", ">=": "<", ">": "<="}[operator]
        shown_left, shown_right = display_sql(left, kinds[stats["left"]]), display_sql(right, kinds[stats["right"]])
        value = f"{shown_left} || ' vs ' || {shown_right}"
        message = (f"'{stats['left']} (' || {shown_left} || ') must be {operator} "
                   f"{stats['right']} (' || {shown_right} || ')'")
        for name in (stats["left"], stats["right"]):
            if kinds[name] == "date":
                message += f" || {_day_first_note_sql(qi(name + '__v'))}"
        return f"{left} {opposite} {right}", stats["left"], value, message
    if check.name == "any_present":
        names = stats["columns"]
        # Blank as written: a value written but unreadable has its own message, and is not also "missing".
        condition = " AND ".join(f"{qi(name + '__v')} IS NULL" for name in names)
        return condition, names[0], "NULL", ql(f"at least one of {', '.join(names)} must be given")
    raise NotImplementedError(f"row rule {check.name!r} has no SQL translation yet")


def compile_validation(source: Source, schema: pa.DataFrameSchema, raw_relation: str, key: str,
                       known_tables: set[str]) -> CompiledQuery:
    """The query that validates `raw_relation`: text columns named as the schema, plus `_source_file`
    and `_row_number` (see `labelled`), from one file or several.

    `known_tables` are the staging tables that exist, for the cross-source reference rules.
    """
    columns = schema.columns
    kinds = {name: metadata(col)["kind"] for name, col in columns.items()}
    cleaned = ", ".join(f"{_clean_sql(qi(name), metadata(col).get('default'))} AS {qi(name + '__v')}"
                        for name, col in columns.items())
    parsed = ", ".join(f"{_parse_sql(col, qi(name + '__v'))} AS {qi(name)}" for name, col in columns.items())
    parameters: dict = {}
    extra = []
    computed: dict[str, str] = {}  # staged column -> its SQL over `p`, where it is not a column of `p`
    if source.pseudonym:
        output, identifiers = source.pseudonym
        inner, outer = hmac_pads(key)
        parameters.update(pseudonym_inner=inner, pseudonym_outer=outer)
        linked = source.linking.identifiers if source.linking else ()
        # Each linking identifier is hashed once, in `p`: its number is staged, and its hex names the record.
        hashed = {name: qi(name + "__pseudonym") for name in linked}
        extra += [f"{pseudonym_sql(name)} AS {hashed[name]}" for name in linked]
        computed.update({linking_column(name): linking_id_sql(f"p.{hashed[name]}") for name in linked})
        # The first identifier present names the record; an identifier that does not link is hashed only if
        # it is the first present (coalesce stops at the first that is not NULL).
        candidates = ", ".join(f"p.{hashed[name]}" if name in linked else pseudonym_sql(name) for name in identifiers)
        computed[output] = f"coalesce({candidates})"

    # In a person-level source any cell may hold an identifier typed into the wrong column: a value shown in
    # a message is masked when it looks like one.
    shown_sql = unless_identifying_sql if source.pseudonym is not None else (lambda text: text)
    reported_by_unit = source.rates_need_parts and "indicator_catalog" in known_tables
    if reported_by_unit:
        # A count never takes a fraction and a percentage never exceeds 100: that settles '1.927' reported for
        # a count (1927) and '50,000' for a percentage (50), which the column alone leaves ambiguous.
        v = qi("value__v")
        computed["value"] = (
            f"CASE WHEN p.value IS NULL AND {ambiguous_number_sql(v)} AND NOT starts_with({v}, '-') THEN CASE "
            f"WHEN indicator.unit = 'count' AND {decimal_reading_sql(v)} <> round({decimal_reading_sql(v)}) "
            f"THEN {grouped_reading_sql(v)} "
            f"WHEN indicator.unit = 'percent' AND {grouped_reading_sql(v)} > 100 THEN {decimal_reading_sql(v)} "
            f"END ELSE p.value END")
    failures: list[tuple[str, str]] = []  # (condition, failure struct)
    own_failures: dict[str, list[str]] = {name: [] for name in columns}  # a column's conditions on its own value
    for name, col in columns.items():
        c, v = qi(name), qi(name + "__v")
        staged = computed.get(name, f"p.{c}")
        kind = kinds[name]
        masked = kind == "identifier"
        shown_raw = ql(MASK) if masked else shown_sql(v)
        if not col.nullable:
            failures.append((f"{v} IS NULL", _failure(name, "not_nullable", "NULL", ql(f"{name} is required but empty"))))
        if kind in ("integer", "number"):
            own_failures[name].append(f"{v} IS NOT NULL AND {staged} IS NULL AND {ambiguous_number_sql(v)}")
            failures.append((own_failures[name][-1],
                             _failure(name, "ambiguous_number", shown_raw, _ambiguity_message_sql(v, shown_raw))))
        if kind in KIND_NAMES:
            unreadable = f"{v} IS NOT NULL AND {staged} IS NULL"
            if kind in ("integer", "number"):
                unreadable += f" AND NOT {ambiguous_number_sql(v)}"
            own_failures[name].append(unreadable)
            failures.append((unreadable, _failure(name, "dtype", shown_raw,
                                                  f"'''' || {shown_raw} || ''' is not {KIND_NAMES[kind]}'")))
        for check in col.checks:
            condition, message = _column_check_sql(name, col, check, masked, shown_sql)
            value = ql(MASK) if masked else shown_sql(f"CAST({c} AS VARCHAR)")
            own_failures[name].append(f"{c} IS NOT NULL AND {condition}")
            failures.append((own_failures[name][-1], _failure(name, check.name, value, message)))
    for check in schema.checks:
        condition, reported, value, message = _row_check_sql(check, kinds)
        # A comparison with a value already wrong on its own (a period ending in 2031) would only repeat it.
        compared = [check.statistics[side] for side in ("left", "right")] if check.name == "column_compare" else []
        already_wrong = [f"coalesce({own}, false)" for name in compared for own in own_failures[name]]
        if already_wrong:
            condition = f"({condition}) AND NOT ({' OR '.join(already_wrong)})"
        failures.append((condition, _failure(reported, check.name, value, message)))

    joins = []
    for index, reference in enumerate(source.references):
        alias, column = f"ref{index}", f"p.{qi(reference.column)}"
        if reference.table in known_tables:
            where = f" WHERE {reference.where}" if reference.where else ""
            joins.append(f"LEFT JOIN (SELECT DISTINCT {qi(reference.key)} AS k FROM {qi(reference.table)}{where}) "
                         f"{alias} ON {alias}.k = {column}")
            missing = f"{alias}.k IS NULL"
        else:
            missing = "true"
        shown = shown_sql(column)
        message = f"'''' || {shown} || " + ql("' is not in the " + reference.register)
        failures.append((f"{column} IS NOT NULL AND {missing}",
                         _failure(reference.column, "reference", shown, message)))
    if reported_by_unit:
        joins.append("LEFT JOIN (SELECT code AS k, unit FROM indicator_catalog) indicator ON indicator.k = p.indicator_code")
        value = computed["value"]
        # A part written but unreadable has its own message; saying it is missing as well would be false.
        failures.append((
            "indicator.unit = 'percent' AND ((p.numerator IS NULL AND p.numerator__v IS NULL) "
            "OR (p.denominator IS NULL AND p.denominator__v IS NULL))",
            _failure("numerator", "rate_parts", "NULL",
                     "p.indicator_code || ' is a percentage: give its numerator and denominator, not only a value'")))
        failures.append((
            f"indicator.unit = 'count' AND {value} <> round({value})",
            _failure("value", "count_is_whole", display_sql(value, "number"),
                     f"p.indicator_code || ' is a count: ' || {display_sql(value, 'number')} || "
                     "' is not a whole number'")))
        failures.append((
            # A numerator above its denominator is reported as such; the rate above 100 follows from it.
            f"indicator.unit = 'percent' AND {value} > 100 AND NOT coalesce(p.numerator > p.denominator, false)",
            _failure("value", "percent_in_range", display_sql(value, "number"),
                     f"p.indicator_code || ' is a percentage: ' || {display_sql(value, 'number')} || "
                     "' is above 100'")))
    if source.within_project_dates:
        if "stg_projects" in known_tables:
            joins.append("LEFT JOIN (SELECT project_code AS k, start_date, end_date FROM stg_projects) project "
                         "ON project.k = p.project_code")
            first, last = source.within_project_dates[0], source.within_project_dates[-1]
            failures.append((
                f"project.k IS NOT NULL AND (p.{qi(last)} < project.start_date OR p.{qi(first)} > project.end_date)",
                _failure(first, "within_project_dates", f"CAST(p.{qi(first)} AS VARCHAR)",
                         f"'dates ' || CAST(p.{qi(first)} AS VARCHAR) || "
                         + (f"' to ' || CAST(p.{qi(last)} AS VARCHAR) || " if first != last else "")
                         + "' fall outside project ' || p.project_code || '''s dates (' || "
                           "CAST(project.start_date AS VARCHAR) || ' to ' || CAST(project.end_date AS VARCHAR) || ')'")))

    output = staged_columns(source, schema)
    selected = ", ".join(f"{computed[name]} AS {qi(name)}" if name in computed else f"p.{qi(name)}"
                         for name, _ in output)
    any_failure = " OR ".join(f"coalesce({condition}, false)" for condition, _ in failures)
    failure_list = ", ".join(f"CASE WHEN coalesce({condition}, false) THEN {struct} END" for condition, struct in failures)
    extra_sql = (", " + ", ".join(extra)) if extra else ""
    sql = f"""
WITH cleaned AS (SELECT _source_file, _row_number, {cleaned} FROM {raw_relation}),
p AS (SELECT _source_file, _row_number, {parsed}, {", ".join(qi(n + '__v') for n in columns)}{extra_sql} FROM cleaned)
SELECT {selected},
       CASE WHEN {any_failure} THEN list_filter([{failure_list}], lambda f: f IS NOT NULL) END AS _failures
FROM p {" ".join(joins)}"""
    key = tuple(schema.unique or ())
    if not set(key) <= {name for name, _ in output}:
        raise ValueError(f"{source.name}: the key {key} must be made of staged columns")
    return CompiledQuery(sql, parameters, output, key)


def _repeated_keys_sql(key: tuple[str, ...], columns: list[str], table: str) -> str:
    """The rows of `table` whose key appears more than once in their file, each with its failure.

    When every row under a key holds the same `columns`, the first is kept and each further copy is
    rejected as a copy of it. When they differ, none can be told right, so all are rejected, each
    naming the rows it conflicts with. Rows are compared by a hash of their staged columns, so the
    window holds one number a row, not the row itself; and it holds only the rows whose key repeats,
    found first by a grouping (a window over every row of a ten-million-row source took seconds).
    """
    keys = ", ".join(key)
    copy = (f"'exact copy of row ' || first_row || ' (same key ({keys}) and the same values): "
            f"only row ' || first_row || ' is kept'")
    conflict = (f"'duplicate key ({keys}) with different values: conflicts with row' || "
                "CASE WHEN copies > 2 THEN 's ' ELSE ' ' END || "
                "array_to_string(list_filter(rows, lambda r: r <> _row_number), ', ')")
    content = f"hash(row({', '.join(qi(name) for name in columns)}))"
    failure = _failure(key[0], "unique", "NULL", f"CASE WHEN identical THEN {copy} ELSE {conflict} END")
    partition = ", ".join(qi(name) for name in ("_source_file", *key))
    # NULL keys repeat too (as in the window's partitions), hence IS NOT DISTINCT FROM.
    same = " AND ".join(f"t.{qi(name)} IS NOT DISTINCT FROM r.{qi(name)}" for name in ("_source_file", *key))
    return (f"SELECT _source_file, _row_number, {failure} AS failure "
            f"FROM (SELECT _source_file, _row_number, count(*) OVER same_key AS copies, "
            f"min(_row_number) OVER same_key AS first_row, list(_row_number ORDER BY _row_number) OVER same_key AS rows, "
            f"min({content}) OVER same_key = max({content}) OVER same_key AS identical "
            f"FROM (SELECT t.* FROM {qi(table)} t SEMI JOIN (SELECT {partition} FROM {qi(table)} GROUP BY ALL "
            f"HAVING count(*) > 1) r ON {same}) "
            f"WINDOW same_key AS (PARTITION BY {partition})) "
            f"WHERE NOT (identical AND _row_number = first_row)")
