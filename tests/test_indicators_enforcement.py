"""Enforcement indicators on hand-made rows: exact numerators, denominators and values.

ENF-03 is also checked against the real USMCA Rapid Response Mechanism cases of the reference data.
"""

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from mel_pipeline.indicators.engine import run_indicator
from mel_pipeline.reference import public_data as reference
from mel_pipeline.reference.catalogue import IndicatorError, load_registry
from mel_pipeline.settings import Settings
from mel_pipeline.staging.contract import SOURCES
from tests import conftest
from tests.conftest import (
    compute_indicators,
    compute_sheets,
    compute_with_group_size,
    parts,
    pick,
    report,
    semester_rows,
)

H1 = {"period_start": dt.date(2022, 1, 1), "period_end": dt.date(2022, 6, 30)}
H2 = {"period_start": dt.date(2022, 7, 1), "period_end": dt.date(2022, 12, 31)}
H1_2023 = {"period_start": dt.date(2023, 1, 1), "period_end": dt.date(2023, 6, 30)}
PROJECTS = [
    {"project_code": "CALLE", "title": "Supply chain", "grantee": "AIR", "start_date": dt.date(2019, 12, 15),
     "end_date": dt.date(2024, 3, 30), "themes": "enforcement;cla", "report_due_days": 30},
    {"project_code": "PADF", "title": "Employers", "grantee": "PADF", "start_date": dt.date(2020, 11, 1),
     "end_date": dt.date(2022, 6, 30), "themes": "compliance;cla", "report_due_days": 30},
]
def semester_total(rows, project, period):
    return parts(pick(rows, project_code=project, period_type="semester", disaggregation="total", **period))


# ENF-01 ---------------------------------------------------------------------------------------------

def test_enf01_follow_up_rate_sums_counts_by_state_and_keeps_the_latest_resubmission():
    rows = compute_indicators({"projects": PROJECTS, "indicator_reports": [
        report("CALLE", "ENF-01", H1, 30, 40),
        report("CALLE", "ENF-01", H1, 12, 20, state="Puebla"),
        report("CALLE", "ENF-01", H1, 18, 20, state="Guanajuato"),
        report("PADF", "ENF-01", H1, 5, 10),
        report("PADF", "ENF-01", H1, 5, 10, state="Puebla"),
        # H2 sent twice: the correction of 2023-02-10 replaces the file of 2023-01-20.
        report("CALLE", "ENF-01", H2, 10, 20, submitted_on=dt.date(2023, 1, 20)),
        report("CALLE", "ENF-01", H2, 12, 20, submitted_on=dt.date(2023, 2, 10)),
    ]}, ["ENF-01"])
    assert semester_total(rows, "CALLE", H1) == (30, 40, 75.0)
    guanajuato = pick(rows, project_code="CALLE", period_type="semester", disaggregation="state",
                      disaggregation_value="Guanajuato", **H1)
    assert parts(guanajuato) == (18, 20, 90.0)
    # The states add up to the total: 12 + 18 = 30 of 20 + 20 = 40.
    states = semester_rows(rows, "CALLE", H1, "state")
    assert (sum(r["numerator"] for r in states), sum(r["denominator"] for r in states)) == (30, 40)
    # Portfolio: (30 + 5) / (40 + 10) = 70%, not the mean of 75% and 50%; Puebla (12 + 5) / (20 + 10).
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total", **H1)) == (
        35, 50, 70.0)
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="state",
                      disaggregation_value="Puebla", **H1)) == (17, 30, 100 * 17 / 30)
    # Resubmission: only 12/20 counts for H2; the year is (30 + 12) / (40 + 20) = 70%.
    assert semester_total(rows, "CALLE", H2) == (12, 20, 60.0)
    assert parts(pick(rows, project_code="CALLE", period_type="year", disaggregation="total")) == (42, 60, 70.0)


# ENF-02 ---------------------------------------------------------------------------------------------

