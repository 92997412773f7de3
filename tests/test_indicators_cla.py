"""Collaboration, learning and adaptation indicators on hand-made rows: exact numerators, denominators, values.

The harness runs every indicator with $as_of = FIXTURE_AS_OF (2025-12-31).
"""

import datetime as dt

from tests.conftest import FIXTURE_AS_OF, compute_indicators, parts, pick, semester_rows

H1 = {"period_start": dt.date(2022, 1, 1), "period_end": dt.date(2022, 6, 30)}
H2 = {"period_start": dt.date(2022, 7, 1), "period_end": dt.date(2022, 12, 31)}
H1_2023 = {"period_start": dt.date(2023, 1, 1), "period_end": dt.date(2023, 6, 30)}
H2_2023 = {"period_start": dt.date(2023, 7, 1), "period_end": dt.date(2023, 12, 31)}
H1_2024 = {"period_start": dt.date(2024, 1, 1), "period_end": dt.date(2024, 6, 30)}
H2_2024 = {"period_start": dt.date(2024, 7, 1), "period_end": dt.date(2024, 12, 31)}
H1_2025 = {"period_start": dt.date(2025, 1, 1), "period_end": dt.date(2025, 6, 30)}
H2_2025 = {"period_start": dt.date(2025, 7, 1), "period_end": dt.date(2025, 12, 31)}
PROJECTS = [
    {"project_code": "CALLE", "title": "Supply chain", "grantee": "AIR", "start_date": dt.date(2021, 1, 1),
     "end_date": dt.date(2025, 12, 31), "themes": "enforcement;cla", "report_due_days": 30},
    {"project_code": "PADF", "title": "Employers", "grantee": "PADF", "start_date": dt.date(2021, 1, 1),
     "end_date": dt.date(2025, 12, 31), "themes": "compliance;cla", "report_due_days": 30},
]


def entry(number, project, entry_type, entry_date, status, *, resolved_on=None, stakeholder_group=None,
          evidence_type=None, step_kind=None, service_window_days=None):
    """One CLA log row; only the columns the indicators read."""
    return {"entry_id": f"E{number}", "project_code": project, "entry_type": entry_type, "entry_date": entry_date,
            "stakeholder_group": stakeholder_group, "evidence_type": evidence_type, "step_kind": step_kind,
            "status": status, "service_window_days": service_window_days, "resolved_on": resolved_on}


def feedback_item(number, project, group, entry_date, resolved_on=None, window=30):
    return entry(number, project, "feedback_item", entry_date, "answered" if resolved_on else "open",
                 resolved_on=resolved_on, stakeholder_group=group, service_window_days=window)


def decision(number, project, entry_date, evidence, status, resolved_on=None):
    return entry(number, project, "reflection_decision", entry_date, status, resolved_on=resolved_on,
                 evidence_type=evidence)


def step(number, project, kind, entry_date, status, resolved_on=None):
    return entry(number, project, "process_step", entry_date, status, resolved_on=resolved_on, step_kind=kind)


# CLA-01 ---------------------------------------------------------------------------------------------

