"""Great Expectations suites over the marts: a hand-made marts file passes, each deliberate defect fails
the matching suite with the expectation that catches it named, and Data Docs are written."""

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from mel_pipeline.marts.quality import SUITES, validate_marts

SCHEMAS = {
    "indicator_catalog": "code VARCHAR, name VARCHAR, theme VARCHAR, unit VARCHAR, direction VARCHAR, "
                         "approach VARCHAR, on_track_pct DOUBLE, at_risk_pct DOUBLE",
    "indicator_values": "indicator_code VARCHAR, theme VARCHAR, project_code VARCHAR, period_type VARCHAR, "
                        "period_start TIMESTAMP, period_end TIMESTAMP, disaggregation VARCHAR, "
                        "disaggregation_value VARCHAR, unit VARCHAR, numerator DOUBLE, denominator DOUBLE, value DOUBLE, "
                        "baseline DOUBLE, target DOUBLE, pct_of_target DOUBLE, status VARCHAR, periods_expected INTEGER, "
                        "periods_reported INTEGER, reporting_projects VARCHAR, stock_decreased BOOLEAN, suppressed BOOLEAN",
    "theme_scorecard": "theme VARCHAR, project_code VARCHAR, period_type VARCHAR, period_start TIMESTAMP, "
                       "period_end TIMESTAMP, indicators BIGINT, on_track BIGINT, at_risk BIGINT, off_track BIGINT, "
                       "incomplete BIGINT, not_reported BIGINT, no_target BIGINT, not_judged BIGINT, suppressed BIGINT, "
                       "periods_expected HUGEINT, periods_reported HUGEINT, sentinel_signals BIGINT, "
                       "substantiated_outcomes BIGINT, msc_stories BIGINT",
    "sentinel_signals": "indicator_code VARCHAR, theme VARCHAR, series_code VARCHAR, geography VARCHAR, observed_on DATE, "
                        "label VARCHAR, value DOUBLE, unit VARCHAR, baseline_median DOUBLE, baseline_mad DOUBLE, "
                        "modified_z DOUBLE, threshold_upper DOUBLE, threshold_lower DOUBLE, "
                        "modified_z_threshold DOUBLE, signal BOOLEAN, signal_reason VARCHAR, source VARCHAR",
    "stakeholder_divergence": "item VARCHAR, project_code VARCHAR, year BIGINT, group_a VARCHAR, group_b VARCHAR, "
                              "respondents_a BIGINT, respondents_b BIGINT, mean_a DOUBLE, mean_b DOUBLE, gap DOUBLE, "
                              "divergent BOOLEAN, suppressed BOOLEAN",
    "load_audit": "source VARCHAR, file VARCHAR, sha256 VARCHAR, status VARCHAR, rows_read BIGINT, rows_loaded BIGINT, "
                  "rows_rejected BIGINT, contract_version VARCHAR, loaded_at TIMESTAMP, notes VARCHAR, rows_superseded BIGINT",
    "outcome_harvest_summary": "theme VARCHAR, project_code VARCHAR, year BIGINT, significance VARCHAR, "
                               "contribution VARCHAR, intention VARCHAR, polarity VARCHAR, outcomes HUGEINT, "
                               "substantiated_outcomes HUGEINT",
    "msc_summary": "project_code VARCHAR, domain VARCHAR, year BIGINT, selection_level VARCHAR, "
                   "stories_reaching_level BIGINT, stories_collected BIGINT, selection_rate_pct DOUBLE, "
                   "told_by_women BIGINT, storyteller_types BIGINT",
    "rejected_rows": 'source VARCHAR, file VARCHAR, row_number BIGINT, "column" VARCHAR, "check" VARCHAR, '
                     "value VARCHAR, message VARCHAR, severity VARCHAR",
}

H1, H1_END = dt.datetime(2023, 1, 1), dt.datetime(2023, 6, 30)
H2, H2_END = dt.datetime(2023, 7, 1), dt.datetime(2023, 12, 31)
H3, H3_END = dt.datetime(2024, 1, 1), dt.datetime(2024, 6, 30)


