"""Capacity indicators on hand-made rows: exact numerators, denominators and values."""

import datetime as dt

from tests.conftest import compute_indicators, parts, report, row_of, semester_rows

H1 = {"period_start": dt.date(2022, 1, 1), "period_end": dt.date(2022, 6, 30)}
H2 = {"period_start": dt.date(2022, 7, 1), "period_end": dt.date(2022, 12, 31)}
H1_2023 = {"period_start": dt.date(2023, 1, 1), "period_end": dt.date(2023, 6, 30)}
PROJECTS = [
    {"project_code": "SC", "title": "Workers", "grantee": "Solidarity", "start_date": dt.date(2021, 1, 1),
     "end_date": dt.date(2024, 9, 30), "themes": "capacity", "report_due_days": 30},
    {"project_code": "MAP", "title": "Awareness", "grantee": "Partners", "start_date": dt.date(2021, 1, 1),
     "end_date": dt.date(2022, 6, 30), "themes": "awareness;capacity", "report_due_days": 30},
]
# CAP-01 ---------------------------------------------------------------------------------------------

def test_cap01_womens_seat_share_is_a_stock_whose_latest_report_is_the_year_and_the_portfolio_carries_it():
    rows = compute_indicators({"projects": PROJECTS, "indicator_reports": [
        report("SC", "CAP-01", H1, 6, 24),
        report("SC", "CAP-01", H1, 2, 10, state="Jalisco"),
        report("SC", "CAP-01", H1, 4, 14, state="Puebla"),
        # H2 sent twice: the correction of 2023-02-10 replaces the file of 2023-01-20.
        report("SC", "CAP-01", H2, 8, 27, submitted_on=dt.date(2023, 1, 20)),
        report("SC", "CAP-01", H2, 9, 27, submitted_on=dt.date(2023, 2, 10)),
        report("SC", "CAP-01", H1_2023, 10, 25),
        report("MAP", "CAP-01", H1, 3, 6),           # MAP ends in June 2022: its last committees
    ]}, ["CAP-01"])
    assert parts(row_of(rows, "SC", **H1)) == (6, 24, 25.0)
    assert parts(row_of(rows, "SC", disaggregation="state", disaggregation_value="Jalisco", **H1)) == (2, 10, 20.0)
    # The states add up to the total: 2 + 4 = 6 women of 10 + 14 = 24 seats.
    states = semester_rows(rows, "SC", H1, "state")
    assert (sum(r["numerator"] for r in states), sum(r["denominator"] for r in states)) == (6, 24)
    assert parts(row_of(rows, "SC", **H2)) == (9, 27, 100 * 9 / 27)
    # Latest-value rule: SC's 2022 is its H2 report (9/27), not (6 + 9) / (24 + 27); its life is 10/25.
    assert parts(row_of(rows, "SC", period_type="year", period_start=dt.date(2022, 1, 1))) == (9, 27, 100 * 9 / 27)
    assert parts(row_of(rows, "SC", period_type="life")) == (10, 25, 40.0)
    # Portfolio H1: (6 + 3) / (24 + 6) = 30%, not the mean of 25% and 50%.
    assert parts(row_of(rows, "PORTFOLIO", **H1)) == (9, 30, 30.0)
    # Later semesters carry MAP's last seats: H2 (9 + 3) / (27 + 6), 2023-H1 (10 + 3) / (25 + 6).
    assert parts(row_of(rows, "PORTFOLIO", **H2)) == (12, 33, 100 * 12 / 33)
    assert parts(row_of(rows, "PORTFOLIO", **H1_2023)) == (13, 31, 100 * 13 / 31)
    assert parts(row_of(rows, "PORTFOLIO", period_type="life")) == (13, 31, 100 * 13 / 31)


# CAP-02 ---------------------------------------------------------------------------------------------