def test_cla01_counts_items_answered_within_their_window_and_leaves_out_items_not_yet_due():
    assert FIXTURE_AS_OF == dt.date(2025, 12, 31)
    rows = compute_indicators({"projects": PROJECTS, "cla_log": [
        feedback_item(1, "CALLE", "worker", dt.date(2022, 1, 10), dt.date(2022, 2, 5)),     # 26 days: in time
        feedback_item(2, "CALLE", "worker", dt.date(2022, 2, 1), dt.date(2022, 3, 15),      # 42 days: late
                      window=None),                                                          # (30 by default)
        feedback_item(3, "CALLE", "union", dt.date(2022, 3, 1), dt.date(2022, 4, 20), window=60),  # 50 of 60
        feedback_item(4, "CALLE", "government", dt.date(2022, 5, 1)),                        # never answered
        feedback_item(5, "CALLE", None, dt.date(2022, 6, 1), dt.date(2022, 6, 10)),          # no group recorded
        decision(6, "CALLE", dt.date(2022, 2, 1), "evaluation", "implemented", dt.date(2022, 3, 1)),  # not feedback
        feedback_item(7, "CALLE", "worker", dt.date(2025, 12, 15)),                          # window open: not due
        feedback_item(8, "CALLE", "worker", dt.date(2025, 12, 10), dt.date(2025, 12, 12)),   # window open, answered
        feedback_item(9, "CALLE", "employer", dt.date(2025, 10, 1)),                         # closed 2025-10-31
        feedback_item(10, "PADF", "worker", dt.date(2022, 1, 5), dt.date(2022, 1, 20)),
    ]}, ["CLA-01"])
    # CALLE H1 2022: items 1-5 are due; 1, 3 and 5 were answered in time: 3 / 5.
    assert parts(pick(rows, project_code="CALLE", period_type="semester", disaggregation="total", **H1)) == (3, 5, 60.0)
    groups = {r["disaggregation_value"]: parts(r) for r in semester_rows(rows, "CALLE", H1, "stakeholder_group")}
    assert groups == {"worker": (1, 2, 50.0), "union": (1, 1, 100.0), "government": (0, 1, 0.0),
                      "not_recorded": (1, 1, 100.0)}
    # The groups add up to the total: 1 + 1 + 0 + 1 = 3 of 2 + 1 + 1 + 1 = 5.
    assert (sum(g[0] for g in groups.values()), sum(g[1] for g in groups.values())) == (3, 5)
    # H2 2025: item 7 (window closes 2026-01-14) is not yet due; 8 is (answered, in time); 9 overdue: 1 / 2.
    assert parts(pick(rows, project_code="CALLE", period_type="semester", disaggregation="total",
                      **H2_2025)) == (1, 2, 50.0)
    # Portfolio H1 2022: (3 + 1) / (5 + 1); workers (1 + 1) / (2 + 1).
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total", **H1)) == (
        4, 6, 100 * 4 / 6)
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="stakeholder_group",
                      disaggregation_value="worker", **H1)) == (2, 3, 100 * 2 / 3)


# CLA-02 ---------------------------------------------------------------------------------------------

def test_cla02_decisions_implemented_by_the_end_of_the_next_semester_once_that_semester_is_over():
    rows = compute_indicators({"projects": PROJECTS, "cla_log": [
        decision(1, "CALLE", dt.date(2022, 2, 1), "monitoring_data", "implemented", dt.date(2022, 11, 30)),  # yes
        decision(2, "CALLE", dt.date(2022, 3, 1), "stakeholder_feedback", "implemented", dt.date(2023, 1, 15)),  # late
        decision(3, "CALLE", dt.date(2022, 4, 1), "stakeholder_feedback", "dropped"),
        decision(4, "CALLE", dt.date(2022, 5, 1), None, "in_progress"),
        decision(5, "CALLE", dt.date(2022, 6, 30), "stakeholder_feedback", "implemented",
                 dt.date(2022, 12, 31)),                                       # on the deadline: yes
        decision(6, "CALLE", dt.date(2025, 3, 1), "evaluation", "implemented", dt.date(2025, 4, 1)),
        decision(7, "CALLE", dt.date(2025, 8, 1), "evaluation", "implemented", dt.date(2025, 9, 1)),  # not judged
        decision(8, "PADF", dt.date(2022, 1, 15), "evaluation", "implemented", dt.date(2022, 6, 1)),
    ]}, ["CLA-02"])
    # CALLE H1 2022 (deadline 2022-12-31): decisions 1 and 5 taken up, of 5: 40%.
    assert parts(pick(rows, project_code="CALLE", period_type="semester", disaggregation="total", **H1)) == (2, 5, 40.0)
    evidence = {r["disaggregation_value"]: parts(r) for r in semester_rows(rows, "CALLE", H1, "evidence_type")}
    assert evidence == {"monitoring_data": (1, 1, 100.0), "stakeholder_feedback": (1, 3, 100 / 3),
                        "not_recorded": (0, 1, 0.0)}
    assert (sum(e[0] for e in evidence.values()), sum(e[1] for e in evidence.values())) == (2, 5)
    # H1 2025's deadline (2025-12-31) has passed; H2 2025's (2026-06-30) has not: no row yet.
    assert parts(pick(rows, project_code="CALLE", period_type="semester", disaggregation="total",
                      **H1_2025)) == (1, 1, 100.0)
    assert not [r for r in rows if r["period_start"] == H2_2025["period_start"]]
    # Portfolio H1 2022: (2 + 1) / (5 + 1) = 50%.
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total", **H1)) == (
        3, 6, 50.0)


