"""Disclosure control: primary suppression of small cells and complementary suppression."""

import datetime as dt

import pandas as pd

from mel_pipeline.disclosure import suppress

H1 = (dt.date(2022, 1, 1), dt.date(2022, 6, 30))
H2 = (dt.date(2022, 7, 1), dt.date(2022, 12, 31))
YEAR = (dt.date(2022, 1, 1), dt.date(2022, 12, 31))


def cell(project, period, dimension, category, value=None, numerator=None, denominator=None, *, unit="count",
         period_type="semester", people=True, aggregation="sum", accumulation="incremental", code="AWR-01"):
    return {"indicator_code": code, "project_code": project, "period_type": period_type, "period_start": period[0],
            "period_end": period[1], "disaggregation": dimension, "disaggregation_value": category, "unit": unit,
            "numerator": numerator, "denominator": denominator, "value": value, "pct_of_target": None, "stock_decreased": False,
            "status": "no_target", "counts_people": people, "aggregation": aggregation,
            "accumulation": accumulation, "portfolio_supplied": False}


def hidden(result: pd.DataFrame) -> set[tuple]:
    rows = result[result["suppressed"]]
    return set(zip(rows["project_code"], rows["period_type"], rows["period_start"], rows["disaggregation_value"]))


def test_counts_of_one_to_ten_people_are_hidden_and_zero_or_eleven_shown():
    frame = pd.DataFrame([cell("A", H1, "total", "total", 0), cell("B", H1, "total", "total", 10),
                          cell("C", H1, "total", "total", 11), cell("D", H1, "total", "total", 1),
                          cell("E", H1, "total", "total", 3, people=False)])
    frame["portfolio_supplied"] = True  # no portfolio sum among these rows
    result = suppress(frame, threshold=11)
    assert hidden(result) == {("B", "semester", H1[0], "total"), ("D", "semester", H1[0], "total")}
    row_b = result[result["project_code"] == "B"].iloc[0]
    assert pd.isna(row_b["value"]) and row_b["status"] == "suppressed"


def test_rates_with_a_denominator_under_the_threshold_are_hidden_whole():
    frame = pd.DataFrame([cell("A", H1, "total", "total", 50.0, 5, 10, unit="percent", aggregation="ratio"),
                          cell("B", H1, "total", "total", 20.0, 3, 15, unit="percent", aggregation="ratio")])
    frame["portfolio_supplied"] = True
    result = suppress(frame, threshold=11)
    assert hidden(result) == {("A", "semester", H1[0], "total")}
    row_a = result[result["project_code"] == "A"].iloc[0]
    assert pd.isna(row_a["numerator"]) and pd.isna(row_a["denominator"]) and pd.isna(row_a["value"])
    assert result[result["project_code"] == "B"].iloc[0]["numerator"] == 3


def test_a_hidden_category_cannot_be_recovered_from_its_total_and_siblings():
    # total 30 = female 5 + male 25: hiding only 'female' would leave it as 30 - 25.
    frame = pd.DataFrame([cell("P", H1, "total", "total", 30), cell("P", H1, "sex", "female", 5),
                          cell("P", H1, "sex", "male", 25)])
    frame["portfolio_supplied"] = True
    result = suppress(frame, threshold=11)
    assert hidden(result) == {("P", "semester", H1[0], "female"), ("P", "semester", H1[0], "male")}
    assert result[result["disaggregation"] == "total"].iloc[0]["value"] == 30


def test_the_smallest_sibling_is_the_one_hidden_to_protect_a_cell():
    frame = pd.DataFrame([cell("P", H1, "total", "total", 100), cell("P", H1, "state", "Puebla", 4),
                          cell("P", H1, "state", "Jalisco", 60), cell("P", H1, "state", "Sonora", 36)])
    frame["portfolio_supplied"] = True
    result = suppress(frame, threshold=11)
    assert hidden(result) == {("P", "semester", H1[0], "Puebla"), ("P", "semester", H1[0], "Sonora")}


