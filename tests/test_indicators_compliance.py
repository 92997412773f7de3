"""Compliance indicators on hand-made rows: exact numerators, denominators and values."""

import datetime as dt

import pytest

from tests.conftest import compute_indicators, compute_with_group_size, parts, report, row_of, semester_rows

H2_2021 = {"period_start": dt.date(2021, 7, 1), "period_end": dt.date(2021, 12, 31)}
H1 = {"period_start": dt.date(2022, 1, 1), "period_end": dt.date(2022, 6, 30)}
H2 = {"period_start": dt.date(2022, 7, 1), "period_end": dt.date(2022, 12, 31)}
PROJECTS = [
    {"project_code": "PADF", "title": "Employers", "grantee": "PADF", "start_date": dt.date(2020, 11, 1),
     "end_date": dt.date(2022, 6, 30), "themes": "compliance;cla", "report_due_days": 30},
    {"project_code": "CALLE", "title": "Supply chain", "grantee": "AIR", "start_date": dt.date(2019, 12, 15),
     "end_date": dt.date(2024, 3, 30), "themes": "enforcement;compliance", "report_due_days": 30},
]
# CMP-01 ---------------------------------------------------------------------------------------------

def test_cmp01_sme_policy_rate_is_cumulative_and_the_portfolio_keeps_an_ended_projects_smes():
    rows = compute_indicators({"projects": PROJECTS, "indicator_reports": [
        report("PADF", "CMP-01", H2_2021, 2, 20),
        report("PADF", "CMP-01", H1, 4, 20),
        report("PADF", "CMP-01", H1, 3, 12, employer_size="small"),
        report("PADF", "CMP-01", H1, 1, 8, employer_size="medium"),   # PADF ends in June 2022
        report("CALLE", "CMP-01", H1, 5, 10),
        report("CALLE", "CMP-01", H2, 8, 12),
        report("CALLE", "CMP-01", H2, 6, 8, employer_size="small"),
        report("CALLE", "CMP-01", H2, 2, 4, employer_size="medium"),
    ]}, ["CMP-01"])
    assert parts(row_of(rows, "PADF", **H1)) == (4, 20, 20.0)
    assert parts(row_of(rows, "PADF", disaggregation="employer_size", disaggregation_value="small", **H1)) == (
        3, 12, 25.0)
    # Small 3 of 12 plus medium 1 of 8 = 4 of 20, as in the total.
    sizes = semester_rows(rows, "PADF", H1, "employer_size")
    assert (sum(r["numerator"] for r in sizes), sum(r["denominator"] for r in sizes)) == (4, 20)
    # Latest-value rule: CALLE's 2022 is its H2 report (8/12), not (5 + 8) / (10 + 12).
    assert parts(row_of(rows, "CALLE", period_type="year", period_start=dt.date(2022, 1, 1))) == (8, 12, 200 / 3)
    assert parts(row_of(rows, "PADF", period_type="life")) == (4, 20, 20.0)
    # Portfolio H1: (4 + 5) / (20 + 10) = 30%; H2 keeps PADF's 4/20: (4 + 8) / (20 + 12) = 37.5%.
    assert parts(row_of(rows, "PORTFOLIO", **H2_2021)) == (2, 20, 10.0)
    assert parts(row_of(rows, "PORTFOLIO", **H1)) == (9, 30, 30.0)
    assert parts(row_of(rows, "PORTFOLIO", **H2)) == (12, 32, 37.5)
    # Medium-sized SMEs in H2: PADF's 1/8 carried + CALLE's 2/4 = 3/12.
    assert parts(row_of(rows, "PORTFOLIO", disaggregation="employer_size", disaggregation_value="medium",
                        **H2)) == (3, 12, 25.0)
    assert parts(row_of(rows, "PORTFOLIO", period_type="life")) == (12, 32, 37.5)


# CMP-02 ---------------------------------------------------------------------------------------------

def test_cmp02_votes_held_add_up_over_states_projects_and_semesters_and_take_the_corrected_count():
    rows = compute_indicators({"projects": PROJECTS, "indicator_reports": [
        # PADF's H1 total sent twice: the correction of 2022-08-01 (5 votes) replaces 4.
        report("PADF", "CMP-02", H1, value=4, submitted_on=dt.date(2022, 7, 15)),
        report("PADF", "CMP-02", H1, value=5, submitted_on=dt.date(2022, 8, 1)),
        report("PADF", "CMP-02", H1, value=3, state="Querétaro"),
        report("PADF", "CMP-02", H1, value=2, state="Guanajuato"),
        report("CALLE", "CMP-02", H1, value=4),
        report("CALLE", "CMP-02", H2, value=6),
    ]}, ["CMP-02"])
    assert parts(row_of(rows, "PADF", **H1)) == (None, None, 5)
    # Querétaro 3 + Guanajuato 2 = 5 votes, as in the total.
    states = {r["disaggregation_value"]: r["value"] for r in semester_rows(rows, "PADF", H1, "state")}
    assert states == {"Querétaro": 3, "Guanajuato": 2}
    assert sum(states.values()) == 5
    # Portfolio H1: 5 + 4 = 9; Querétaro 3. CALLE's 2022: 4 + 6 = 10 (incremental: summed).
    assert row_of(rows, "PORTFOLIO", **H1)["value"] == 9
    assert row_of(rows, "PORTFOLIO", disaggregation="state", disaggregation_value="Querétaro", **H1)["value"] == 3
    assert row_of(rows, "CALLE", period_type="year")["value"] == 10