# CLA-03 ---------------------------------------------------------------------------------------------

def test_cla03_counts_decisions_by_evidence_type_adding_up_to_the_total():
    rows = compute_indicators({"projects": PROJECTS, "cla_log": [
        decision(1, "CALLE", dt.date(2022, 2, 1), "monitoring_data", "implemented", dt.date(2022, 3, 1)),
        decision(2, "CALLE", dt.date(2022, 3, 1), "monitoring_data", "dropped"),
        decision(3, "CALLE", dt.date(2022, 4, 1), "stakeholder_feedback", "in_progress"),
        decision(4, "CALLE", dt.date(2022, 5, 1), None, "in_progress"),
        decision(5, "CALLE", dt.date(2022, 8, 1), "msc", "in_progress"),
        decision(6, "PADF", dt.date(2022, 1, 15), "evaluation", "implemented", dt.date(2022, 6, 1)),
        step(7, "CALLE", "expected", dt.date(2022, 2, 1), "completed", dt.date(2022, 3, 1)),   # not a decision
    ]}, ["CLA-03"])
    assert pick(rows, project_code="CALLE", period_type="semester", disaggregation="total", **H1)["value"] == 4
    evidence = {r["disaggregation_value"]: r["value"] for r in semester_rows(rows, "CALLE", H1, "evidence_type")}
    assert evidence == {"monitoring_data": 2, "stakeholder_feedback": 1, "not_recorded": 1}
    assert sum(evidence.values()) == 4
    # Portfolio H1: 4 + 1; PADF's evaluation decision is the portfolio's only one of that type.
    assert pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total", **H1)["value"] == 5
    assert pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="evidence_type",
                disaggregation_value="evaluation", **H1)["value"] == 1
    # CALLE's year 2022: 4 (H1) + 1 (H2).
    assert pick(rows, project_code="CALLE", period_type="year", disaggregation="total")["value"] == 5


# CLA-04 ---------------------------------------------------------------------------------------------

def response(number, project, group, when=dt.datetime(2022, 3, 15, 10, 0)):
    return {"submission_id": f"S{number}", "submitted_at": when, "project_code": project,
            "stakeholder_group": group, "state": "Puebla"}


def test_cla04_coverage_counts_distinct_groups_and_the_portfolio_does_not_double_count():
    rows = compute_indicators({"projects": PROJECTS, "feedback": [
        response(1, "CALLE", "worker"), response(2, "CALLE", "worker"), response(3, "CALLE", "worker"),
        response(4, "CALLE", "union"), response(5, "CALLE", "government"),
        response(6, "PADF", "employer"), response(7, "PADF", "worker"),
        response(8, "PADF", "academia", when=dt.datetime(2022, 10, 1, 8, 0)),
    ]}, ["CLA-04"])
    # CALLE heard worker, union and government: 3 of 6 groups (three workers are one group).
    assert parts(pick(rows, project_code="CALLE", period_type="semester", disaggregation="total", **H1)) == (3, 6, 50.0)
    assert parts(pick(rows, project_code="PADF", period_type="semester", disaggregation="total", **H1)) == (
        2, 6, 100 * 2 / 6)
    # Portfolio: worker, union, government, employer = 4 of 6, not 3 + 2 = 5.
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total", **H1)) == (
        4, 6, 100 * 4 / 6)
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total", **H2)) == (
        1, 6, 100 / 6)
    # Sets are not summed over semesters: no year or life roll-ups, and no row for a semester without responses.
    assert {row["period_type"] for row in rows} == {"semester"}
    assert not [r for r in rows if r["project_code"] == "CALLE" and r["period_start"] == H2["period_start"]]


