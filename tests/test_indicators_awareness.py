"""Awareness indicators on hand-made rows: exact numerators, denominators and values."""

import datetime as dt

from tests.conftest import compute_indicators, pick

H1 = {"period_start": dt.date(2022, 1, 1), "period_end": dt.date(2022, 6, 30)}
H2 = {"period_start": dt.date(2022, 7, 1), "period_end": dt.date(2022, 12, 31)}
PROJECTS = [
    {"project_code": "MAP", "title": "Awareness", "grantee": "Partners", "start_date": dt.date(2021, 1, 1),
     "end_date": dt.date(2025, 6, 30), "themes": "awareness", "report_due_days": 30},
    {"project_code": "SC", "title": "Workers", "grantee": "Solidarity", "start_date": dt.date(2021, 1, 1),
     "end_date": dt.date(2024, 9, 30), "themes": "capacity", "report_due_days": 30},
]


def report(project, code, period, value, **dims):
    """One indicator_reports row; dimensions not given are 'total'."""
    base = {d: "total" for d in ("sex", "state", "employer_size", "supply_chain_tier", "participant_type")}
    return {"project_code": project, "indicator_code": code, **period, **base, **dims, "value": value}


def test_awr01_sums_projects_and_periods_and_keeps_disaggregations():
    rows = compute_indicators({"projects": PROJECTS, "indicator_reports": [
        report("MAP", "AWR-01", H1, 30), report("MAP", "AWR-01", H1, 18, sex="female"),
        report("MAP", "AWR-01", H1, 12, sex="male"),
        report("MAP", "AWR-01", H2, 25), report("SC", "AWR-01", H1, 40),
    ]}, ["AWR-01"])
    assert pick(rows, project_code="MAP", period_type="semester", disaggregation="sex",
                disaggregation_value="female", **H1)["value"] == 18
    portfolio_h1 = pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total", **H1)
    assert portfolio_h1["value"] == 70
    map_year = pick(rows, project_code="MAP", period_type="year", disaggregation="total")
    assert (map_year["period_start"], map_year["period_end"], map_year["value"]) == (
        dt.date(2022, 1, 1), dt.date(2022, 12, 31), 55)


def test_awr02_knowledge_gain_is_a_ratio_of_counts_not_an_average_of_rates():
    def attendance(project, person, sex, pre, post, date=dt.date(2022, 3, 1)):
        return {"project_code": project, "event_id": "E1", "event_date": date, "channel": "in_person",
                "person_id": person, "sex": sex, "state": "Puebla", "participant_type": "worker",
                "pre_score": pre, "post_score": post}

    rows = compute_indicators({"projects": PROJECTS, "participants": [
        attendance("MAP", "p1", "female", 40, 80),   # gain 40, post 80: counts
        attendance("MAP", "p2", "female", 60, 70),   # gain 10 only: does not count
        attendance("MAP", "p3", "male", 50, 69),     # post below 70: does not count
        attendance("MAP", "p4", "male", 50, None),   # not tested: left out
        attendance("SC", "p5", "female", 20, 90),    # counts
    ]}, ["AWR-02"])
    map_total = pick(rows, project_code="MAP", period_type="semester", disaggregation="total", **H1)
    assert (map_total["numerator"], map_total["denominator"], map_total["value"]) == (1, 3, 100 / 3)
    female = pick(rows, project_code="MAP", period_type="semester", disaggregation="sex",
                  disaggregation_value="female", **H1)
    assert (female["numerator"], female["denominator"], female["value"]) == (1, 2, 50.0)
    portfolio = pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total", **H1)
    # (1 + 1) / (3 + 1) = 50%, not the mean of 33.3% and 100%.
    assert (portfolio["numerator"], portfolio["denominator"], portfolio["value"]) == (2, 4, 50.0)