# CMP-03 ---------------------------------------------------------------------------------------------

def test_cmp03_legitimation_rate_is_votes_legitimated_over_votes_held_and_never_judged():
    targets = [{"project_code": "PADF", "indicator_code": "CMP-03", **H1, "target": 50.0}]
    rows = compute_indicators({"projects": PROJECTS, "targets": targets, "indicator_reports": [
        report("PADF", "CMP-03", H1, 4, 5),
        report("PADF", "CMP-03", H1, 3, 3, state="Querétaro"),
        report("PADF", "CMP-03", H1, 1, 2, state="Guanajuato"),
        report("CALLE", "CMP-03", H1, 3, 4),
        report("CALLE", "CMP-03", H2, 5, 6),
    ]}, ["CMP-03"])
    padf = row_of(rows, "PADF", **H1)
    assert parts(padf) == (4, 5, 80.0)
    # Direction none: a free vote has no better result, so even a target gives no status and no % of target.
    assert (padf["target"], padf["pct_of_target"], padf["status"]) == (50.0, None, None)
    assert parts(row_of(rows, "PADF", disaggregation="state", disaggregation_value="Guanajuato", **H1)) == (
        1, 2, 50.0)
    states = semester_rows(rows, "PADF", H1, "state")
    assert (sum(r["numerator"] for r in states), sum(r["denominator"] for r in states)) == (4, 5)
    # Portfolio H1: (4 + 3) / (5 + 4) = 77.8%, not the mean of 80% and 75%. CALLE's 2022: 8 of 10.
    assert parts(row_of(rows, "PORTFOLIO", **H1)) == (7, 9, 700 / 9)
    assert parts(row_of(rows, "CALLE", period_type="year")) == (8, 10, 80.0)


# CMP-04 ---------------------------------------------------------------------------------------------

def test_cmp04_turnout_weighs_each_vote_by_its_eligible_workers():
    rows = compute_indicators({"projects": PROJECTS, "indicator_reports": [
        report("PADF", "CMP-04", H1, 800, 1000),
        report("PADF", "CMP-04", H1, 500, 600, state="Querétaro"),
        report("PADF", "CMP-04", H1, 300, 400, state="Guanajuato"),
        report("CALLE", "CMP-04", H1, 100, 200),
        report("CALLE", "CMP-04", H2, 150, 200),
    ]}, ["CMP-04"])
    assert parts(row_of(rows, "PADF", **H1)) == (800, 1000, 80.0)
    assert parts(row_of(rows, "PADF", disaggregation="state", disaggregation_value="Querétaro", **H1)) == (
        500, 600, 500 / 6)
    # 500 + 300 voters of 600 + 400 eligible, as in the total.
    states = semester_rows(rows, "PADF", H1, "state")
    assert (sum(r["numerator"] for r in states), sum(r["denominator"] for r in states)) == (800, 1000)
    # Portfolio H1: (800 + 100) / (1000 + 200) = 75%, not the mean of 80% and 50% (65%).
    assert parts(row_of(rows, "PORTFOLIO", **H1)) == (900, 1200, 75.0)
    # CALLE's 2022: (100 + 150) / (200 + 200) = 62.5%.
    assert parts(row_of(rows, "CALLE", period_type="year")) == (250, 400, 62.5)


# CMP-05 ---------------------------------------------------------------------------------------------

def opinion(number, project, group, plant, score, when=dt.datetime(2022, 3, 15, 10, 0)):
    return {"submission_id": f"S{number}", "submitted_at": when, "project_code": project,
            "stakeholder_group": group, "state": "Querétaro", "plant_code": plant, "employer_compliance": score}