# CLA-05 ---------------------------------------------------------------------------------------------

def test_cla05_cumulative_steps_completed_to_each_semester_end_with_latest_value_rollups():
    projects = [
        {**PROJECTS[0], "end_date": dt.date(2022, 12, 31)},
        {**PROJECTS[1], "end_date": dt.date(2023, 12, 31)},
        {**PROJECTS[1], "project_code": "MAP", "end_date": dt.date(2027, 6, 30)},   # runs past the as-of date
    ]
    rows = compute_indicators({"projects": projects, "cla_log": [
        step(1, "CALLE", "expected", dt.date(2022, 1, 10), "completed", dt.date(2022, 3, 1)),
        step(2, "CALLE", "expected", dt.date(2022, 2, 1), "completed", dt.date(2022, 9, 1)),
        step(3, "CALLE", "expected", dt.date(2022, 8, 1), "in_progress"),
        step(4, "CALLE", "expected", dt.date(2022, 3, 1), "completed"),        # no date: completed when logged
        step(5, "CALLE", "emergent", dt.date(2022, 2, 1), "completed", dt.date(2022, 2, 2)),  # not expected
        step(6, "PADF", "expected", dt.date(2022, 5, 1), "completed", dt.date(2023, 2, 1)),
        step(7, "PADF", "expected", dt.date(2023, 1, 15), "open"),
        step(8, "MAP", "expected", dt.date(2025, 8, 1), "completed", dt.date(2025, 9, 1)),
    ]}, ["CLA-05"])

    def semester(project, period):
        return parts(pick(rows, project_code=project, period_type="semester", disaggregation="total", **period))

    # CALLE H1: steps 1, 2, 4 logged; 1 and 4 completed by June 30 (2 only in September): 2 / 3.
    assert semester("CALLE", H1) == (2, 3, 100 * 2 / 3)
    # CALLE H2: all four logged; 1, 2 and 4 completed: 3 / 4.
    assert semester("CALLE", H2) == (3, 4, 75.0)
    # Latest-value rule: CALLE's year and life are its last semester (3/4), not (2 + 3) / (3 + 4).
    assert parts(pick(rows, project_code="CALLE", period_type="year", disaggregation="total")) == (3, 4, 75.0)
    assert parts(pick(rows, project_code="CALLE", period_type="life", disaggregation="total")) == (3, 4, 75.0)
    # PADF has rows in semesters without new entries (2022-H2, 2023-H2) up to its end date: the state
    # to date is carried. Its 2022 year is the H2 value, its 2023 year and life the 2023-H2 value.
    assert semester("PADF", H1) == (0, 1, 0.0)
    assert semester("PADF", H2) == (0, 1, 0.0)
    assert semester("PADF", H1_2023) == (1, 2, 50.0)
    assert semester("PADF", H2_2023) == (1, 2, 50.0)
    assert parts(pick(rows, project_code="PADF", period_type="year", disaggregation="total",
                      period_start=dt.date(2022, 1, 1))) == (0, 1, 0.0)
    assert parts(pick(rows, project_code="PADF", period_type="life", disaggregation="total")) == (1, 2, 50.0)
    # Portfolio: every project's steps to date. H1: (2 + 0) / (3 + 1); H2: (3 + 0) / (4 + 1);
    # 2023-H1 keeps CALLE (ended in 2022): (3 + 1) / (4 + 2), where summing 2023's rows would give 1/2.
    assert semester("PORTFOLIO", H1) == (2, 4, 50.0)
    assert semester("PORTFOLIO", H2) == (3, 5, 60.0)
    assert semester("PORTFOLIO", H1_2023) == (4, 6, 100 * 4 / 6)
    # 2025-H2 adds MAP's completed step to everything before: (4 + 1) / (6 + 1).
    assert semester("PORTFOLIO", H2_2025) == (5, 7, 100 * 5 / 7)
    assert parts(pick(rows, project_code="PORTFOLIO", period_type="life", disaggregation="total")) == (
        5, 7, 100 * 5 / 7)
    # No project row after its end (CALLE in 2023) nor after the as-of date (MAP runs to 2027).
    assert not [r for r in rows if r["project_code"] == "CALLE" and r["period_start"] == H1_2023["period_start"]]
    assert [r["period_start"] for r in rows if r["project_code"] == "MAP" and r["period_type"] == "semester"] == [
        H2_2025["period_start"]]
    assert max(row["period_end"] for row in rows) == FIXTURE_AS_OF


