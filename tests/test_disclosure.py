"""Disclosure control: publication levels, primary suppression of small cells and complementary suppression."""

import datetime as dt
import json

import pandas as pd

from mel_pipeline.marts.disclosure import published, suppress

H1 = (dt.date(2022, 1, 1), dt.date(2022, 6, 30))
H2 = (dt.date(2022, 7, 1), dt.date(2022, 12, 31))
YEAR = (dt.date(2022, 1, 1), dt.date(2022, 12, 31))


def cell(project, period, dimension, category, value=None, numerator=None, denominator=None, *, unit="count",
         period_type="semester", accumulation="incremental", code="AWR-01"):
    return {"indicator_code": code, "project_code": project, "period_type": period_type,
            "period_start": pd.Timestamp(period[0]), "period_end": pd.Timestamp(period[1]), "disaggregation": dimension,
            "disaggregation_value": category, "unit": unit, "numerator": numerator, "denominator": denominator,
            "value": value, "accumulation": accumulation, "published": True}


def hidden(frame: pd.DataFrame, threshold: int = 11) -> set[tuple]:
    frame = pd.DataFrame(frame).astype({"numerator": float, "denominator": float, "value": float})
    rows = frame[suppress(frame, threshold).to_numpy()]
    return set(zip(rows["project_code"], rows["period_type"], rows["period_start"].dt.date, rows["disaggregation_value"]))


def test_counts_of_one_to_ten_people_are_hidden_and_zero_or_eleven_shown():
    frame = [cell("A", H1, "total", "total", 0), cell("B", H1, "total", "total", 10),
             cell("C", H1, "total", "total", 11), cell("D", H1, "total", "total", 1)]
    assert hidden(frame) == {("B", "semester", H1[0], "total"), ("D", "semester", H1[0], "total")}


def test_rates_on_fewer_than_eleven_or_counting_one_to_ten_either_way_are_hidden():
    """A 5 of 10 (too few), B 3 of 15 (3 passed), C 14 of 15 (1 failed); D 20 of 40, E 0 of 15 and
    F 15 of 15 give no group of 1 to 10 away."""
    frame = [cell("A", H1, "total", "total", 50.0, 5, 10, unit="percent"),
             cell("B", H1, "total", "total", 20.0, 3, 15, unit="percent"),
             cell("C", H1, "total", "total", 93.3, 14, 15, unit="percent"),
             cell("D", H1, "total", "total", 50.0, 20, 40, unit="percent"),
             cell("E", H1, "total", "total", 0.0, 0, 15, unit="percent"),
             cell("F", H1, "total", "total", 100.0, 15, 15, unit="percent")]
    assert hidden(frame) == {("A", "semester", H1[0], "total"), ("B", "semester", H1[0], "total"),
                             ("C", "semester", H1[0], "total")}


def test_the_threshold_is_configurable():
    frame = [cell("A", H1, "total", "total", 4)]
    assert hidden(frame, threshold=5) == {("A", "semester", H1[0], "total")}
    assert hidden(frame, threshold=4) == set()


def test_a_hidden_category_cannot_be_recovered_from_its_total_and_siblings():
    # total 30 = female 5 + male 25: hiding only 'female' would leave it as 30 - 25.
    frame = [cell("P", H1, "total", "total", 30), cell("P", H1, "sex", "female", 5), cell("P", H1, "sex", "male", 25)]
    assert hidden(frame) == {("P", "semester", H1[0], "female"), ("P", "semester", H1[0], "male")}


def test_the_smallest_sibling_is_the_one_hidden_to_protect_a_cell():
    # Puebla (4) and Sonora (36) together are known to be 40: Puebla lies anywhere in 0..40.
    frame = [cell("P", H1, "total", "total", 100), cell("P", H1, "state", "Puebla", 4),
             cell("P", H1, "state", "Jalisco", 60), cell("P", H1, "state", "Sonora", 36)]
    assert hidden(frame) == {("P", "semester", H1[0], "Puebla"), ("P", "semester", H1[0], "Sonora")}


