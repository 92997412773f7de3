"""The DuckDB validator compiled from the pandera contract: parsing, messages, pseudonyms, and
agreement with pandera's own pandas backend on the same rows."""

import datetime as dt
import hashlib
import hmac
from pathlib import Path

import duckdb
import pandera.pandas as pa
import pytest

from mel_pipeline.raw.files import RawFile, sha256_of
from mel_pipeline.raw.tabular import csv_relation, csv_scan_sql, map_header, sniff_csv
from mel_pipeline.staging.contract import SOURCES
from mel_pipeline.staging.validation import (
    compile_validation,
    labelled,
    linking_column,
    linking_id_pseudonym_sql,
    pseudonym,
    validate_into,
)

AS_OF = dt.date(2025, 12, 31)
KEY = "test-key"


def validate_csv(tmp_path: Path, source_name: str, text: str, registers: dict[str, str] | None = None):
    """Run the compiled validation over a CSV written from `text`; rows as dicts ordered by row number.

    `registers` are tables the cross-source rules read, each created from its SQL query.
    """
    path = tmp_path / "input.csv"
    path.write_text(text, encoding="utf-8")
    raw = RawFile(path, "input.csv", "csv", sha256_of(path), path.stat().st_size)
    source = SOURCES[source_name]
    schema = source.schema(AS_OF)
    dialect = sniff_csv(raw)
    header = map_header(dialect.header, schema, raw.relative_path)
    relation = csv_relation(csv_scan_sql(raw, dialect, "rejects", "reject_scans"), header, schema)
    registers = registers or {}
    query = compile_validation(source, schema, labelled(relation, raw.relative_path), KEY, set(registers))
    connection = duckdb.connect()
    for table, select in registers.items():
        connection.execute(f"CREATE TABLE {table} AS {select}")
    validate_into(connection, query, "checked")
    # Linking pseudonyms are 128-bit numbers, which pandas cannot hold: read as the hex they spell.
    linked = [linking_column(name) for name in source.linking.identifiers] if source.linking else []
    replaced = f" REPLACE ({', '.join(f'{linking_id_pseudonym_sql(name)} AS {name}' for name in linked)})" if linked else ""
    frame = connection.execute(f"SELECT *{replaced} FROM checked ORDER BY _row_number").df()
    connection.close()
    return frame


CROSS_SOURCE_CHECKS = {"reference", "within_project_dates", "rate_parts"}


def failures_of(frame) -> set[tuple[int, str, str]]:
    """(row, column, check) of every failure the SQL found, cross-source rules left out (no registers here)."""
    found = set()
    for row_number, failures in zip(frame["_row_number"], frame["_failures"]):
        for failure in failures if failures is not None else []:
            if failure["check"] not in CROSS_SOURCE_CHECKS:
                found.add((int(row_number), failure["column"], failure["check"]))
    return found