# CLA-06 ---------------------------------------------------------------------------------------------

def test_cla06_counts_emergent_steps_only():
    rows = compute_indicators({"projects": PROJECTS, "cla_log": [
        step(1, "CALLE", "emergent", dt.date(2022, 1, 10), "open"),
        step(2, "CALLE", "emergent", dt.date(2022, 5, 1), "completed", dt.date(2022, 6, 1)),
        step(3, "CALLE", "emergent", dt.date(2022, 8, 1), "in_progress"),
        step(4, "CALLE", "expected", dt.date(2022, 2, 1), "completed", dt.date(2022, 3, 1)),   # expected
        feedback_item(5, "CALLE", "worker", dt.date(2022, 2, 1)),                              # not a step
        step(6, "PADF", "emergent", dt.date(2022, 3, 1), "open"),
    ]}, ["CLA-06"])
    assert pick(rows, project_code="CALLE", period_type="semester", disaggregation="total", **H1)["value"] == 2
    assert pick(rows, project_code="CALLE", period_type="semester", disaggregation="total", **H2)["value"] == 1
    # Portfolio H1: 2 + 1; CALLE's year 2022: 2 + 1.
    assert pick(rows, project_code="PORTFOLIO", period_type="semester", disaggregation="total", **H1)["value"] == 3
    assert pick(rows, project_code="CALLE", period_type="year", disaggregation="total")["value"] == 3


# CLA-07 and CLA-08 ----------------------------------------------------------------------------------

REPORTING_PROJECTS = [
    # Semesters 2024-H1, 2024-H2, 2025-H1, all past their deadline (period end + 30 days) by 2025-12-31.
    {"project_code": "ALFA", "title": "Alfa", "grantee": "A", "start_date": dt.date(2024, 3, 15),
     "end_date": dt.date(2025, 6, 30), "themes": "cla", "report_due_days": 30},
    # Blank report_due_days means 30: 2025-H1 is due on 2025-07-30; 2025-H2 (due 2026-01-30) is not yet due.
    {"project_code": "BETA", "title": "Beta", "grantee": "B", "start_date": dt.date(2025, 1, 1),
     "end_date": dt.date(2026, 6, 30), "themes": "cla", "report_due_days": None},
    # 200 days: 2025-H1 is due on 2026-01-16, after the as-of date.
    {"project_code": "GAMA", "title": "Gama", "grantee": "C", "start_date": dt.date(2025, 1, 1),
     "end_date": dt.date(2025, 12, 31), "themes": "cla", "report_due_days": 200},
]