def value_row(code, theme, start, end, unit, numerator, denominator, value, target, pct, status,
              disaggregation="total", category="total", suppressed=False, reports=(2, 2, "MAP,SC-WORKERS")):
    """A PORTFOLIO semester cell; `reports` is (periods_expected, periods_reported, reporting_projects)."""
    return [code, theme, "PORTFOLIO", "semester", start, end, disaggregation, category, unit, numerator, denominator,
            value, None, target, pct, status, *reports, None if suppressed else False, suppressed]


def scorecard_row(theme, start, end, on_track=0, at_risk=0, off_track=0, incomplete=0, not_reported=0, no_target=0,
                  not_judged=0, suppressed=0, reports=(None, None)):
    statuses = [on_track, at_risk, off_track, incomplete, not_reported, no_target, not_judged, suppressed]
    return [theme, "PORTFOLIO", "semester", start, end, sum(statuses), *statuses, *reports, 0, 0, 0]


# Statuses follow indicator_engine: bands 90/75; lower is better is on track at or under target.
ROWS = {
    "indicator_catalog": [
        ["AWR-02", "Trained participants with a knowledge gain", "awareness", "percent", "higher_is_better",
         "conventional", 90, 75],
        ["CAP-01", "Women in union executive seats", "capacity", "count", "higher_is_better", "conventional", 90, 75],
        ["ENF-03", "Days from an RRM petition to its resolution", "enforcement", "days", "lower_is_better",
         "sentinel", 90, 75],
        ["CMP-01", "SMEs with a verified model policy", "compliance", "percent", "higher_is_better", "conventional",
         90, 75],
        ["CLA-06", "Emergent process steps recorded", "cla", "count", "none", "process_monitoring", 90, 75],
    ],
    "indicator_values": [
        value_row("AWR-02", "awareness", H1, H1_END, "percent", 40, 50, 80.0, 100, 80.0, "at_risk"),
        value_row("AWR-02", "awareness", H1, H1_END, "percent", None, None, None, None, None, "suppressed",
                  disaggregation="sex", category="female", suppressed=True),
        value_row("AWR-02", "awareness", H2, H2_END, "percent", 19, 20, 95.0, 100, 95.0, "on_track"),
        value_row("AWR-02", "awareness", H3, H3_END, "percent", None, None, None, 100, None, "suppressed",
                  suppressed=True),
        value_row("CAP-01", "capacity", H1, H1_END, "count", None, None, 120, 200, 60.0, "off_track"),
        value_row("CAP-01", "capacity", H2, H2_END, "count", None, None, 190, 200, 95.0, "incomplete",
                  reports=(2, 1, "MAP")),
        value_row("CAP-01", "capacity", H3, H3_END, "count", None, None, None, 200, None, "not_reported",
                  reports=(2, 0, None)),
        value_row("ENF-03", "enforcement", H1, H1_END, "days", None, None, 90, 120, 75.0, "on_track",
                  reports=(None, None, None)),
        value_row("ENF-03", "enforcement", H2, H2_END, "days", None, None, 150, 120, 125.0, "at_risk",
                  reports=(None, None, None)),
        value_row("CMP-01", "compliance", H1, H1_END, "percent", 10, 20, 50.0, None, None, "no_target"),
        value_row("CLA-06", "cla", H1, H1_END, "count", None, None, 3, 5, None, None),
    ],
    "theme_scorecard": [
        scorecard_row("awareness", H1, H1_END, at_risk=1, reports=(2, 2)),
        scorecard_row("awareness", H2, H2_END, on_track=1, reports=(2, 2)),
        scorecard_row("awareness", H3, H3_END, suppressed=1, reports=(2, 2)),
        scorecard_row("capacity", H1, H1_END, off_track=1, reports=(2, 2)),
        scorecard_row("capacity", H2, H2_END, incomplete=1, reports=(2, 1)),
        scorecard_row("capacity", H3, H3_END, not_reported=1, reports=(2, 0)),
        scorecard_row("enforcement", H1, H1_END, on_track=1),
        scorecard_row("enforcement", H2, H2_END, at_risk=1),
        scorecard_row("compliance", H1, H1_END, no_target=1),
        scorecard_row("cla", H1, H1_END, not_judged=1, reports=(2, 2)),
    ],
    "sentinel_signals": [
        ["ENF-03", "enforcement", "rrm_days", "Querétaro", dt.date(2023, 3, 6), "Unique Fabricating", 49, "days", 100,
         30, 0.6745 * (49 - 100) / 30, 120, None, 3.5, False, None, "USTR"],
        ["ENF-03", "enforcement", "rrm_days", "San Luis Potosí", dt.date(2023, 4, 20), "Goodyear SLP", 291, "days",
         100, 30, 0.6745 * (291 - 100) / 30, 120, None, 3.5, True,
         "above the upper threshold 120.0; modified z-score 4.3 beyond 3.5", "USTR"],
        ["ENF-03", "enforcement", "rrm_days", "Nuevo León", dt.date(2023, 6, 1), "Plant N", 100, "days", 100, 30, 0.0,
         120, None, 3.5, False, None, "USTR"],
    ],
    "stakeholder_divergence": [
        ["enforcement_improved", "PORTFOLIO", 2023, "academia", "employer", 5, 20, None, None, None, None, True],
        ["enforcement_improved", "PORTFOLIO", 2023, "employer", "government", 20, 20, 4.2, 4.0, 0.2, False, False],
        ["enforcement_improved", "PORTFOLIO", 2023, "employer", "worker", 20, 30, 4.2, 2.1, 2.1, True, False],
        ["enforcement_improved", "PORTFOLIO", 2023, "government", "worker", 20, 30, 4.0, 2.1, 1.9, True, False],
    ],
    "load_audit": [
        ["indicator_reports", "indicator_reports/a.csv", "ab12", "loaded", 10, 8, 1, "v1", dt.datetime(2024, 7, 1, 2),
         None, 1],
        ["indicator_reports", "indicator_reports/b.csv", "cd34", "quarantined", 0, 0, 0, "v1",
         dt.datetime(2024, 7, 1, 2), "not valid UTF-8", 0],
    ],
    "outcome_harvest_summary": [
        ["enforcement", "PORTFOLIO", 2023, "high", "direct", "intended", "positive", 3, 2],
        ["capacity", "PORTFOLIO", 2023, "medium", "partial", "unintended", "negative", 1, 0],
    ],
    "msc_summary": [
        ["PORTFOLIO", "enforcement", 2023, "collected", 4, 4, 100.0, 2, 2],
        ["PORTFOLIO", "enforcement", 2023, "project", 2, 4, 50.0, 1, 1],
    ],
    "rejected_rows": [
        ["indicator_reports", "indicator_reports/a.csv", 3, "value", "in_range", "-5", "-5 is below 0", "row"],
        ["indicator_reports", "indicator_reports/b.csv", None, None, "file_unreadable", None, "not valid UTF-8",
         "error"],
    ],
}