def pandera_verdicts(source_name: str, frame) -> set[tuple[int, str]]:
    """(row, check) of every failure pandera's pandas backend finds on the typed rows."""
    schema = SOURCES[source_name].schema(AS_OF)
    columns = {name: col for name, col in schema.columns.items() if col.metadata["kind"] != "identifier"}
    checks = [check for check in schema.checks if set(check.statistics.get("columns", [])) <= set(columns)]
    # The fixtures repeat a key only in exact copies, where pandera's "exclude_first" keeps the first as we do.
    checked = pa.DataFrameSchema(columns, checks=checks, unique=schema.unique, report_duplicates="exclude_first", coerce=True)
    typed = frame.drop(columns=["_failures"]).reset_index(drop=True)
    try:
        checked.validate(typed, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        names = cases["check"].astype(str).str.split("(").str[0].replace({"multiple_fields_uniqueness": "unique"})
        return {(int(typed.loc[index, "_row_number"]), name) for index, name in zip(cases["index"], names)}
    return set()


INDICATOR_ROWS = """project_code,indicator_code,period_start,period_end,sex,state,numerator,denominator,value
CALLE,ENF-01,2022-01-01,2022-06-30,,Querétaro,5,10,
CALLE,ENF-01,2022-01-01,2022-06-30,female,,6,4,
CALLE,ENF-01,2022-07-01,2022-06-30,male,,1,2,
CALLE,ENF-01,2022-01-01,2022-06-30,,Querétaro,5,10,
CALLE,XX,2022-01-01,2031-06-30,,,,,
CALLE,AWR-01,2022-01-01,2022-06-30,,,,,-3
CALLE,AWR-01,2022-01-01,2022-06-30,,Atlantis,,,7
"""

PARTICIPANT_ROWS = """project_code,event_id,event_date,channel,full_name,curp,phone,email,sex,age,state,participant_type,pre_score,post_score
MAP,E1,2022-03-01,in_person,Ana López,LOAA850101MDFPNN09,,,female,37,Puebla,worker,40,80
MAP,E1,2022-03-01,in_person,Ana Lopez,LOAA850101MDFPNN09,,,female,37,Puebla,worker,40,80
MAP,E2,2022-03-02,virtual,,BADCURP,,,male,7,Puebla,worker,10,120
MAP,E2,2022-03-02,radio,,,,,female,30,Puebla,worker,,
"""


@pytest.mark.parametrize("source_name, text", [("indicator_reports", INDICATOR_ROWS),
                                               ("participants", PARTICIPANT_ROWS)])
def test_sql_reaches_the_same_verdicts_as_pandera(tmp_path, source_name, text):
    frame = validate_csv(tmp_path, source_name, text)
    columns = SOURCES[source_name].schema(AS_OF).columns
    # Identifier columns never leave DuckDB, so pandera cannot see their checks: compare the rest.
    sql = {(row, check) for row, column, check in failures_of(frame)
           if column not in columns or columns[column].metadata["kind"] != "identifier"}
    expected = pandera_verdicts(source_name, frame)
    assert expected, "the fixture must contain failures for the comparison to mean anything"
    assert sql == expected


def test_indicator_report_failures_name_row_column_and_check(tmp_path):
    frame = validate_csv(tmp_path, "indicator_reports", INDICATOR_ROWS)
    assert failures_of(frame) == {
        (5, "project_code", "unique"),
        (3, "numerator", "column_compare"),
        (4, "period_start", "column_compare"),
        (6, "indicator_code", "str_matches"), (6, "period_end", "less_than_or_equal_to"),
        (6, "value", "any_present"),
        (7, "value", "greater_than_or_equal_to"),
        (8, "state", "isin"),
    }
    messages = {failure["check"]: failure["message"] for failures in frame["_failures"] if failures is not None
                for failure in failures}
    assert messages["column_compare"] in ("numerator (6) must be <= denominator (4)",
                                          "period_start (2022-07-01) must be < period_end (2022-06-30)")
    assert messages["isin"].startswith("'Atlantis' is not an allowed state: use one of Aguascalientes, ")
    assert messages["less_than_or_equal_to"] == (
        "2031-06-30 is after the latest allowed date 2025-12-31 (dates in the future are not accepted)")
    assert messages["unique"].startswith("exact copy of row 2 (same key (")
    assert messages["unique"].endswith(") and the same values): only row 2 is kept")


def test_conflicting_rows_under_one_key_are_all_rejected_each_naming_the_others(tmp_path):
    frame = validate_csv(tmp_path, "indicator_reports", (
        "project_code,indicator_code,period_start,period_end,sex,state,numerator,denominator,value\n"
        "CALLE,ENF-01,2022-01-01,2022-06-30,,,12,20,\n"
        "CALLE,ENF-01,2022-01-01,2022-06-30,,,13,20,\n"
        "CALLE,ENF-01,2022-01-01,2022-06-30,,,12,20,\n"
        "MAP,AWR-01,2022-01-01,2022-06-30,,,,,40\n"))
    unique = {row: [failure["message"] for failure in failures if failure["check"] == "unique"]
              for row, failures in zip(frame["_row_number"], frame["_failures"]) if failures is not None}
    assert {row: [message.split(": ", 1)[1] for message in messages] for row, messages in unique.items()
            if messages} == {
        2: ["conflicts with rows 3, 4"], 3: ["conflicts with rows 2, 4"], 4: ["conflicts with rows 2, 3"]}
    assert unique[2][0].startswith("duplicate key (project_code, indicator_code, ")


def test_participant_identifiers_are_checked_masked_and_pseudonymised(tmp_path):
    frame = validate_csv(tmp_path, "participants", PARTICIPANT_ROWS)
    failures = failures_of(frame)
    assert failures == {
        # rows 2 and 3 are the same person at the same event: the CURP decides, not the name's accents, and
        # their staged values are the same, so row 2 is kept and row 3 rejected as its copy
        (3, "project_code", "unique"),
        (4, "curp", "str_matches"), (4, "age", "in_range"), (4, "post_score", "in_range"),
        (5, "channel", "isin"), (5, "curp", "any_present"),
    }
    curp_failure = next(f for f in frame.loc[frame["_row_number"] == 4, "_failures"].iloc[0] if f["column"] == "curp")
    assert curp_failure["value"] == "***" and "BADCURP" not in curp_failure["message"]
    assert "full_name" not in frame.columns and "curp" not in frame.columns
    assert frame.loc[0, "person_id"] == pseudonym("curp", "LOAA850101MDFPNN09", KEY)
    expected = hmac.new(KEY.encode(), b"curp:LOAA850101MDFPNN09", hashlib.sha256).hexdigest()[:32]
    assert frame.loc[0, "person_id"] == expected


def test_cells_are_parsed_as_grantees_write_them(tmp_path):
    frame = validate_csv(tmp_path, "indicator_reports", (
        "proyecto;codigo_indicador;periodo_inicio;periodo_fin;sexo;estado;valor;notas\n"
        "calle;awr-01;01/01/2022;30/06/2022;Mujer;CDMX;\"12,345.5\";\n"
        "CALLE;AWR-01;2022-01-01;2022-06-30;hombre;nuevo leon;N/A;sin dato\n"
        "CALLE;AWR-01;2022-01-01;2022-06-30;;15;12.5;\n"
        "CALLE;AWR-01;2022-01-01;2022-06-30;;;12,5;\n"))
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    assert [(r["project_code"], r["indicator_code"], r["sex"], r["state"], r["value"], r["notes"]) for r in rows] == [
        ("CALLE", "AWR-01", "female", "Ciudad de México", 12345.5, None),
        ("CALLE", "AWR-01", "male", "Nuevo León", None, None),
        ("CALLE", "AWR-01", "total", "Estado de México", 12.5, None),
        ("CALLE", "AWR-01", "total", "total", 12.5, None),
    ]
    assert rows[0]["period_start"].date() == dt.date(2022, 1, 1) and rows[0]["period_end"].date() == dt.date(2022, 6, 30)
    # 'N/A' is an empty cell; '12,5' can only be a decimal comma.
    assert failures_of(frame) == {(3, "value", "any_present")}


REPORT_HEADER = "project_code,indicator_code,period_start,period_end,numerator,denominator,value\n"
CATALOG = {"indicator_catalog": "SELECT * FROM (VALUES ('AWR-01', 'count', true), ('ENF-01', 'percent', true), "
                                "('CAP-03', 'score', true)) AS t(code, unit, reported_by_grantees)"}


def value_and_failures(frame) -> list[tuple]:
    """Per row: (staged value, numerator, denominator, [(column, check, message) of each failure]);
    the registers' reference rules are left out (the fixtures have no projects register)."""
    return [(None if value != value else value, None if numerator != numerator else numerator,
             None if denominator != denominator else denominator,
             [(f["column"], f["check"], f["message"]) for f in (failures if failures is not None else []) if f["check"] != "reference"])
            for value, numerator, denominator, failures in
            zip(frame["value"], frame["numerator"], frame["denominator"], frame["_failures"])]


def test_a_separator_that_can_mean_one_thing_is_read_and_an_ambiguous_one_is_named(tmp_path):
    rows = ["1,234.5", "1.234,5", "1.234.567", "12,5", "0,927", "0.927", "1.927", "50,000", "-1.000"]
    frame = validate_csv(tmp_path, "indicator_reports", REPORT_HEADER + "".join(
        f"CALLE,CAP-03,2022-01-01,2022-06-30,,,\"{value}\"\n".replace("2022-01-01", f"2022-01-{day:02d}")
        for day, value in enumerate(rows, start=1)))
    assert value_and_failures(frame)[:6] == [(1234.5, None, None, []), (1234.5, None, None, []),
                                             (1234567.0, None, None, []), (12.5, None, None, []),
                                             (0.927, None, None, []), (0.927, None, None, [])]
    # No catalogue here: the column alone cannot settle these, and the consequent "give a value" is not said.
    assert value_and_failures(frame)[6:] == [
        (None, None, None, [("value", "ambiguous_number", "'1.927' is ambiguous: 1927 if '.' groups thousands, "
                                                          "1.927 if it marks decimals; write 1927 or 1.9270")]),
        (None, None, None, [("value", "ambiguous_number", "'50,000' is ambiguous: 50000 if ',' groups thousands, "
                                                          "50 if it marks decimals; write 50000 or 50")]),
        (None, None, None, [("value", "ambiguous_number", "'-1.000' is ambiguous: -1000 if '.' groups thousands, "
                                                          "-1 if it marks decimals; write -1000 or -1")]),
    ]


def test_what_an_indicator_counts_settles_an_ambiguous_number_and_bounds_its_value(tmp_path):
    frame = validate_csv(tmp_path, "indicator_reports", REPORT_HEADER + (
        'CALLE,AWR-01,2022-01-01,2022-06-30,,,"1.927"\n'      # a count takes no fraction: 1927
        'CALLE,AWR-01,2022-01-02,2022-06-30,,,"1,000"\n'      # 1 or 1000: both whole, still ambiguous
        'CALLE,AWR-01,2022-01-03,2022-06-30,,,569.5\n'        # a count with a fraction
        'CALLE,ENF-01,2022-01-04,2022-06-30,30,60,"50,000"\n'  # a percentage is at most 100: 50
        'CALLE,ENF-01,2022-01-05,2022-06-30,30,60,150\n'       # above 100
        'CALLE,ENF-01,2022-01-06,2022-06-30,"1.052","2.104",\n'  # counts of cases: 1052 of 2104
        'CALLE,ENF-01,2022-01-07,2022-06-30,"12.5",x,\n'      # a fraction of a case; a denominator unreadable
        'CALLE,CAP-03,2022-01-08,2022-06-30,,,"2,500"\n'),    # an index: 2.5 or 2500, nothing settles it
        CATALOG)
    assert value_and_failures(frame) == [
        (1927.0, None, None, []),
        (None, None, None, [("value", "ambiguous_number", "'1,000' is ambiguous: 1000 if ',' groups thousands, "
                                                          "1 if it marks decimals; write 1000 or 1")]),
        (569.5, None, None, [("value", "count_is_whole", "AWR-01 is a count: 569.5 is not a whole number")]),
        (50.0, 30.0, 60.0, []),
        (150.0, 30.0, 60.0, [("value", "percent_in_range", "ENF-01 is a percentage: 150 is above 100")]),
        (None, 1052.0, 2104.0, []),
        # Only what is wrong is said: no "give its numerator and denominator" for the unreadable one.
        (None, 12.5, None, [("numerator", "whole_number", "12.5 is not a whole number: numerator counts"),
                            ("denominator", "dtype", "'x' is not a number")]),
        (None, None, None, [("value", "ambiguous_number", "'2,500' is ambiguous: 2500 if ',' groups thousands, "
                                                          "2.5 if it marks decimals; write 2500 or 2.5")]),
    ]


def test_a_report_submitted_before_its_period_ends_is_rejected_naming_the_date_order(tmp_path):
    frame = validate_csv(tmp_path, "indicator_reports", (
        "project_code,indicator_code,period_start,period_end,sex,value,submitted_on\n"
        "CALLE,AWR-01,01/01/2023,30/06/2023,total,40,08/06/2023\n"    # US order: August 6 was meant
        "CALLE,AWR-01,01/01/2023,30/06/2023,female,41,2023-06-15\n"   # plainly too early
        "CALLE,AWR-01,01/01/2023,30/06/2023,male,42,15/07/2023\n"     # day first, after the period: fine
        "CALLE,AWR-01,01/01/2023,30/06/2031,total,43,2023-07-15\n"))  # the period's end is the mistake
    assert [[(f["column"], f["check"], f["message"]) for f in failures if f["check"] != "reference"]
            for failures in frame["_failures"]] == [
        [("submitted_on", "column_compare", "submitted_on (2023-06-08) must be >= period_end (2023-06-30) "
                                            "(08/06/2023 is read day first, as Mexican files write dates: "
                                            "if it means 2023-08-06, write that)")],
        [("submitted_on", "column_compare", "submitted_on (2023-06-15) must be >= period_end (2023-06-30)")],
        [],
        # Not also "submitted before the period ends": that follows from the wrong year alone.
        [("period_end", "less_than_or_equal_to",
          "2031-06-30 is after the latest allowed date 2025-12-31 (dates in the future are not accepted)")],
    ]


def test_messages_show_values_that_identify_no_one_and_mask_the_ones_that_could(tmp_path):
    frame = validate_csv(tmp_path, "participants", (
        "project_code,event_id,event_date,channel,curp,sex,age,state,participant_type,pre_score,post_score\n"
        "MAP,E1,2022-03-01,in_person,LOAA850101MDFPNN09,female,7,Puebla,worker,excelente,80\n"
        "MAP,E1,2022-03-01,in_person,LOAB850101MDFPNN09,female,55 1234 5678,Puebla,worker,40,80\n"
        "MAP,E1,2022-03-01,in_person,LOAC850101MDFPNN09,female,30,ana@example.org,worker,40,Ana Ruiz\n"
        "MAP,E1,2022-03-01,in_person,LOAD850101MDFPNN09,female,30,Puebla,worker,Muy de acuerdo,80\n"))
    assert [[(f["column"], f["check"], f["value"], f["message"]) for f in failures if f["check"] != "reference"]
            for failures in frame["_failures"]] == [
        [("age", "in_range", "7", "7 is outside the range 14 to 100"),
         ("pre_score", "dtype", "excelente", "'excelente' is not a number")],
        [("age", "dtype", "***", "'***' is not a whole number")],
        [("state", "isin", "***", "'***' is not an allowed state: use one of Aguascalientes, Baja California, "
                                  "Baja California Sur, Campeche, Chiapas, Chihuahua, Ciudad de México, Coahuila, "
                                  "Colima, Durango, Estado de México, Guanajuato, ... (see docs/data-contract.md)"),
         ("post_score", "dtype", "*** (2 words, hidden: they could be a name)",
          "'*** (2 words, hidden: they could be a name)' is not a number")],
        [("pre_score", "dtype", "Muy de acuerdo", "'Muy de acuerdo' is not a number")],
    ]