def test_cap02_election_rate_sums_unions_over_states_projects_and_semesters():
    rows = compute_indicators({"projects": PROJECTS, "indicator_reports": [
        report("SC", "CAP-02", H1, 3, 4),
        report("SC", "CAP-02", H1, 1, 2, state="Jalisco"),
        report("SC", "CAP-02", H1, 2, 2, state="Puebla"),
        report("SC", "CAP-02", H2, 5, 6),
        report("MAP", "CAP-02", H1, 1, 2),
        report("MAP", "CAP-02", H1, 1, 2, state="Puebla"),
    ]}, ["CAP-02"])
    assert parts(row_of(rows, "SC", **H1)) == (3, 4, 75.0)
    assert parts(row_of(rows, "SC", disaggregation="state", disaggregation_value="Jalisco", **H1)) == (1, 2, 50.0)
    # Jalisco 1 of 2 plus Puebla 2 of 2 = 3 of 4 unions, as in the total.
    states = semester_rows(rows, "SC", H1, "state")
    assert (sum(r["numerator"] for r in states), sum(r["denominator"] for r in states)) == (3, 4)
    # Incremental: SC's 2022 is (3 + 5) / (4 + 6) = 80%.
    assert parts(row_of(rows, "SC", period_type="year")) == (8, 10, 80.0)
    # Portfolio H1: (3 + 1) / (4 + 2) = 66.7%, not the mean of 75% and 50%; Puebla (2 + 1) / (2 + 2).
    assert parts(row_of(rows, "PORTFOLIO", **H1)) == (4, 6, 400 / 6)
    assert parts(row_of(rows, "PORTFOLIO", disaggregation="state", disaggregation_value="Puebla", **H1)) == (
        3, 4, 75.0)


# CAP-03 ---------------------------------------------------------------------------------------------

def test_cap03_capacity_index_takes_the_latest_score_and_the_portfolio_averages_projects():
    rows = compute_indicators({"projects": PROJECTS, "indicator_reports": [
        report("SC", "CAP-03", H1, value=50),
        report("SC", "CAP-03", H1, value=40, state="Jalisco"),
        report("SC", "CAP-03", H1, value=60, state="Puebla"),
        report("SC", "CAP-03", H2, value=55),
        report("SC", "CAP-03", H1_2023, value=62),
        report("MAP", "CAP-03", H1, value=70),
        report("MAP", "CAP-03", H2, numerator=1),    # no score: left out, not read as a missing latest score
    ]}, ["CAP-03"])
    assert parts(row_of(rows, "SC", **H1)) == (None, None, 50)
    assert row_of(rows, "SC", disaggregation="state", disaggregation_value="Jalisco", **H1)["value"] == 40
    # Latest-value rule: SC's 2022 is its H2 score 55 (not 50 + 55, nor their mean); its life is 62.
    assert row_of(rows, "SC", period_type="year", period_start=dt.date(2022, 1, 1))["value"] == 55
    assert row_of(rows, "SC", period_type="life")["value"] == 62
    # Portfolio H1: mean of the projects' scores (50 + 70) / 2 = 60, carried with its parts.
    assert parts(row_of(rows, "PORTFOLIO", **H1)) == (120, 2, 60.0)
    assert row_of(rows, "PORTFOLIO", disaggregation="state", disaggregation_value="Jalisco", **H1)["value"] == 40
    # Later semesters keep MAP's last score 70: H2 (55 + 70) / 2 = 62.5; 2023-H1 (62 + 70) / 2 = 66.
    assert parts(row_of(rows, "PORTFOLIO", **H2)) == (125, 2, 62.5)
    assert row_of(rows, "PORTFOLIO", **H1_2023)["value"] == 66
    assert row_of(rows, "PORTFOLIO", period_type="life")["value"] == 66


# CAP-04 ---------------------------------------------------------------------------------------------

def outcome(number, project, when, actor_type="union", substantiation="confirmed", theme="capacity",
            significance="high", contribution="direct", intention="intended", polarity="positive"):
    return {"outcome_id": f"O{number}", "project_code": project, "theme": theme, "actor_type": actor_type,
            "outcome_date": when, "significance": significance, "contribution": contribution,
            "intention": intention, "polarity": polarity, "substantiation": substantiation}