def write_marts(path: Path) -> Path:
    """A small marts file made by hand, every table valid."""
    connection = duckdb.connect(str(path))
    try:
        for table, schema in SCHEMAS.items():
            connection.execute(f"CREATE TABLE {table} ({schema})")
            width = len(ROWS[table][0])
            connection.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * width)})", ROWS[table])
    finally:
        connection.close()
    return path


@pytest.fixture(scope="module")
def clean_marts(tmp_path_factory) -> Path:
    return write_marts(tmp_path_factory.mktemp("marts") / "mel.duckdb")


def corrupted(clean: Path, folder: Path, sql: str) -> Path:
    """A copy of the clean marts with `sql` applied."""
    copy = folder / "corrupt.duckdb"
    shutil.copy(clean, copy)
    connection = duckdb.connect(str(copy))
    try:
        connection.execute(sql)
    finally:
        connection.close()
    return copy


def test_the_hand_made_marts_pass_every_suite_and_data_docs_are_written(clean_marts, tmp_path):
    report = validate_marts(clean_marts, tmp_path / "quality")
    assert report.passed, report.failure_summary()
    assert [suite.table for suite in report.suites] == list(SUITES)
    assert all(suite.expectations > 0 for suite in report.suites)
    assert report.docs_index == tmp_path / "quality" / "index.html"
    index = report.docs_index.read_text(encoding="utf-8")
    assert "indicator_values" in index and "load_audit" in index
    assert report.failure_summary() == ""