def grantee_row(project, period, submitted_on, code="AWR-01"):
    return {"project_code": project, "indicator_code": code, **period, "sex": "total", "state": "total",
            "employer_size": "total", "supply_chain_tier": "total", "participant_type": "total", "value": 1,
            "submitted_on": submitted_on}


REPORTS = [
    grantee_row("ALFA", H1_2024, dt.date(2024, 7, 30)),           # on its deadline: on time
    grantee_row("ALFA", H1_2024, dt.date(2024, 8, 15), "ENF-01"),  # a later row of the same report
    grantee_row("ALFA", {"period_start": dt.date(2024, 7, 1), "period_end": dt.date(2024, 9, 30)},
                dt.date(2024, 10, 5)),                             # a quarter: not the 2024-H2 report
    grantee_row("ALFA", H1_2025, dt.date(2025, 8, 5)),            # 6 days late
    grantee_row("BETA", H1_2025, None),                            # received, but undated
    grantee_row("BETA", H2_2025, dt.date(2025, 12, 20)),          # early, before it is due
]


def test_cla07_counts_due_reports_received_for_the_exact_semester():
    rows = compute_indicators({"projects": REPORTING_PROJECTS, "indicator_reports": REPORTS}, ["CLA-07"])

    def semester(project, period):
        return parts(pick(rows, project_code=project, period_type="semester", disaggregation="total", **period))

    assert semester("ALFA", H1_2024) == (1, 1, 100.0)
    assert semester("ALFA", H2_2024) == (0, 1, 0.0)    # only a quarterly table arrived
    assert semester("ALFA", H1_2025) == (1, 1, 100.0)
    assert semester("BETA", H1_2025) == (1, 1, 100.0)
    # Not yet due: BETA 2025-H2 (although received) and anything of GAMA.
    assert not [r for r in rows if r["project_code"] == "BETA" and r["period_start"] == H2_2025["period_start"]]
    assert not [r for r in rows if r["project_code"] == "GAMA"]
    # ALFA's life: 2 of 3 reports; its year 2024: 1 of 2; portfolio 2025-H1: 2 of 2.
    assert parts(pick(rows, project_code="ALFA", period_type="life", disaggregation="total")) == (2, 3, 100 * 2 / 3)
    assert parts(pick(rows, project_code="ALFA", period_type="year", disaggregation="total",
                      period_start=dt.date(2024, 1, 1))) == (1, 2, 50.0)
    assert semester("PORTFOLIO", H1_2025) == (2, 2, 100.0)


def test_cla08_judges_each_report_by_its_earliest_submission_against_its_deadline():
    rows = compute_indicators({"projects": REPORTING_PROJECTS, "indicator_reports": REPORTS}, ["CLA-08"])

    def semester(project, period):
        return parts(pick(rows, project_code=project, period_type="semester", disaggregation="total", **period))

    # ALFA 2024-H1: first row on 2024-07-30, the deadline itself: on time despite the later row.
    assert semester("ALFA", H1_2024) == (1, 1, 100.0)
    # ALFA 2025-H1: 2025-08-05 is after 2025-07-30: late.
    assert semester("ALFA", H1_2025) == (0, 1, 0.0)
    # BETA 2025-H2 arrived before its deadline (2026-01-30): on time.
    assert semester("BETA", H2_2025) == (1, 1, 100.0)
    # Missing (ALFA 2024-H2) and undated (BETA 2025-H1) reports are not judged.
    assert not [r for r in rows if r["project_code"] == "ALFA" and r["period_start"] == H2_2024["period_start"]]
    assert not [r for r in rows if r["project_code"] == "BETA" and r["period_start"] == H1_2025["period_start"]]
    # Portfolio 2025-H1: ALFA's late report only: 0 / 1; ALFA's life: 1 of 2 on time.
    assert semester("PORTFOLIO", H1_2025) == (0, 1, 0.0)
    assert parts(pick(rows, project_code="ALFA", period_type="life", disaggregation="total")) == (1, 2, 50.0)
