"""The indicator engine's arithmetic on hand-made results, and the registry's loud failures."""

import datetime as dt
from pathlib import Path

import pytest

from mel_pipeline.indicator_engine import build_indicator_values, run_indicator, write_catalog
from mel_pipeline.indicator_registry import IndicatorError, IndicatorSheet, load_registry, load_sheet
from mel_pipeline.settings import Settings
from tests.conftest import pick, staged_connection

H1_22, H2_22, H1_23 = (dt.date(2022, 1, 1), dt.date(2022, 6, 30)), (dt.date(2022, 7, 1), dt.date(2022, 12, 31)), \
    (dt.date(2023, 1, 1), dt.date(2023, 6, 30))


def sheet(code="AWR-01", **fields) -> IndicatorSheet:
    defaults = dict(name="Test indicator", theme="awareness", definition="A definition long enough to pass.",
                    unit="count", direction="higher_is_better", accumulation="incremental", aggregation="sum",
                    data_sources=["indicator_reports"], approach="conventional")
    return IndicatorSheet(code=code, **{**defaults, **fields})


def values(indicator: IndicatorSheet, results: list[tuple], targets: list[dict] | None = None) -> list[dict]:
    """indicator_values for results given as (project, period, numerator, denominator, value[, dimension, category])."""
    connection = staged_connection({"targets": targets or []})
    write_catalog(connection, [indicator])
    build_indicator_values(connection, [indicator])  # creates indicator_results
    for project, period, numerator, denominator, value, *category in results:
        dimension, member = category or ("total", "total")
        connection.execute("INSERT INTO indicator_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [indicator.code, project, *period, dimension, member, numerator, denominator, value])
    build_indicator_values(connection, [indicator])
    result = connection.execute("SELECT * FROM indicator_values")
    names = [column[0] for column in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]


def test_rates_are_reaggregated_from_numerators_and_denominators():
    rows = values(sheet(unit="percent", aggregation="ratio"), [
        ("A", H1_22, 1, 4, None), ("B", H1_22, 9, 10, None), ("A", H2_22, 3, 4, None)])
    portfolio = pick(rows, project_code="PORTFOLIO", period_type="semester", period_start=H1_22[0])
    assert (portfolio["numerator"], portfolio["denominator"], portfolio["value"]) == (10, 14, 1000 / 14)
    year_a = pick(rows, project_code="A", period_type="year")
    assert (year_a["numerator"], year_a["denominator"], year_a["value"]) == (4, 8, 50.0)


def test_cumulative_indicators_take_the_latest_value_and_carry_ended_projects():
    rows = values(sheet(accumulation="cumulative"), [
        ("A", H1_22, None, None, 10), ("A", H2_22, None, None, 15),   # A stops reporting after 2022
        ("B", H1_22, None, None, 5), ("B", H2_22, None, None, 7), ("B", H1_23, None, None, 9)])
    assert pick(rows, project_code="A", period_type="year")["value"] == 15
    assert pick(rows, project_code="B", period_type="life")["value"] == 9
    # 2023 H1: B's 9 plus A's last known 15, not 9 alone.
    assert pick(rows, project_code="PORTFOLIO", period_type="semester", period_start=H1_23[0])["value"] == 24
    assert pick(rows, project_code="PORTFOLIO", period_type="life")["value"] == 24


def test_the_latest_row_is_taken_whole_even_when_its_numerator_is_missing():
    rows = values(sheet(unit="percent", aggregation="ratio", accumulation="cumulative"), [
        ("A", H1_22, 3, 10, None), ("A", H2_22, None, None, None)])
    year = pick(rows, project_code="A", period_type="year")
    assert (year["numerator"], year["denominator"], year["value"]) == (None, None, None)


def test_medians_of_semesters_are_not_rolled_up_into_years():
    rows = values(sheet(unit="days", aggregation="median", direction="lower_is_better"), [
        ("A", H1_22, None, None, 90), ("A", H2_22, None, None, 200)])
    assert [row["period_type"] for row in rows if row["project_code"] == "A"] == ["semester", "semester"]


def test_means_roll_up_as_sums_over_counts_when_the_parts_are_given():
    rows = values(sheet(unit="score", aggregation="mean"), [
        ("A", H1_22, 30, 10, 3.0), ("A", H2_22, 5, 1, 5.0)])
    year = pick(rows, project_code="A", period_type="year")
    assert (year["numerator"], year["denominator"], year["value"]) == (35, 11, 35 / 11)


def test_targets_percent_of_target_and_status_follow_the_direction():
    targets = [{"project_code": p, "indicator_code": "AWR-01", "period_start": H1_22[0], "period_end": H1_22[1],
                "target": 100} for p in ("A", "B", "C")]
    higher = values(sheet(), [("A", H1_22, None, None, 95), ("B", H1_22, None, None, 80),
                              ("C", H1_22, None, None, 50)], targets)
    assert [(pick(higher, project_code=p, period_type="semester")["pct_of_target"],
             pick(higher, project_code=p, period_type="semester")["status"]) for p in "ABC"] == [
        (95.0, "on_track"), (80.0, "at_risk"), (50.0, "off_track")]
    portfolio = pick(higher, project_code="PORTFOLIO", period_type="semester")
    # 225 of 300 is 75%: exactly the at-risk floor.
    assert (portfolio["value"], portfolio["target"], portfolio["status"]) == (225, 300, "at_risk")
    lower = values(sheet(direction="lower_is_better"), [("A", H1_22, None, None, 100), ("B", H1_22, None, None, 120),
                                                        ("C", H1_22, None, None, 130)], targets)
    assert [pick(lower, project_code=p, period_type="semester")["status"] for p in "ABC"] == [
        "on_track", "at_risk", "off_track"]
    untargeted = values(sheet(), [("D", H1_22, None, None, 5)])
    assert pick(untargeted, project_code="D", period_type="semester")["status"] == "no_target"


def write_sheet(folder: Path, theme: str, code: str, yaml_text: str, sql: str | None) -> Path:
    (folder / theme).mkdir(parents=True, exist_ok=True)
    path = folder / theme / f"{code}.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    if sql is not None:
        path.with_suffix(".sql").write_text(sql, encoding="utf-8")
    return path


GOOD_SHEET = """code: AWR-09
name: Test indicator
theme: awareness
definition: A definition long enough to pass validation.
unit: count
direction: higher_is_better
accumulation: incremental
aggregation: sum
data_sources: [participants]
approach: conventional
"""
GOOD_SQL = ("SELECT project_code, period_start, period_end, 'total' AS disaggregation, 'total' AS disaggregation_value, "
            "NULL AS numerator, NULL AS denominator, count(*) AS value FROM v_attendance GROUP BY ALL")


@pytest.mark.parametrize("yaml_text, sql, message", [
    (GOOD_SHEET, None, "its SQL file AWR-09.sql is missing"),
    (GOOD_SHEET.replace("unit: count", "unit: dollars"), GOOD_SQL, "unit: Input should be"),
    (GOOD_SHEET.replace("unit: count", "unit: percent"), GOOD_SQL, "aggregation must be 'ratio'"),
    (GOOD_SHEET.replace("code: AWR-09", "code: AWR-08"), GOOD_SQL, "does not match the file name AWR-09"),
    (GOOD_SHEET.replace("theme: awareness", "theme: cla"), GOOD_SQL, "does not match its folder awareness"),
    (GOOD_SHEET.replace("[participants]", "[payroll]"), GOOD_SQL, "unknown data source(s) ['payroll']"),
    (GOOD_SHEET, GOOD_SQL + "; DROP TABLE stg_projects", "must hold exactly one SELECT"),
    (GOOD_SHEET, "DELETE FROM stg_projects", "must hold exactly one SELECT"),
    ("code: [unclosed", GOOD_SQL, "not valid YAML"),
])
def test_a_bad_sheet_fails_loudly_naming_its_file(tmp_path, yaml_text, sql, message):
    path = write_sheet(tmp_path, "awareness", "AWR-09", yaml_text, sql)
    with pytest.raises(IndicatorError) as raised:
        load_sheet(path)
    # Errors in the sheet name the .yaml, errors in its SQL the .sql beside it.
    assert str(raised.value).startswith(path.with_suffix("").as_posix()) and message in str(raised.value)


def test_duplicate_codes_across_themes_are_refused(tmp_path):
    write_sheet(tmp_path, "awareness", "AWR-09", GOOD_SHEET, GOOD_SQL)
    write_sheet(tmp_path, "capacity", "AWR-09", GOOD_SHEET.replace("theme: awareness", "theme: capacity"), GOOD_SQL)
    with pytest.raises(IndicatorError, match="defined twice"):
        load_registry(tmp_path)


@pytest.mark.parametrize("sql, message", [
    ("SELECT 1 AS project_code", "must return exactly the columns"),
    (GOOD_SQL.replace("count(*) AS value", "count(*) AS value FROM v_attendance UNION ALL " + GOOD_SQL.split(" FROM ")[0])
     .replace("GROUP BY ALL", "", 1), "indicators/awareness/AWR-09.sql"),
    ("SELECT * FROM no_such_table", "AWR-09.sql: Catalog Error"),
])
def test_bad_indicator_sql_fails_naming_its_file(sql, message):
    indicator = IndicatorSheet(**{**sheet(code="AWR-09").model_dump(), "sql": sql})
    connection = staged_connection({})
    from mel_pipeline.indicator_engine import create_shared_views
    from mel_pipeline.indicator_registry import shared_views_sql
    from mel_pipeline.settings import REPO_ROOT
    settings = Settings.from_env(as_of=dt.date(2025, 12, 31))
    create_shared_views(connection, shared_views_sql(REPO_ROOT / "indicators"), settings)
    with pytest.raises(IndicatorError, match=message.replace("(", r"\(")):
        run_indicator(connection, indicator, settings)


def test_duplicate_output_rows_are_refused():
    sql = ("SELECT 'A' AS project_code, DATE '2022-01-01' AS period_start, DATE '2022-06-30' AS period_end, "
           "'total' AS disaggregation, 'total' AS disaggregation_value, NULL AS numerator, NULL AS denominator, "
           "1 AS value FROM range(2)")
    indicator = IndicatorSheet(**{**sheet(code="AWR-09").model_dump(), "sql": sql})
    with pytest.raises(IndicatorError, match="1 duplicate rows for the same project, period and disaggregation"):
        run_indicator(staged_connection({}), indicator, Settings.from_env())


def test_a_category_reported_in_one_semester_shares_its_totals_year():
    rows = values(sheet(), [("A", H1_22, None, None, 10), ("A", H2_22, None, None, 12),
                            ("A", H2_22, None, None, 5, "state", "Jalisco")])
    total, jalisco = (pick(rows, project_code="A", period_type="year", disaggregation_value=v)
                      for v in ("total", "Jalisco"))
    assert (jalisco["period_start"], jalisco["period_end"]) == (total["period_start"], total["period_end"]) == (
        dt.date(2022, 1, 1), dt.date(2022, 12, 31))


def test_an_indicator_is_recomputed_only_when_its_sql_or_a_table_it_reads_changes():
    """GOOD_SQL reads stg_participants through the v_attendance view, and nothing from indicator_reports."""
    from mel_pipeline.indicator_engine import create_shared_views
    from mel_pipeline.indicator_registry import shared_views_sql
    from mel_pipeline.settings import REPO_ROOT

    attendance = {"project_code": "MAP", "event_id": "E1", "event_date": dt.date(2022, 3, 1), "channel": "in_person",
                  "sex": "female", "state": "Jalisco", "participant_type": "worker", "person_id": "p1"}
    connection = staged_connection({"participants": [attendance]})
    settings = Settings.from_env(as_of=dt.date(2025, 12, 31))
    create_shared_views(connection, shared_views_sql(REPO_ROOT / "indicators"), settings)
    indicator = IndicatorSheet(**{**sheet(code="AWR-09").model_dump(), "sql": GOOD_SQL})

    def stage(source: str, file: str, sha256: str):
        connection.execute("INSERT INTO load_audit VALUES (?, ?, ?, 'loaded', 1, 1, 0, 'v1', now(), NULL)",
                           [source, file, sha256])

    first = run_indicator(connection, indicator, settings)
    again = run_indicator(connection, indicator, settings)
    stage("indicator_reports", "indicator_reports/a.csv", "aaa")
    after_another_source = run_indicator(connection, indicator, settings)
    stage("participants", "participants/b.csv", "bbb")
    after_its_source = run_indicator(connection, indicator, settings)
    changed_sql = IndicatorSheet(**{**indicator.model_dump(), "sql": GOOD_SQL.replace("count(*)", "count(*) + 1")})
    after_its_sql = run_indicator(connection, changed_sql, settings)
    assert [(run.rows, run.recomputed) for run in (first, again, after_another_source, after_its_source,
                                                   after_its_sql)] == [
        (1, True), (1, False), (1, False), (1, True), (1, True)]
    assert connection.execute("SELECT value FROM indicator_results WHERE indicator_code = 'AWR-09'").fetchall() == [(2.0,)]
