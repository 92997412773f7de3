"""The indicator engine's arithmetic on hand-made results, and the registry's loud failures."""

import datetime as dt
from pathlib import Path

import pytest
import yaml

from mel_pipeline.indicators.engine import build_indicator_values, run_indicator
from mel_pipeline.reference.catalogue import IndicatorError, IndicatorSheet, load_registry, load_sheet, write_catalog
from mel_pipeline.settings import REPO_ROOT, Settings
from mel_pipeline.staging.contract import SOURCES
from tests.conftest import FIXTURE_AS_OF, pick, staged_connection

H1_22, H2_22, H1_23 = (dt.date(2022, 1, 1), dt.date(2022, 6, 30)), (dt.date(2022, 7, 1), dt.date(2022, 12, 31)), \
    (dt.date(2023, 1, 1), dt.date(2023, 6, 30))


def sheet(code="AWR-01", **fields) -> IndicatorSheet:
    defaults = dict(name="Test indicator", theme="awareness", definition="A definition long enough to pass.",
                    unit="count", direction="higher_is_better", accumulation="incremental", aggregation="sum",
                    data_sources=["indicator_reports"], approach="conventional")
    return IndicatorSheet(code=code, **{**defaults, **fields})


def values(indicator: IndicatorSheet, results: list[tuple], targets: list[dict] | None = None,
           projects: list[dict] | None = None, as_of: dt.date = FIXTURE_AS_OF) -> list[dict]:
    """indicator_values for results given as (project, period, numerator, denominator, value[, dimension, category])."""
    connection = staged_connection({"targets": targets or [], "projects": projects or []})
    write_catalog(connection, [indicator])
    build_indicator_values(connection, [indicator], as_of)  # creates indicator_results
    for project, period, numerator, denominator, value, *category in results:
        dimension, member = category or ("total", "total")
        connection.execute("INSERT INTO indicator_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [indicator.code, project, *period, dimension, member, numerator, denominator, value])
    build_indicator_values(connection, [indicator], as_of)
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
        load_sheet(path, SOURCES)
    # Errors in the sheet name the .yaml, errors in its SQL the .sql beside it.
    assert str(raised.value).startswith(path.with_suffix("").as_posix()) and message in str(raised.value)


def test_duplicate_codes_across_themes_are_refused(tmp_path):
    write_sheet(tmp_path, "awareness", "AWR-09", GOOD_SHEET, GOOD_SQL)
    write_sheet(tmp_path, "capacity", "AWR-09", GOOD_SHEET.replace("theme: awareness", "theme: capacity"), GOOD_SQL)
    with pytest.raises(IndicatorError, match="defined twice"):
        load_registry(tmp_path, SOURCES)


@pytest.mark.parametrize("sql, message", [
    ("SELECT 1 AS project_code", "must return exactly the columns"),
    (GOOD_SQL.replace("count(*) AS value", "count(*) AS value FROM v_attendance UNION ALL " + GOOD_SQL.split(" FROM ")[0])
     .replace("GROUP BY ALL", "", 1), "indicators/awareness/AWR-09.sql"),
    ("SELECT * FROM no_such_table", "AWR-09.sql: Catalog Error"),
])
def test_bad_indicator_sql_fails_naming_its_file(sql, message):
    indicator = IndicatorSheet(**{**sheet(code="AWR-09").model_dump(), "sql": sql})
    connection = staged_connection({})
    from mel_pipeline.indicators.engine import create_shared_views
    from mel_pipeline.reference.catalogue import shared_views_sql
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
    from mel_pipeline.indicators.engine import create_shared_views
    from mel_pipeline.reference.catalogue import shared_views_sql

    attendance = {"project_code": "MAP", "event_id": "E1", "event_date": dt.date(2022, 3, 1), "channel": "in_person",
                  "sex": "female", "state": "Jalisco", "participant_type": "worker", "person_id": "p1"}
    connection = staged_connection({"participants": [attendance]})
    settings = Settings.from_env(as_of=dt.date(2025, 12, 31))
    create_shared_views(connection, shared_views_sql(REPO_ROOT / "indicators"), settings)
    indicator = IndicatorSheet(**{**sheet(code="AWR-09").model_dump(), "sql": GOOD_SQL})

    def stage(source: str, file: str, sha256: str):
        connection.execute("INSERT INTO load_audit (source, file, sha256, status, rows_read, rows_loaded, rows_rejected, "
                           "contract_version, loaded_at) VALUES (?, ?, ?, 'loaded', 1, 1, 0, 'v1', now())",
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


H2_21 = (dt.date(2021, 7, 1), dt.date(2021, 12, 31))
YEAR_22 = (dt.date(2022, 1, 1), dt.date(2022, 12, 31))


def target(project: str, period: tuple, value: float, code: str = "AWR-01") -> dict:
    return {"project_code": project, "indicator_code": code, "period_start": period[0], "period_end": period[1],
            "target": value}


def project(code: str, start: dt.date = dt.date(2021, 7, 1), end: dt.date = dt.date(2023, 6, 30)) -> dict:
    """A register entry whose reports are due 30 days after each semester ends."""
    return {"project_code": code, "title": f"Project {code}", "grantee": "A grantee", "start_date": start,
            "end_date": end, "themes": "awareness", "report_due_days": 30}


def span(rows: list[dict], project_code: str, period_type: str) -> tuple:
    """(value, target, pct_of_target, status, periods_expected, periods_reported) of a total row."""
    row = pick(rows, project_code=project_code, period_type=period_type, disaggregation="total")
    return (row["value"], row["target"], row["pct_of_target"], row["status"], row["periods_expected"],
            row["periods_reported"])


def test_a_count_years_target_is_the_sum_of_its_semesters():
    rows = values(sheet(), [("A", H1_22, None, None, 95), ("A", H2_22, None, None, 80)],
                  [target("A", H1_22, 100), target("A", H2_22, 100)], [project("A")])
    # 175 of 200 is 87.5%: at risk (75 to 90).
    assert span(rows, "A", "year") == (175, 200, 87.5, "at_risk", 2, 2)


def test_a_percentage_has_no_year_target_unless_the_targets_file_states_one():
    """Each semester is on target (50% against 45 and 48); the sum of the targets (93) is no target for 50%."""
    percent = sheet(unit="percent", aggregation="ratio", reported_by_grantees=True)
    results = [("A", H1_22, 10, 20, None), ("A", H2_22, 15, 30, None)]
    semesters = [target("A", H1_22, 45), target("A", H2_22, 48)]
    rows = values(percent, results, semesters, [project("A")])
    assert [pick(rows, project_code="A", period_type="semester", period_start=p[0])["status"]
            for p in (H1_22, H2_22)] == ["on_track", "on_track"]
    assert span(rows, "A", "year") == (50.0, None, None, "no_target", 2, 2)
    stated = values(percent, results, [*semesters, target("A", YEAR_22, 55)], [project("A")])
    # 50 of a stated 55: 90.9%, on track.
    assert span(stated, "A", "year") == (50.0, 55, 100 * 50 / 55, "on_track", 2, 2)
    assert span(stated, "A", "life")[1] is None


def test_a_cumulative_indicators_span_target_is_its_latest_semesters():
    rows = values(sheet(accumulation="cumulative"), [("A", H1_22, None, None, 12), ("A", H2_22, None, None, 18)],
                  [target("A", H1_22, 10), target("A", H2_22, 20)], [project("A")])
    # The stock reached 18 against the latest target of 20 (not 30): 90%, on track.
    assert span(rows, "A", "year") == (18, 20, 90.0, "on_track", 2, 2)


def test_a_mean_has_no_span_target_and_an_undirected_indicator_no_status():
    mean = values(sheet(unit="score", aggregation="mean"), [("A", H1_22, 30, 10, 3.0), ("A", H2_22, 40, 10, 4.0)],
                  [target("A", H1_22, 3), target("A", H2_22, 3)], [project("A")])
    assert span(mean, "A", "year") == (3.5, None, None, "no_target", 2, 2)
    undirected = values(sheet(direction="none"), [("A", H1_22, None, None, 95)], [target("A", H1_22, 100)],
                        [project("A")])
    semester = pick(undirected, project_code="A", period_type="semester")
    assert (semester["target"], semester["pct_of_target"], semester["status"]) == (100, None, None)


def test_a_missing_report_keeps_its_target_and_marks_the_portfolio_incomplete():
    """A reports 95 of 100; B's report, due on 30 July 2022, never came: the portfolio reached 95 of 200."""
    rows = values(sheet(reported_by_grantees=True), [("A", H1_22, None, None, 95)],
                  [target("A", H1_22, 100), target("B", H1_22, 100)], [project("A"), project("B")],
                  as_of=dt.date(2022, 8, 1))
    missing = pick(rows, project_code="B", period_type="semester")
    assert (missing["value"], missing["target"], missing["status"]) == (None, 100, "not_reported")
    portfolio = pick(rows, project_code="PORTFOLIO", period_type="semester")
    assert (portfolio["value"], portfolio["target"], portfolio["pct_of_target"], portfolio["status"],
            portfolio["periods_expected"], portfolio["periods_reported"], portfolio["reporting_projects"]) == (
        95, 200, 47.5, "incomplete", 2, 1, "A")
    # Before B's report was due, the portfolio is A alone: 95 of 100, on track.
    early = values(sheet(reported_by_grantees=True), [("A", H1_22, None, None, 95)],
                   [target("A", H1_22, 100), target("B", H1_22, 100)], [project("A"), project("B")],
                   as_of=dt.date(2022, 7, 29))
    assert span(early, "PORTFOLIO", "semester")[1:] == (100, 95.0, "on_track", 1, 1)


def test_a_year_with_one_of_two_reports_says_so():
    """2022 H2's report was due on 30 January 2023; on 1 March 2023 only H1 (100 of a 100 target) is in."""
    rows = values(sheet(reported_by_grantees=True), [("A", H1_22, None, None, 100)],
                  [target("A", H1_22, 100), target("A", H2_22, 100)], [project("A")], as_of=dt.date(2023, 3, 1))
    year = pick(rows, project_code="A", period_type="year")
    assert (year["period_start"], year["period_end"]) == YEAR_22
    assert span(rows, "A", "year") == (100, 200, 50.0, "incomplete", 2, 1)
    # In September 2022 H2 was not due yet: the year so far is H1 against H1's target, and its end date says so.
    early = values(sheet(reported_by_grantees=True), [("A", H1_22, None, None, 100)],
                   [target("A", H1_22, 100), target("A", H2_22, 100)], [project("A")], as_of=dt.date(2022, 9, 1))
    year = pick(early, project_code="A", period_type="year")
    assert (year["period_end"], year["target"], year["status"], year["periods_expected"]) == (
        H1_22[1], 100, "on_track", 1)


def test_reports_are_expected_from_the_first_semester_with_a_target_or_a_report():
    """The project starts in July 2021 but is monitored from 2022: 2021 H2 is not counted as missing."""
    rows = values(sheet(reported_by_grantees=True), [("A", H1_22, None, None, 5), ("A", H2_22, None, None, 6)],
                  projects=[project("A", end=dt.date(2022, 12, 31))])
    assert span(rows, "A", "life") == (11, None, None, "no_target", 2, 2)
    assert H2_21[0] not in {row["period_start"] for row in rows}


def test_a_falling_cumulative_stock_is_flagged():
    rows = values(sheet(unit="percent", aggregation="ratio", accumulation="cumulative"), [
        ("A", H1_22, 16, 89, None), ("A", H2_22, 11, 48, None), ("A", H1_23, 14, 65, None),
        ("A", H2_22, 3, 10, None, "state", "Jalisco"), ("A", H1_23, 2, 10, None, "state", "Jalisco")])
    flagged = sorted((row["period_start"], row["disaggregation"]) for row in rows if row["stock_decreased"])
    # 89 -> 48 targeted firms and 16 -> 11 with a policy both fall in 2022 H2; Jalisco's 3 -> 2 is a category.
    assert flagged == [(H2_22[0], "total"), (H2_22[0], "total")]


@pytest.mark.parametrize("fields, message", [
    (dict(unit="percent", aggregation="ratio", target_rule="sum"), "a sum of percentages or means is no target"),
    (dict(target_rule="latest"), "target_rule 'latest' contradicts a incremental count aggregated by sum"),
    (dict(accumulation="cumulative", target_rule="sum"), "its targets roll up by 'latest'"),
])
def test_a_target_rule_that_contradicts_the_aggregation_is_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        sheet(**fields)


def level(disaggregations, projects="each", periods=("semester", "year", "life")):
    return {"disaggregations": list(disaggregations), "projects": projects, "periods": list(periods)}


@pytest.mark.parametrize("fields, message", [
    (dict(disaggregations=["sex"], publication={"levels": [level(["total"])]}),
     r"does not say where \['sex'\] is published"),
    (dict(publication={"levels": [level(["total", "state"])]}), r"names \['state'\], which are not among"),
    (dict(disaggregations=["sex"], publication={"levels": [level(["total", "sex"])], "withheld": ["sex"]}),
     r"both publishes and withholds \['sex'\]"),
    # A median cannot be rolled up and its SQL computes semesters only: it has no year figures to publish.
    (dict(aggregation="median", publication={"levels": [level(["total"], periods=["semester", "year"])]}),
     r"claims \['year'\] figures, which this indicator never has"),
])
def test_a_publication_the_sheet_cannot_honour_is_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        sheet(**fields)


def test_a_sheet_without_publication_publishes_everything_it_has():
    stated = sheet(aggregation="median", disaggregations=["sex"]).publication
    assert [(entry.disaggregations, entry.projects, entry.periods) for entry in stated.levels] == [
        (["total", "sex"], "each", ["semester"])]


def test_every_shipped_sheet_states_what_it_publishes():
    for path in sorted((REPO_ROOT / "indicators").glob("*/*.yaml")):
        assert "publication" in yaml.safe_load(path.read_text(encoding="utf-8")), path.name