def test_enf02_sanction_rate_by_employer_size_adds_up_and_reaggregates_from_counts():
    rows = compute_indicators({"projects": PROJECTS, "indicator_reports": [
        report("CALLE", "ENF-02", H1, 9, 30),
        report("CALLE", "ENF-02", H1, 1, 5, employer_size="micro"),
        report("CALLE", "ENF-02", H1, 2, 10, employer_size="small"),
        report("CALLE", "ENF-02", H1, 2, 5, employer_size="medium"),
        report("CALLE", "ENF-02", H1, 4, 10, employer_size="large"),
        report("PADF", "ENF-02", H1, 6, 10),
        report("PADF", "ENF-02", H1, 6, 10, employer_size="small"),
    ]}, ["ENF-02"])
    assert semester_total(rows, "CALLE", H1) == (9, 30, 30.0)
    assert parts(pick(rows, project_code="CALLE", period_type="semester", disaggregation="employer_size",
                      disaggregation_value="medium", **H1)) == (2, 5, 40.0)
    sizes = semester_rows(rows, "CALLE", H1, "employer_size")
    assert len(sizes) == 4
    # 1 + 2 + 2 + 4 = 9 sanctions of 5 + 10 + 5 + 10 = 30 violations, as in the total.
    assert (sum(r["numerator"] for r in sizes), sum(r["denominator"] for r in sizes)) == (9, 30)
    # Portfolio: (9 + 6) / (30 + 10) = 37.5%; small employers (2 + 6) / (10 + 10) = 40%.
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total", **H1)) == (
        15, 40, 37.5)
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="employer_size",
                      disaggregation_value="small", **H1)) == (8, 20, 40.0)


# ENF-03 ---------------------------------------------------------------------------------------------

def sentinel(observed_on, geography, days, label, series="rrm_days_to_resolution", sector="automotive parts"):
    return {"series_code": series, "observed_on": observed_on, "geography": geography, "value": days,
            "label": label, "source": "https://example.org/case", "sector": sector}


def open_case(observed_on, geography, label, sector="automotive parts"):
    return sentinel(observed_on, geography, 1, label, series="rrm_cases_open", sector=sector)


def enf03(rows, period_start, state=None):
    """ENF-03's PORTFOLIO semester value for the semester starting on `period_start` (a state's, or the total)."""
    dimension = {"disaggregation": "state", "disaggregation_value": state} if state else {"disaggregation": "total"}
    return pick(rows, project_code="PORTFOLIO", period_type="semester", period_start=period_start, **dimension)["value"]


def test_enf03_kaplan_meier_median_counts_open_cases_as_censored_at_the_as_of_date():
    rows = compute_indicators({"sentinel": [
        sentinel(dt.date(2023, 1, 10), "Coahuila", 100, "Case A"),
        open_case(dt.date(2023, 2, 10), "Coahuila", "Case B"),
        sentinel(dt.date(2023, 3, 1), "Guanajuato", 60, "Case C"),
        sentinel(dt.date(2023, 3, 15), "total", 200, "Case D without a state"),
        sentinel(dt.date(2023, 4, 1), "Coahuila", 1200, "Case E resolved after the as-of date"),
        sentinel(dt.date(2023, 5, 15), "Zacatecas", 347, "Mine", sector="mining"),       # out of scope
        sentinel(dt.date(2023, 5, 20), "Zacatecas", 10, "Case without a sector", sector=None),  # out of scope
        open_case(dt.date(2023, 7, 1), "Coahuila", "Case F"),                             # next semester
        sentinel(dt.date(2023, 1, 1), "total", 3, "Requests", series="rrm_cases_requested"),  # other series
        *(sentinel(dt.date(2024, 2, day), "Puebla", days, f"Case {days}") for day, days in
          [(1, 30), (2, 50), (3, 70), (4, 90)]),
    ]}, ["ENF-03"])  # as of 2025-12-31
    assert {row["project_code"] for row in rows} == {"PORTFOLIO"}
    assert {row["period_type"] for row in rows} == {"semester"}
    # 2023 H1 in scope: C resolved at 60, A at 100, D at 200; B open since 2023-02-10, censored at the
    # as-of date after 1,055 days; E would resolve on 2026-07-14, after the as-of date, so it is censored
    # there after 1,005 days (2023-04-01 to 2025-12-31).
    #   t = 60:  5 at risk, 1 resolved: S = 4/5 = 0.8
    #   t = 100: 4 at risk, 1 resolved: S = 0.8 x 3/4 = 0.6
    #   t = 200: 3 at risk, 1 resolved: S = 0.6 x 2/3 = 0.4 <= 0.5, so the median is 200 days
    # (the median of the resolved cases alone would be 100). A median has no numerator or denominator.
    assert parts(pick(rows, disaggregation="total", **H1_2023)) == (None, None, 200.0)
    # Coahuila: A resolved at 100 of 3 at risk (S = 2/3), then only censored cases: S never reaches 0.5.
    assert enf03(rows, dt.date(2023, 1, 1), "Coahuila") is None
    assert enf03(rows, dt.date(2023, 1, 1), "Guanajuato") == 60.0  # its only case: S(60) = 0
    # The case without a state is in the total only; the mine and the case without a sector are nowhere.
    assert {r["disaggregation_value"] for r in rows if r["disaggregation"] == "state"} == {
        "Coahuila", "Guanajuato", "Puebla"}
    # 2023 H2: one case, still open, so the semester has a row without a median.
    assert enf03(rows, dt.date(2023, 7, 1)) is None and enf03(rows, dt.date(2023, 7, 1), "Coahuila") is None
    # 2024 H1, four resolved cases: S(30) = 3/4, S(50) = 3/4 x 2/3 = 1/2 exactly, so the median is 50
    # (the smallest t with S(t) <= 0.5, not the average 60 of the two middle values).
    assert enf03(rows, dt.date(2024, 1, 1)) == 50.0


