"""Awareness indicators on hand-made rows: exact numerators, denominators and values."""

import datetime as dt

from tests.conftest import compute_indicators, parts, pick, report

H1 = {"period_start": dt.date(2022, 1, 1), "period_end": dt.date(2022, 6, 30)}
H2 = {"period_start": dt.date(2022, 7, 1), "period_end": dt.date(2022, 12, 31)}
PROJECTS = [
    {"project_code": "MAP", "title": "Awareness", "grantee": "Partners", "start_date": dt.date(2021, 1, 1),
     "end_date": dt.date(2025, 6, 30), "themes": "awareness", "report_due_days": 30},
    {"project_code": "SC", "title": "Workers", "grantee": "Solidarity", "start_date": dt.date(2021, 1, 1),
     "end_date": dt.date(2024, 9, 30), "themes": "capacity", "report_due_days": 30},
]


def test_awr01_sums_projects_and_periods_and_keeps_disaggregations():
    rows = compute_indicators({"projects": PROJECTS, "indicator_reports": [
        report("MAP", "AWR-01", H1, value=30), report("MAP", "AWR-01", H1, value=18, sex="female"),
        report("MAP", "AWR-01", H1, value=12, sex="male"),
        report("MAP", "AWR-01", H2, value=25), report("SC", "AWR-01", H1, value=40),
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



def test_awr02_counts_a_participant_once_a_semester_by_their_latest_test():
    def attendance(person, event, date, pre, post, sex="female"):
        return {"project_code": "MAP", "event_id": event, "event_date": date, "channel": "in_person",
                "person_id": person, "sex": sex, "state": "Puebla", "participant_type": "worker",
                "pre_score": pre, "post_score": post}

    rows = compute_indicators({"projects": PROJECTS, "participants": [
        attendance("p1", "E1", dt.date(2022, 2, 1), 40, 80),   # p1's earlier test: superseded
        attendance("p1", "E2", dt.date(2022, 5, 1), 60, 65),   # p1's latest test: no gain
        attendance("p2", "E1", dt.date(2022, 2, 1), 30, 90, sex="male"),  # p2 counts once, with a gain
        attendance("p2", "E3", dt.date(2022, 4, 1), None, None, sex="male"),  # untested: ignored
    ]}, ["AWR-02"])
    total = pick(rows, project_code="MAP", period_type="semester", disaggregation="total", **H1)
    # Two participants, not three tested attendances; only p2's latest test shows a gain.
    assert (total["numerator"], total["denominator"], total["value"]) == (1, 2, 50.0)


H1_2023 = {"period_start": dt.date(2023, 1, 1), "period_end": dt.date(2023, 6, 30)}


def semester_values(rows, project, period, dimension):
    """{category: value} of one project's semester rows for one dimension."""
    return {row["disaggregation_value"]: row["value"] for row in rows
            if row["project_code"] == project and row["period_type"] == "semester"
            and row["disaggregation"] == dimension and row["period_start"] == period["period_start"]}


# AWR-03 ---------------------------------------------------------------------------------------------

def test_awr03_counts_each_person_once_to_date_and_once_across_projects_in_the_portfolio():
    projects = [
        {**PROJECTS[0], "end_date": dt.date(2023, 6, 30)},
        {**PROJECTS[1], "end_date": dt.date(2022, 12, 31)},
    ]

    def contact(project, person, sex, channel, date, event="E1"):
        # A pseudonym is 32 hex digits, as ingest makes it: here the name's bytes in hex.
        return {"project_code": project, "event_id": event, "event_date": date, "channel": channel,
                "person_id": person.encode().hex().rjust(32, "0"), "sex": sex, "state": "Puebla",
                "participant_type": "worker"}

    rows = compute_indicators({"projects": projects, "participants": [
        contact("MAP", "p1", "female", "in_person", dt.date(2022, 2, 1)),
        contact("MAP", "p1", "female", "helpline", dt.date(2022, 3, 1), event="E2"),  # same person, 2nd channel
        contact("MAP", "p2", "male", "in_person", dt.date(2022, 2, 1)),
        contact("MAP", "p3", "female", "digital", dt.date(2022, 4, 1)),
        contact("MAP", "p2", "male", "virtual", dt.date(2022, 9, 1), event="E3"),     # H2: nobody new
        contact("MAP", "p4", "male", "virtual", dt.date(2022, 10, 1), event="E3"),    # H2: new
        # p3's later record says 'undisclosed': the latest recorded sex to date counts.
        contact("MAP", "p3", "undisclosed", "digital", dt.date(2022, 11, 1), event="E4"),
        contact("SC", "p1", "female", "in_person", dt.date(2022, 5, 1)),               # p1 again, other project
        contact("SC", "p5", "male", "in_person", dt.date(2022, 5, 1)),
    ]}, ["AWR-03"])

    # MAP H1: p1, p2, p3 = 3 people; p1 counts in in_person and helpline, so channels sum to 4, not 3.
    map_h1 = pick(rows, project_code="MAP", period_type="semester", disaggregation="total", **H1)
    assert parts(map_h1) == (None, None, 3)
    assert semester_values(rows, "MAP", H1, "channel") == {"in_person": 2, "helpline": 1, "digital": 1}
    assert semester_values(rows, "MAP", H1, "sex") == {"female": 2, "male": 1}   # sex adds up: 2 + 1 = 3
    # MAP H2, cumulative: p1..p4 = 4 (p2's return visit adds nobody); sex 1 + 2 + 1 = 4 with p3 undisclosed.
    assert pick(rows, project_code="MAP", period_type="semester", disaggregation="total", **H2)["value"] == 4
    assert semester_values(rows, "MAP", H2, "channel") == {"in_person": 2, "helpline": 1, "digital": 1, "virtual": 2}
    assert semester_values(rows, "MAP", H2, "sex") == {"female": 1, "male": 2, "undisclosed": 1}
    # A semester without contacts keeps the total to date (MAP runs to June 2023).
    assert pick(rows, project_code="MAP", period_type="semester", disaggregation="total", **H1_2023)["value"] == 4
    # Latest-value rule: MAP's 2022 is its H2 figure (4), not 3 + 4; its life is 2023-H1's 4.
    map_2022 = pick(rows, project_code="MAP", period_type="year", disaggregation="total",
                    period_start=dt.date(2022, 1, 1))
    assert (map_2022["period_end"], map_2022["value"]) == (dt.date(2022, 12, 31), 4)
    assert pick(rows, project_code="MAP", period_type="life", disaggregation="total")["value"] == 4
    # Portfolio H1: p1, p2, p3, p5 = 4, although MAP (3) + SC (2) = 5: p1 is in both projects.
    assert pick(rows, project_code="SC", period_type="semester", disaggregation="total", **H1)["value"] == 2
    assert pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total", **H1)["value"] == 4
    assert pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="channel",
                disaggregation_value="in_person", **H1)["value"] == 3                 # p1, p2, p5
    # Portfolio grows to p1..p5 = 5 in H2 and keeps SC's people after SC ended (2023-H1: still 5).
    assert pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total", **H2)["value"] == 5
    assert pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total",
                **H1_2023)["value"] == 5
    assert pick(rows, project_code="PORTFOLIO", period_type="year", disaggregation="total",
                period_start=dt.date(2022, 1, 1))["value"] == 5


# AWR-04 ---------------------------------------------------------------------------------------------

def survey(number, project, rights, sex="female", state="Puebla", group="worker", respondent=None,
           when=dt.datetime(2022, 3, 15, 10, 0)):
    return {"submission_id": f"S{number}", "submitted_at": when, "project_code": project,
            "stakeholder_group": group, "state": state, "sex": sex, "rights_known": rights,
            "respondent_id": respondent}


def test_awr04_share_of_surveyed_workers_naming_three_rights_counts_each_worker_once():
    rows = compute_indicators({"projects": PROJECTS, "feedback": [
        survey(1, "MAP", 5),                                          # yes
        survey(2, "MAP", 3),                                          # yes: exactly 3
        survey(3, "MAP", 2, sex="male", state="Guanajuato"),          # no
        survey(4, "MAP", 4, sex=None, state="Guanajuato"),            # yes, sex not recorded
        survey(5, "MAP", None, sex="male"),                           # skipped the question: left out
        survey(6, "MAP", 5, group="union"),                           # not a worker: left out
        # The same worker twice in the semester: only the latest answer (1 right) counts.
        survey(7, "MAP", 4, sex="male", state="Guanajuato", respondent="r1", when=dt.datetime(2022, 3, 1)),
        survey(8, "MAP", 1, sex="male", state="Guanajuato", respondent="r1", when=dt.datetime(2022, 5, 1)),
        survey(9, "SC", 3), survey(10, "SC", 0, sex="male"),
    ]}, ["AWR-04"])
    # MAP: yes = S1, S2, S4; answered = S1, S2, S3, S4, S8 -> 3 / 5 = 60%.
    assert parts(pick(rows, project_code="MAP", period_type="semester", disaggregation="total", **H1)) == (3, 5, 60.0)
    sexes = {row["disaggregation_value"]: parts(row) for row in rows if row["project_code"] == "MAP"
             and row["period_type"] == "semester" and row["disaggregation"] == "sex"}
    # female S1, S2: 2/2; male S3, S8: 0/2; not_recorded S4: 1/1 -> 3 of 5, as in the total.
    assert sexes == {"female": (2, 2, 100.0), "male": (0, 2, 0.0), "not_recorded": (1, 1, 100.0)}
    assert (sum(p[0] for p in sexes.values()), sum(p[1] for p in sexes.values())) == (3, 5)
    assert parts(pick(rows, project_code="MAP", period_type="semester", disaggregation="state",
                      disaggregation_value="Guanajuato", **H1)) == (1, 3, 100 / 3)   # S3, S4, S8
    # Portfolio: (3 + 1) / (5 + 2) = 4/7, not the mean of 60% and 50%; Puebla (2 + 1) / (2 + 2) = 75%.
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total", **H1)) == (
        4, 7, 400 / 7)
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="state",
                      disaggregation_value="Puebla", **H1)) == (3, 4, 75.0)