def test_cap04_counts_substantiated_union_and_worker_group_outcomes_and_each_breakdown_adds_up():
    rows = compute_indicators({"projects": PROJECTS, "outcomes": [
        outcome(1, "SC", dt.date(2022, 2, 1)),
        outcome(2, "SC", dt.date(2022, 5, 1), actor_type="worker_group", substantiation="partially_confirmed",
                significance="medium", contribution="partial", intention="unintended"),
        outcome(3, "SC", dt.date(2022, 3, 1), actor_type="employer"),                 # not a union: left out
        outcome(4, "SC", dt.date(2022, 4, 1), substantiation="pending"),              # not substantiated
        outcome(5, "SC", dt.date(2022, 4, 15), substantiation="not_confirmed"),       # not substantiated
        outcome(6, "SC", dt.date(2022, 6, 30), theme="enforcement", significance="low",
                contribution="indirect"),                                             # any theme counts
        outcome(7, "SC", dt.date(2022, 7, 1)),                                        # H2
        outcome(8, "MAP", dt.date(2022, 1, 10), actor_type="worker_group"),
    ]}, ["CAP-04"])
    # SC H1: outcomes 1, 2 and 6.
    assert parts(row_of(rows, "SC", **H1)) == (None, None, 3)
    assert row_of(rows, "SC", disaggregation="intention", disaggregation_value="unintended", **H1)["value"] == 1
    by_dimension = {dimension: {r["disaggregation_value"]: r["value"] for r in semester_rows(rows, "SC", H1, dimension)}
                    for dimension in ("significance", "contribution", "intention")}
    assert by_dimension == {"significance": {"high": 1, "medium": 1, "low": 1},
                            "contribution": {"direct": 1, "partial": 1, "indirect": 1},
                            "intention": {"intended": 2, "unintended": 1}}
    for dimension, counts in by_dimension.items():
        assert sum(counts.values()) == 3, dimension
    # Portfolio H1: 3 (SC) + 1 (MAP); high significance 1 + 1. SC's year 2022: 3 + 1 (H2).
    assert row_of(rows, "PORTFOLIO", **H1)["value"] == 4
    assert row_of(rows, "PORTFOLIO", disaggregation="significance", disaggregation_value="high", **H1)["value"] == 2
    assert row_of(rows, "SC", period_type="year")["value"] == 4


# CAP-05 ---------------------------------------------------------------------------------------------

def story(number, project, when, domain, level):
    return {"story_id": f"MSC-{number}", "project_code": project, "domain": domain, "story_date": when,
            "storyteller_type": "worker", "storyteller_sex": "female", "selection_level": level}


def test_cap05_counts_stories_once_at_their_highest_level_by_domain_and_semester():
    rows = compute_indicators({"projects": PROJECTS, "msc_stories": [
        story(1, "SC", dt.date(2022, 1, 15), "capacity", "collected"),
        story(2, "SC", dt.date(2022, 3, 1), "capacity", "portfolio"),
        story(3, "SC", dt.date(2022, 6, 30), "awareness", "donor"),
        story(4, "SC", dt.date(2022, 7, 1), "capacity", "project"),                   # H2
        story(5, "MAP", dt.date(2022, 2, 1), "awareness", "collected"),
    ]}, ["CAP-05"])
    assert parts(row_of(rows, "SC", **H1)) == (None, None, 3)
    domains = {r["disaggregation_value"]: r["value"] for r in semester_rows(rows, "SC", H1, "domain")}
    levels = {r["disaggregation_value"]: r["value"] for r in semester_rows(rows, "SC", H1, "selection_level")}
    # Each breakdown adds up to the 3 stories: 2 + 1 by domain; 1 + 1 + 1 by the highest level reached.
    assert domains == {"capacity": 2, "awareness": 1}
    assert levels == {"collected": 1, "portfolio": 1, "donor": 1}
    assert sum(domains.values()) == sum(levels.values()) == 3
    # Portfolio H1: 3 + 1; awareness 1 + 1, collected only 1 + 1. SC's 2022: 3 + 1 (H2).
    assert row_of(rows, "PORTFOLIO", **H1)["value"] == 4
    assert row_of(rows, "PORTFOLIO", disaggregation="domain", disaggregation_value="awareness", **H1)["value"] == 2
    assert row_of(rows, "PORTFOLIO", disaggregation="selection_level", disaggregation_value="collected",
                  **H1)["value"] == 2
    assert row_of(rows, "SC", period_type="year")["value"] == 4