def test_projects_and_portfolio_and_semesters_and_year_are_protected_too():
    # Project A's H1 count (6) is small. The portfolio H1 total (6 + 40) would reveal it from B's 40,
    # and A's year (6 + 30) would reveal it from A's H2 (30).
    frame = pd.DataFrame([
        cell("A", H1, "total", "total", 6), cell("B", H1, "total", "total", 40),
        cell("PORTFOLIO", H1, "total", "total", 46),
        cell("A", H2, "total", "total", 30), cell("B", H2, "total", "total", 20),
        cell("PORTFOLIO", H2, "total", "total", 50),
        cell("A", YEAR, "total", "total", 36, period_type="year"), cell("B", YEAR, "total", "total", 60, period_type="year"),
        cell("PORTFOLIO", YEAR, "total", "total", 96, period_type="year"),
    ])
    result = suppress(frame, threshold=11)
    hidden_cells = hidden(result)
    assert ("A", "semester", H1[0], "total") in hidden_cells
    # Every additive relation now has zero or at least two hidden cells.
    def hidden_count(rows):
        return sum(1 for row in rows if row in hidden_cells)
    relations = [
        [("A", "semester", H1[0], "total"), ("B", "semester", H1[0], "total"), ("PORTFOLIO", "semester", H1[0], "total")],
        [("A", "semester", H2[0], "total"), ("B", "semester", H2[0], "total"), ("PORTFOLIO", "semester", H2[0], "total")],
        [("A", "semester", H1[0], "total"), ("A", "semester", H2[0], "total"), ("A", "year", YEAR[0], "total")],
        [("B", "semester", H1[0], "total"), ("B", "semester", H2[0], "total"), ("B", "year", YEAR[0], "total")],
    ]
    assert all(hidden_count(relation) != 1 for relation in relations)
    assert hidden_cells == {("A", "semester", H1[0], "total"), ("B", "semester", H1[0], "total"),
                            ("A", "semester", H2[0], "total"), ("B", "semester", H2[0], "total")}


def test_a_gap_between_group_means_is_hidden_when_a_group_is():
    frame = pd.DataFrame([
        cell("P", H1, "stakeholder_group", "worker", 2.0, 60, 30, unit="score", aggregation="distinct"),
        cell("P", H1, "stakeholder_group", "employer", 4.5, 27, 6, unit="score", aggregation="distinct"),
        cell("P", H1, "total", "total", 2.5, unit="score", aggregation="distinct"),
    ])
    frame["portfolio_supplied"] = True
    result = suppress(frame, threshold=11)
    assert hidden(result) == {("P", "semester", H1[0], "employer"), ("P", "semester", H1[0], "total")}


def test_the_threshold_is_configurable():
    frame = pd.DataFrame([cell("A", H1, "total", "total", 4)])
    frame["portfolio_supplied"] = True
    assert hidden(suppress(frame, threshold=5)) == {("A", "semester", H1[0], "total")}
    assert hidden(suppress(frame, threshold=4)) == set()


def test_a_deduplicated_count_keeps_its_total_and_hides_a_second_category():
    # Unique people by sex (aggregation distinct): 'other' (3) is small; hiding 'male' too protects it,
    # and the total stays published because it is a count in its own right.
    frame = pd.DataFrame([cell("P", H1, "total", "total", 120, aggregation="distinct"),
                          cell("P", H1, "sex", "female", 70, aggregation="distinct"),
                          cell("P", H1, "sex", "male", 47, aggregation="distinct"),
                          cell("P", H1, "sex", "other", 3, aggregation="distinct")])
    frame["portfolio_supplied"] = True
    result = suppress(frame, threshold=11)
    assert hidden(result) == {("P", "semester", H1[0], "other"), ("P", "semester", H1[0], "male")}


def test_between_equally_small_siblings_the_earlier_row_is_hidden():
    rows = [cell("P", H1, "total", "total", 100), cell("P", H1, "state", "Puebla", 4),
            cell("P", H1, "state", "Jalisco", 48), cell("P", H1, "state", "Sonora", 24),
            cell("P", H1, "state", "Colima", 24)]
    frame = pd.DataFrame(rows)
    frame["portfolio_supplied"] = True
    assert hidden(suppress(frame, threshold=11)) == {("P", "semester", H1[0], "Puebla"),
                                                     ("P", "semester", H1[0], "Sonora")}
    reordered = frame.iloc[[0, 1, 2, 4, 3]]
    assert hidden(suppress(reordered, threshold=11)) == {("P", "semester", H1[0], "Puebla"),
                                                         ("P", "semester", H1[0], "Colima")}


def test_a_category_is_hidden_before_a_smaller_total():
    # A rate's total (20% of 40, size 60) is smaller than the 'male' rate (90% of 35, size 125),
    # yet 'male' is the second cell hidden to protect 'female', whose base of 5 is too small.
    frame = pd.DataFrame([
        cell("P", H1, "total", "total", 20.0, 8, 40, unit="percent", aggregation="ratio"),
        cell("P", H1, "sex", "female", 40.0, 2, 5, unit="percent", aggregation="ratio"),
        cell("P", H1, "sex", "male", 90.0, 31, 35, unit="percent", aggregation="ratio"),
    ])
    frame["portfolio_supplied"] = True
    result = suppress(frame, threshold=11)
    assert hidden(result) == {("P", "semester", H1[0], "female"), ("P", "semester", H1[0], "male")}


def test_the_total_is_hidden_when_no_category_is_left_visible():
    # The only category reported is small, so the total would give it away.
    frame = pd.DataFrame([cell("P", H1, "total", "total", 30), cell("P", H1, "sex", "female", 5)])
    frame["portfolio_supplied"] = True
    result = suppress(frame, threshold=11)
    assert hidden(result) == {("P", "semester", H1[0], "female"), ("P", "semester", H1[0], "total")}