# AWR-05 ---------------------------------------------------------------------------------------------

def inquiries(observed_on, geography, value, series="rights_inquiries_per_1000"):
    return {"series_code": series, "observed_on": observed_on, "geography": geography, "value": value,
            "label": "Consultas por cada 1,000 trabajadores", "source": "https://example.org/series"}


def test_awr05_semester_mean_of_monthly_rates_for_the_portfolio_only_and_no_total_without_national_data():
    # A target set for the series anyway must not give it a status: a sentinel watches, it is not judged.
    target = {"project_code": "PORTFOLIO", "indicator_code": "AWR-05", **H1, "target": 3.0}
    rows = compute_indicators({"projects": PROJECTS, "targets": [target], "sentinel": [
        inquiries(dt.date(2022, 1, 1), "total", 3.0), inquiries(dt.date(2022, 2, 1), "total", 4.0),
        inquiries(dt.date(2022, 3, 1), "total", 5.0),
        inquiries(dt.date(2022, 1, 1), "Guanajuato", 4.0), inquiries(dt.date(2022, 2, 1), "Guanajuato", 12.0),
        inquiries(dt.date(2022, 1, 1), "Puebla", 2.0),
        inquiries(dt.date(2022, 7, 1), "Guanajuato", 6.0),                 # H2: no national observation
        inquiries(dt.date(2022, 1, 1), "total", 100.0, series="rrm_days_to_resolution"),  # another series
    ]}, ["AWR-05"])
    assert {row["project_code"] for row in rows} == {"PORTFOLIO"}
    # National H1: (3 + 4 + 5) / 3 months = 4.0 per 1,000 workers.
    assert parts(pick(rows, period_type="semester", disaggregation="total", **H1)) == (12.0, 3, 4.0)
    # Guanajuato H1: (4 + 12) / 2 = 8.0; Puebla 2.0 from one month.
    assert parts(pick(rows, period_type="semester", disaggregation="state", disaggregation_value="Guanajuato",
                      **H1)) == (16.0, 2, 8.0)
    assert pick(rows, period_type="semester", disaggregation="state", disaggregation_value="Puebla",
                **H1)["value"] == 2.0
    # H2 has a state but no national figure: no total row (not a mean of the states).
    assert [row for row in rows if row["period_start"] == H2["period_start"] and row["disaggregation"] == "total"] == []
    assert {r["disaggregation_value"] for r in rows if r["disaggregation"] == "state"} == {"Guanajuato", "Puebla"}
    # The year pools the months: Guanajuato (4 + 12 + 6) / 3 = 22/3, not the mean of the semesters (8 + 6) / 2.
    assert parts(pick(rows, period_type="year", disaggregation="state", disaggregation_value="Guanajuato")) == (
        22.0, 3, 22 / 3)
    # Direction none: even with a target of 3.0 (below the 4.0 observed) it is not judged: no status, no %.
    total = pick(rows, period_type="semester", disaggregation="total", **H1)
    assert (total["target"], total["pct_of_target"], total["status"]) == (3.0, None, None)