def test_enf03_sheet_parameters_reach_the_sql_and_unknown_or_unused_ones_fail():
    sheet = next(sheet for sheet in load_registry(conftest.REPO_ROOT / "indicators", SOURCES) if sheet.code == "ENF-03")
    assert sheet.parameters == {"sectors": ["automotive", "automotive parts", "rubber/tires"]}
    settings = Settings.from_env(as_of=conftest.FIXTURE_AS_OF)
    mining = sheet.model_copy(update={"parameters": {"sectors": ["mining"]}})
    rows = compute_sheets({"sentinel": [sentinel(dt.date(2023, 5, 15), "Zacatecas", 347, "Mine", sector="mining"),
                                        sentinel(dt.date(2023, 5, 16), "Coahuila", 20, "Plant")]}, [mining])
    # With the scope set to mining, only the mine is in: the Coahuila plant (automotive parts) is out.
    assert {(row["disaggregation_value"], row["value"]) for row in rows} == {("total", 347.0), ("Zacatecas", 347.0)}
    with pytest.raises(IndicatorError, match=r"unknown SQL parameter\(s\) \['sectors'\]"):
        run_indicator(duckdb.connect(), sheet.model_copy(update={"parameters": {}}), settings)
    with pytest.raises(IndicatorError, match=r"sheet parameter\(s\) \['sector'\] are not used by the SQL"):
        run_indicator(duckdb.connect(), sheet.model_copy(
            update={"parameters": {**sheet.parameters, "sector": ["mining"]}}), settings)
    with pytest.raises(IndicatorError, match=r"\['as_of'\] would replace the engine's own"):
        run_indicator(duckdb.connect(), sheet.model_copy(
            update={"parameters": {**sheet.parameters, "as_of": "2020-01-01"}}), settings)


@pytest.mark.parametrize("as_of, expected", [
    # As of 2025-12-31. 2021 H1: Tridonex 92, GM Silao 98 (both resolved): S(92) = 1/2, so 92.
    # 2022 H1: Panasonic 90, Teksid 107, Manufacturas VU (1st) 121: S(90) = 2/3, S(107) = 1/3, so 107.
    # 2022 H2: Manufacturas VU (2nd) only, still open: no median.
    # 2023 H1: Unique Fabricating 49, Goodyear SLP 291, Draxton open since its US request of 2023-05-31
    #   (censored at 945 days): S(49) = 2/3, S(291) = 2/3 x 1/2 = 1/3, so 291. Grupo México's mine (347)
    #   and INISA's garment plant (213) are out of the sector scope; with them and without Draxton the
    #   old median was (213 + 291) / 2 = 252.
    # 2023 H2: Yazaki 58, Autoliv 96, Teklas 252: S(58) = 2/3, S(96) = 1/3, so 96.
    # 2024 H1: Atento (services) and RV Fresh Foods (processed food) are open but out of scope: no row.
    (dt.date(2025, 12, 31), {dt.date(2021, 1, 1): 92.0, dt.date(2022, 1, 1): 107.0, dt.date(2022, 7, 1): None,
                             dt.date(2023, 1, 1): 291.0, dt.date(2023, 7, 1): 96.0}),
    # As of 2023-12-31 the later resolutions are not known yet. 2023 H1: Unique 49 resolved; Goodyear
    # (resolved 2024-02-05) censored at 255 days and Draxton at 214: S(49) = 2/3 and no later
    # resolution, so no median. 2023 H2: Yazaki resolved at 58 (2023-10-04); Teklas (resolved
    # 2024-04-09) censored at 152, Autoliv (2024-01-22) at 74: S(58) = 2/3, no median.
    (dt.date(2023, 12, 31), {dt.date(2021, 1, 1): 92.0, dt.date(2022, 1, 1): 107.0, dt.date(2022, 7, 1): None,
                             dt.date(2023, 1, 1): None, dt.date(2023, 7, 1): None}),
])
def test_enf03_on_the_real_rrm_cases_with_the_automotive_scope(as_of, expected):
    rows = [row._asdict() for row in reference.rrm_sentinel_rows(Path(conftest.REFERENCE) / "rrm_cases.csv")
            if row.observed_on <= as_of]
    computed = compute_indicators({"sentinel": rows}, ["ENF-03"], as_of=as_of)
    assert {row["period_start"]: row["value"] for row in computed if row["disaggregation"] == "total"} == expected
    # By state, as of 2025-12-31: 2021 H1 Guanajuato (GM Silao) 98, Tamaulipas (Tridonex) 92; 2022 H1
    # Coahuila (Teksid 107, VU 121): S(107) = 1/2, so 107.
    if as_of == dt.date(2025, 12, 31):
        assert enf03(computed, dt.date(2021, 1, 1), "Guanajuato") == 98.0
        assert enf03(computed, dt.date(2021, 1, 1), "Tamaulipas") == 92.0
        assert enf03(computed, dt.date(2022, 1, 1), "Coahuila") == 107.0
        assert enf03(computed, dt.date(2023, 1, 1), "Guanajuato") is None  # Draxton, open