def test_a_second_run_replaces_the_data_docs_whole(clean_marts, tmp_path):
    validate_marts(clean_marts, tmp_path / "quality")
    validate_marts(clean_marts, tmp_path / "quality")
    assert [path.name for path in tmp_path.iterdir()] == ["quality"]
    assert len(list((tmp_path / "quality" / "validations" / "indicator_values").rglob("*.html"))) == 1


DEFECTS = {
    "duplicate key": (
        "INSERT INTO indicator_values SELECT * FROM indicator_values WHERE indicator_code = 'CAP-01'",
        "indicator_values", "expect_compound_columns_to_be_unique", "One row per indicator_code"),
    "percent of 130": (
        "UPDATE indicator_values SET value = 130 WHERE indicator_code = 'AWR-02' AND period_start = '2023-07-01'",
        "indicator_values", "expect_column_values_to_be_between", "Percentages lie between 0 and 100"),
    "suppressed row with a value": (
        "UPDATE indicator_values SET value = 7 WHERE disaggregation = 'sex'",
        "indicator_values", "expect_column_values_to_be_null", "A suppressed cell publishes no value"),
    "status inconsistent with pct_of_target": (
        "UPDATE indicator_values SET status = 'on_track' WHERE indicator_code = 'CAP-01' AND period_start = '2023-01-01'",
        "indicator_values", "expect_column_pair_values_a_to_be_greater_than_b", "on track means pct_of_target"),
    "judged on incomplete reports": (
        "UPDATE indicator_values SET status = 'on_track' WHERE indicator_code = 'CAP-01' AND period_start = '2023-07-01'",
        "indicator_values", "expect_column_pair_values_a_to_be_greater_than_b", "rests on every report that was due"),
    "incomplete with every report in": (
        "UPDATE indicator_values SET status = 'incomplete' WHERE indicator_code = 'CAP-01' AND period_start = '2023-01-01'",
        "indicator_values", "expect_column_pair_values_a_to_be_greater_than_b", "fewer reports came than were due"),
    "direction none judged": (
        "UPDATE indicator_values SET status = 'no_target' WHERE indicator_code = 'CLA-06'",
        "indicator_values", "expect_column_values_to_be_null", "without a direction has no status"),
    "theme missing from indicator_values": (
        "DELETE FROM indicator_values WHERE theme = 'compliance'",
        "indicator_values", "expect_column_distinct_values_to_contain_set", "Every theme is present"),
    "theme missing from theme_scorecard": (
        "DELETE FROM theme_scorecard WHERE theme = 'compliance'",
        "theme_scorecard", "expect_column_distinct_values_to_contain_set", "Every theme is present"),
    "rows read not accounted for": (
        "UPDATE load_audit SET rows_read = 12 WHERE file = 'indicator_reports/a.csv'",
        "load_audit", "expect_column_pair_values_to_be_equal", "rows_read = rows_loaded + rows_rejected"),
}


@pytest.fixture(scope="module")
def report_with(clean_marts, tmp_path_factory):
    """The quality report of the clean marts with one defect applied, computed once per defect."""
    reports = {}

    def report(defect: str):
        if defect not in reports:
            folder = tmp_path_factory.mktemp("defect")
            reports[defect] = validate_marts(corrupted(clean_marts, folder, DEFECTS[defect][0]), folder / "quality")
        return reports[defect]

    return report


@pytest.mark.parametrize("defect", DEFECTS)
def test_each_defect_fails_the_matching_suite_and_names_the_expectation(defect, report_with):
    _, table, expectation, description = DEFECTS[defect]
    report = report_with(defect)
    assert not report.passed
    assert [suite.table for suite in report.suites if not suite.passed] == [table]
    named = [failure for failure in report.suite(table).failures
             if failure.expectation == expectation and description in failure.description]
    assert len(named) == 1, report.failure_summary()
    assert f"{table}: {expectation}" in report.failure_summary()


def test_failures_carry_the_rows_that_broke_them(report_with):
    failure, = report_with("status inconsistent with pct_of_target").suite("indicator_values").failures
    assert failure.unexpected_count == 1
    assert "indicator_code=CAP-01" in failure.examples[0] and "period_start=2023-01-01" in failure.examples[0]


def test_a_missing_theme_is_named(report_with):
    failure, = report_with("theme missing from indicator_values").suite("indicator_values").failures
    assert failure.examples == ["missing compliance"]