def test_a_sibling_too_small_to_widen_the_interval_is_not_enough():
    # Puebla (4) and Colima (3) are both small, so no sum has a single hidden cell; but together they are
    # known to be 7, so Puebla lies in 0..7, narrower than 11: Sonora (30) goes too, and they lie in 0..37.
    frame = [cell("P", H1, "total", "total", 91), cell("P", H1, "state", "Puebla", 4),
             cell("P", H1, "state", "Colima", 3), cell("P", H1, "state", "Jalisco", 54),
             cell("P", H1, "state", "Sonora", 30)]
    assert hidden(frame) == {("P", "semester", H1[0], "Puebla"), ("P", "semester", H1[0], "Colima"),
                             ("P", "semester", H1[0], "Sonora")}


def test_projects_portfolio_semesters_and_year_are_solved_together():
    # A's H1 count (6) is small. Hiding B's H1 (to keep the portfolio's H1 from giving it away) and A's H2 (for
    # A's year) is not enough: B's H1 is then B's year minus B's H2, and A's H1 follows. With B's H2 hidden
    # too, the four semesters move together: A's H1 can be anything from 0 to 36.
    frame = [
        cell("A", H1, "total", "total", 6), cell("B", H1, "total", "total", 40),
        cell("PORTFOLIO", H1, "total", "total", 46),
        cell("A", H2, "total", "total", 30), cell("B", H2, "total", "total", 20),
        cell("PORTFOLIO", H2, "total", "total", 50),
        cell("A", YEAR, "total", "total", 36, period_type="year"), cell("B", YEAR, "total", "total", 60, period_type="year"),
        cell("PORTFOLIO", YEAR, "total", "total", 96, period_type="year"),
    ]
    assert hidden(frame) == {("A", "semester", H1[0], "total"), ("B", "semester", H1[0], "total"),
                             ("A", "semester", H2[0], "total"), ("B", "semester", H2[0], "total")}


def test_a_deduplicated_count_is_bounded_by_its_categories_not_summed():
    # Unique people by channel add up to more than the total (people reached twice); by sex they add up.
    # The channels bound the total, but the small 'other' is protected by hiding 'male' with it.
    frame = [cell("P", H1, "total", "total", 120), cell("P", H1, "channel", "in_person", 90),
             cell("P", H1, "channel", "virtual", 50), cell("P", H1, "sex", "female", 70),
             cell("P", H1, "sex", "male", 47), cell("P", H1, "sex", "other", 3)]
    assert hidden(frame) == {("P", "semester", H1[0], "other"), ("P", "semester", H1[0], "male")}


def test_a_cumulative_year_is_a_copy_of_its_latest_semester():
    # A stock's year is its H2: a small H2 hides the year too, whatever else is published.
    frame = [cell("A", H1, "total", "total", 40, accumulation="cumulative"),
             cell("A", H2, "total", "total", 8, accumulation="cumulative"),
             cell("A", YEAR, "total", "total", 8, period_type="year", accumulation="cumulative")]
    assert hidden(frame) == {("A", "semester", H2[0], "total"), ("A", "year", YEAR[0], "total")}


def test_withheld_rows_are_unknowns_that_still_tie_published_ones():
    # Only the year is published; the semesters stay in the warehouse. A withheld row needs no cell of its own.
    frame = [cell("A", H1, "total", "total", 4), cell("A", H2, "total", "total", 30),
             cell("A", YEAR, "total", "total", 34, period_type="year")]
    frame[0]["published"] = frame[1]["published"] = False
    assert hidden(frame) == {("A", "semester", H1[0], "total"), ("A", "semester", H2[0], "total")}


def test_publication_levels_pick_the_rows_published():
    levels = {"levels": [{"disaggregations": ["total"], "projects": "each", "periods": ["semester", "year"]},
                         {"disaggregations": ["sex"], "projects": "portfolio", "periods": ["life"]}]}
    rows = pd.DataFrame([cell("A", H1, "total", "total", 5), cell("A", YEAR, "sex", "female", 5, period_type="year"),
                         cell("PORTFOLIO", YEAR, "sex", "female", 5, period_type="life"),
                         cell("A", YEAR, "sex", "female", 5, period_type="life"),
                         cell("PORTFOLIO", YEAR, "total", "total", 5, period_type="life")])
    rows["publication"] = json.dumps(levels)
    assert published(rows).tolist() == [True, False, True, False, False]