def test_cmp05_gap_between_employer_and_worker_means_per_plant_and_the_mean_of_plant_gaps(monkeypatch):
    tables = {"projects": PROJECTS, "feedback": [
        # PADF, plant PL-1: employers (5 + 4) / 2 = 4.5; workers (2 + 3 + 1 + 4) / 4 = 2.5; gap 2.0.
        opinion(1, "PADF", "employer", "PL-1", 5), opinion(2, "PADF", "employer", "PL-1", 4),
        opinion(3, "PADF", "worker", "PL-1", 2), opinion(4, "PADF", "worker", "PL-1", 3),
        opinion(5, "PADF", "worker", "PL-1", 1),
        opinion(6, "PADF", "worker", " pl-1 ", 4),                 # the same plant, typed differently
        opinion(7, "PADF", "union", "PL-1", 1),                    # neither employer nor worker: left out
        # PL-2: employer 3, worker 4: gap -1 (workers more positive).
        opinion(8, "PADF", "employer", "PL-2", 3), opinion(9, "PADF", "worker", "PL-2", 4),
        opinion(10, "PADF", "worker", "PL-2", None),               # did not answer the item
        opinion(11, "PADF", "employer", "PL-3", 5),                # no worker answer: no gap
        opinion(15, "PADF", "worker", "PL-4", 2),                  # no employer answer: no gap
        opinion(12, "PADF", "worker", None, 1),                    # no plant: left out
        # CALLE, plant PL-1 as well: employer 3, worker 3: gap 0.
        opinion(13, "CALLE", "employer", "PL-1", 3), opinion(14, "CALLE", "worker", "PL-1", 3),
    ]}
    # With the sheet's minimum of 11 answers per group, no total is given for so few answers.
    assert {row["value"] for row in compute_indicators(tables, ["CMP-05"]) if row["disaggregation"] == "total"} == {None}
    rows = compute_with_group_size(tables, "CMP-05", 1, monkeypatch)
    # The denominator is the smaller group's answer count: PL-1 min(2 employers, 4 workers) = 2; PL-2 1.
    plants = {r["disaggregation_value"]: parts(r) for r in semester_rows(rows, "PADF", H1, "plant_code")}
    assert plants == {"PL-1": (None, 2, 2.0), "PL-2": (None, 1, -1.0)}
    # PADF's total: the mean of its plant gaps (2.0 - 1.0) / 2 = 0.5, over min(2 + 1 employer answers,
    # 4 + 1 worker answers) = 3; CALLE's: 0.
    assert parts(row_of(rows, "PADF", **H1)) == (None, 3, 0.5)
    assert row_of(rows, "CALLE", **H1)["value"] == 0.0
    # Portfolio pools PL-1's answers from both projects: employers (5 + 4 + 3) / 3 = 4.0, workers
    # (2 + 3 + 1 + 4 + 3) / 5 = 2.6, gap 1.4; with PL-2's -1 the total is (1.4 - 1.0) / 2 = 0.2.
    assert row_of(rows, "PORTFOLIO", disaggregation="plant_code", disaggregation_value="PL-1",
                  **H1)["value"] == pytest.approx(1.4)
    assert row_of(rows, "PORTFOLIO", **H1)["value"] == pytest.approx(0.2)
    # A year's gaps come from the year's answers (all in H1 here); there is no life figure.
    assert row_of(rows, "PADF", period_type="year", period_start=dt.date(2022, 1, 1),
                  period_end=dt.date(2022, 12, 31))["value"] == 0.5
    assert {row["period_type"] for row in rows} == {"semester", "year"}


# CMP-06 ---------------------------------------------------------------------------------------------

def outcome(number, project, when, substantiation="confirmed", theme="compliance", significance="high",
            contribution="direct", intention="intended", polarity="positive"):
    return {"outcome_id": f"O{number}", "project_code": project, "theme": theme, "actor_type": "employer",
            "outcome_date": when, "significance": significance, "contribution": contribution,
            "intention": intention, "polarity": polarity, "substantiation": substantiation}


def test_cmp06_counts_only_substantiated_compliance_outcomes_and_each_breakdown_adds_up():
    rows = compute_indicators({"projects": PROJECTS, "outcomes": [
        outcome(1, "CALLE", dt.date(2022, 2, 1)),
        outcome(2, "CALLE", dt.date(2022, 5, 1), substantiation="partially_confirmed", significance="medium",
                contribution="partial", intention="unintended", polarity="negative"),
        outcome(3, "CALLE", dt.date(2022, 3, 1), substantiation="pending"),          # not counted
        outcome(4, "CALLE", dt.date(2022, 4, 1), substantiation="not_confirmed"),    # not counted
        outcome(5, "CALLE", dt.date(2022, 3, 1), theme="enforcement"),               # another theme
        outcome(6, "CALLE", dt.date(2022, 9, 1), contribution="indirect"),           # H2
        outcome(7, "PADF", dt.date(2022, 6, 1), significance="low"),
    ]}, ["CMP-06"])
    # CALLE H1: outcomes 1 and 2.
    assert parts(row_of(rows, "CALLE", **H1)) == (None, None, 2)
    assert row_of(rows, "CALLE", disaggregation="polarity", disaggregation_value="negative", **H1)["value"] == 1
    for dimension in ("significance", "contribution", "intention", "polarity"):
        assert sum(r["value"] for r in semester_rows(rows, "CALLE", H1, dimension)) == 2, dimension
    # Portfolio H1: 2 (CALLE) + 1 (PADF); high significance: outcome 1 only. CALLE's 2022: 2 + 1 (H2).
    assert row_of(rows, "PORTFOLIO", **H1)["value"] == 3
    assert row_of(rows, "PORTFOLIO", disaggregation="significance", disaggregation_value="high", **H1)["value"] == 1
    assert row_of(rows, "CALLE", period_type="year")["value"] == 3