# ENF-04 ---------------------------------------------------------------------------------------------

def test_enf04_cumulative_rollups_take_the_latest_report_and_the_portfolio_keeps_ended_projects():
    rows = compute_indicators({"projects": PROJECTS, "indicator_reports": [
        report("CALLE", "ENF-04", H1, 3, 10),
        report("CALLE", "ENF-04", H2, 7, 12),
        report("CALLE", "ENF-04", H1_2023, 9, 12),
        report("PADF", "ENF-04", H1, 2, 4),   # PADF ends in June 2022: its last figures to date
    ]}, ["ENF-04"])
    assert parts(pick(rows, project_code="CALLE", period_type="semester", disaggregation="total", **H2)) == (
        7, 12, 100 * 7 / 12)
    # Latest-value rule: the 2022 year is the H2 report (7/12), not 3 + 7 of 10 + 12;
    # the life of the project is the latest report of all (9/12 = 75%).
    calle_2022 = pick(rows, project_code="CALLE", period_type="year", disaggregation="total",
                      period_start=dt.date(2022, 1, 1))
    assert parts(calle_2022) == (7, 12, 100 * 7 / 12)
    assert parts(pick(rows, project_code="CALLE", period_type="life", disaggregation="total")) == (9, 12, 75.0)
    # Portfolio H1: (3 + 2) / (10 + 4); H2 carries PADF's 2/4 forward: (7 + 2) / (12 + 4) = 56.25%,
    # and 2023-H1 (9 + 2) / (12 + 4), where summing the semester's reports alone would give 9/12.
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total", **H1)) == (
        5, 14, 100 * 5 / 14)
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total", **H2)) == (
        9, 16, 56.25)
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total",
                      **H1_2023)) == (11, 16, 68.75)
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="life", disaggregation="total")) == (11, 16, 68.75)


# ENF-05 ---------------------------------------------------------------------------------------------

def answer(number, project, group, score, when=dt.datetime(2022, 3, 15, 10, 0)):
    return {"submission_id": f"S{number}", "submitted_at": when, "project_code": project,
            "stakeholder_group": group, "state": "Guanajuato", "enforcement_improved": score}


