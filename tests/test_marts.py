"""Mart tables other than indicator_values: small groups hidden, one scorecard row per period, masking."""

import datetime as dt

import duckdb

from mel_pipeline.indicators.engine import build_indicator_values, build_sentinel_signals
from mel_pipeline.marts.publish import publish_marts
from mel_pipeline.reference.catalogue import write_catalog
from tests.conftest import FIXTURE_AS_OF, REPO_ROOT, settings_for, staged_connection
from tests.test_publish import SHEET


def answer(number, group, score, project="MAP"):
    return {"submission_id": f"S{number}", "submitted_at": dt.datetime(2023, 3, 1), "project_code": project,
            "stakeholder_group": group, "state": "Puebla", "enforcement_improved": score}


def story(number, sex, level):
    return {"story_id": f"M{number}", "project_code": "MAP", "domain": "awareness", "story_date": dt.date(2023, 2, 1),
            "storyteller_type": "worker", "storyteller_sex": sex, "title": "t", "story": "s" * 30,
            "why_significant": "w", "selection_level": level}


def publish(tmp_path, tables: dict) -> duckdb.DuckDBPyConnection:
    connection = staged_connection(tables)
    write_catalog(connection, [SHEET])
    build_indicator_values(connection, [SHEET], FIXTURE_AS_OF)
    build_sentinel_signals(connection, REPO_ROOT / "indicators")
    connection.execute("INSERT INTO rejected_rows VALUES ('x', 'x.csv', 2, 'period_end', 'less_than_or_equal_to', "
                       "'2031-06-30', '2031-06-30 is after the latest allowed date 2025-12-31', 'row'), "
                       "('x', 'x.csv', 3, 'notes', 'str_length', 'call +52 55 1234 5678', 'call +52 55 1234 5678', 'row')")
    published = publish_marts(connection, settings_for(tmp_path))
    return duckdb.connect(str(published.path), read_only=True)


def test_groups_under_the_threshold_show_neither_count_nor_mean(tmp_path):
    workers = [answer(n, "worker", 2) for n in range(12)]            # 12 workers, mean 2
    employers = [answer(100 + n, "employer", 5) for n in range(11)]  # 11 employers, mean 5
    officials = [answer(200 + n, "government", 4) for n in range(3)]  # 3 officials: too few
    marts = publish(tmp_path, {"feedback": workers + employers + officials})
    rows = marts.execute("""SELECT group_a, group_b, respondents_a, respondents_b, mean_a, mean_b, gap, suppressed
                            FROM stakeholder_divergence WHERE project_code = 'MAP' AND item = 'enforcement_improved'
                            ORDER BY group_a, group_b""").fetchall()
    assert rows == [("employer", "government", 11, None, None, None, None, True),
                    ("employer", "worker", 11, 12, 5.0, 2.0, 3.0, False),
                    ("government", "worker", None, 12, None, None, None, True)]


def test_small_counts_of_women_storytellers_are_hidden_and_given_for_the_portfolio_only(tmp_path):
    stories = [story(n, "female", "project") for n in range(3)] + [story(10 + n, "male", "collected") for n in range(12)]
    marts = publish(tmp_path, {"msc_stories": stories})
    rows = marts.execute("""SELECT project_code, selection_level, stories_reaching_level, told_by_women FROM msc_summary
                            ORDER BY project_code, stories_reaching_level DESC""").fetchall()
    # A project's count would be the portfolio's minus the other projects': only the portfolio's is given.
    assert rows == [("MAP", "collected", 15, None), ("MAP", "project", 3, None), ("MAP", "portfolio", 0, None),
                    ("MAP", "donor", 0, None), ("PORTFOLIO", "collected", 15, None), ("PORTFOLIO", "project", 3, None),
                    ("PORTFOLIO", "portfolio", 0, 0), ("PORTFOLIO", "donor", 0, 0)]


def test_rejection_messages_keep_dates_but_lose_phone_numbers(tmp_path):
    marts = publish(tmp_path, {})
    assert marts.execute("SELECT value, message FROM rejected_rows ORDER BY row_number").fetchall() == [
        ("2031-06-30", "2031-06-30 is after the latest allowed date 2025-12-31"), ("call ***", "call ***")]