def test_enf05_group_means_and_the_gap_between_the_extreme_groups(monkeypatch):
    later = dt.datetime(2022, 9, 1, 9, 0)
    tables = {"projects": PROJECTS, "feedback": [
        answer(1, "CALLE", "government", 5), answer(2, "CALLE", "government", 4),
        answer(3, "CALLE", "employer", 4),
        answer(4, "CALLE", "worker", 2), answer(5, "CALLE", "worker", 1), answer(6, "CALLE", "worker", 1),
        answer(7, "CALLE", "civil_society", None),          # did not answer the item: no group row
        answer(8, "PADF", "employer", 5), answer(9, "PADF", "employer", 5),
        answer(10, "PADF", "worker", 3),
        answer(11, "CALLE", "union", 3, when=later),        # the only group heard in H2
    ]}
    # Every group here is smaller than the sheet's minimum of 11 answers: no gap is taken between them.
    assert {row["value"] for row in compute_indicators(tables, ["ENF-05"]) if row["disaggregation"] == "total"} == {None}
    rows = compute_with_group_size(tables, "ENF-05", 1, monkeypatch)
    calle = {r["disaggregation_value"]: parts(r) for r in semester_rows(rows, "CALLE", H1, "stakeholder_group")}
    # government (5 + 4) / 2 = 4.5; employer 4 / 1; worker (2 + 1 + 1) / 3.
    assert calle == {"government": (9, 2, 4.5), "employer": (4, 1, 4.0), "worker": (4, 3, 4 / 3)}
    # Gap: highest mean 4.5 (government) minus lowest 4/3 (workers) = 3.1667 points.
    calle_total = pick(rows, project_code="CALLE", period_type="semester", disaggregation="total", **H1)
    assert (calle_total["numerator"], calle_total["denominator"]) == (None, None)
    assert calle_total["value"] == pytest.approx(4.5 - 4 / 3)
    # Portfolio pools respondents: employer (4 + 5 + 5) / 3 = 14/3, worker (2 + 1 + 1 + 3) / 4 = 7/4,
    # government 9/2; gap 14/3 - 7/4 = 35/12, not a combination of the project gaps (3.17 and 2).
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="stakeholder_group",
                      disaggregation_value="employer", **H1)) == (14, 3, 14 / 3)
    assert pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total",
                **H1)["value"] == pytest.approx(35 / 12)
    # One group alone gives no gap (not a reassuring 0), though its mean is shown.
    assert pick(rows, project_code="CALLE", period_type="semester", disaggregation="total", **H2)["value"] is None
    assert parts(pick(rows, project_code="CALLE", period_type="semester", disaggregation="stakeholder_group",
                      disaggregation_value="union", **H2)) == (3, 1, 3.0)
    # A year's means and gap come from the year's answers (not from the semesters' gaps); there is no life figure.
    assert parts(pick(rows, project_code="CALLE", period_type="year", disaggregation="stakeholder_group",
                      disaggregation_value="union", period_start=dt.date(2022, 1, 1))) == (3, 1, 3.0)
    assert pick(rows, project_code="CALLE", period_type="year", disaggregation="total",
                period_start=dt.date(2022, 1, 1))["value"] == pytest.approx(4.5 - 4 / 3)
    assert {row["period_type"] for row in rows} == {"semester", "year"}


# ENF-06 ---------------------------------------------------------------------------------------------

def outcome(number, project, when, substantiation="confirmed", theme="enforcement", significance="high",
            contribution="direct", intention="intended", polarity="positive"):
    return {"outcome_id": f"O{number}", "project_code": project, "theme": theme, "outcome_date": when,
            "significance": significance, "contribution": contribution, "intention": intention,
            "polarity": polarity, "substantiation": substantiation}


def test_enf06_counts_only_substantiated_enforcement_outcomes_and_each_breakdown_adds_up():
    rows = compute_indicators({"projects": PROJECTS, "outcomes": [
        outcome(1, "CALLE", dt.date(2022, 2, 1)),
        outcome(2, "CALLE", dt.date(2022, 5, 1), substantiation="partially_confirmed", significance="medium",
                contribution="partial", intention="unintended", polarity="negative"),
        outcome(3, "CALLE", dt.date(2022, 3, 1), substantiation="pending"),          # not counted
        outcome(4, "CALLE", dt.date(2022, 4, 1), substantiation="not_confirmed"),    # not counted
        outcome(5, "CALLE", dt.date(2022, 3, 1), theme="compliance"),                # another theme
        outcome(6, "CALLE", dt.date(2022, 9, 1), contribution="indirect"),           # H2
        outcome(7, "PADF", dt.date(2022, 6, 1), significance="low"),
    ]}, ["ENF-06"])
    # CALLE H1: outcomes 1 and 2.
    assert pick(rows, project_code="CALLE", period_type="semester", disaggregation="total", **H1)["value"] == 2
    assert pick(rows, project_code="CALLE", period_type="semester", disaggregation="polarity",
                disaggregation_value="negative", **H1)["value"] == 1
    for dimension in ("significance", "contribution", "intention", "polarity"):
        assert sum(r["value"] for r in semester_rows(rows, "CALLE", H1, dimension)) == 2, dimension
    # Portfolio H1: 2 (CALLE) + 1 (PADF); CALLE's year 2022: 2 + 1 (H2).
    assert pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total", **H1)["value"] == 3
    assert pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="significance",
                disaggregation_value="high", **H1)["value"] == 1
    assert pick(rows, project_code="CALLE", period_type="year", disaggregation="total")["value"] == 3
