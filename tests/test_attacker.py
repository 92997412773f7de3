"""The attacker test: solve the published marts as a linear program and try to pin down every small cell.

The attacker sees what was published (the marts' indicator_values and stakeholder_divergence), knows
every relation between the figures that holds in truth (`linked_system`: categories and totals,
projects and the portfolio, semesters, years and lives, a rate's numerator under its denominator,
the survey groups shared by ENF-05 and stakeholder_divergence) and that no count is negative. For each
suppressed small cell it asks scipy's `linprog` for the smallest and largest count and denominator the
published figures allow. The test fails if any interval is narrower than the disclosure threshold.
The solver here is written apart from `disclosure.protect`, and it reads the figures back from the
published file, so it checks what actually went out rather than what the pipeline meant to publish.
"""

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from mel_pipeline.marts.build import divergence_groups_sql, same_survey_groups
from mel_pipeline.marts.disclosure import linked_system, primary, protect
from tests.test_end_to_end import mel_run

THRESHOLD = 11


def narrowed_cells(truth: pd.DataFrame, shown: pd.Series, threshold: int = THRESHOLD,
                   identical: list[tuple[int, int]] = (), withheld: bool = False) -> list[tuple[int, str, float, float]]:
    """Every small published cell not shown whose count or denominator the shown cells pin to an interval
    narrower than `threshold`: (row, 'count', 'base' or 'rest', low, high), where a percentage's 'rest' is its
    denominator less its numerator. `truth` is every cell, shown or not, with the figures
    of the shown ones as published.

    With `withheld`, the small cells published nowhere instead (a project's states, say), and what counts is a
    recovery: a count or denominator of 1 to threshold-1 people pinned to its one whole number."""
    cells = linked_system(truth, threshold, identical)
    size = cells.size
    figures = cells.figures
    known_cell = shown.to_numpy(dtype=bool)
    rows, columns, values, equal = [], [], [], []
    for index, (variables, coefficients, sense) in enumerate(cells.relations):
        rows += [index] * variables.size
        columns += variables.tolist()
        values += coefficients.tolist()
        equal.append(sense == "=")
    matrix = csr_matrix((values, (rows, columns)), shape=(len(equal), 2 * size))
    equal = np.array(equal, dtype=bool)
    known = np.concatenate([known_cell, known_cell]) & ~np.isnan(figures)
    unknown = np.flatnonzero(~known & ~np.isnan(figures))
    right = -(matrix[:, known] @ figures[known])
    left = matrix[:, unknown].tocsc()
    # Unknowns no relation ties together are separate programs: solve each on its own, for speed only.
    _, component = connected_components(left.T @ left, directed=False)
    small = cells.primary & ~known_cell & (~cells.published if withheld else cells.published)
    found = []
    for part in np.unique(component[np.isin(unknown % size, np.flatnonzero(small))]):
        columns_in = np.flatnonzero(component == part)
        block = left[:, columns_in]
        rows_in = np.unique(block.nonzero()[0])
        block, block_right, block_equal = block[rows_in], right[rows_in], equal[rows_in]
        system = {"A_ub": block[~block_equal] if (~block_equal).any() else None,
                  "b_ub": block_right[~block_equal] if (~block_equal).any() else None,
                  "A_eq": block[block_equal] if block_equal.any() else None,
                  "b_eq": block_right[block_equal] if block_equal.any() else None}
        percent = truth["unit"].eq("percent").to_numpy()
        for position, variable in enumerate(unknown[columns_in]):
            if not small[variable % size] or (variable < size and not cells.checked_count[variable]):
                continue
            targets = [("count" if variable < size else "base", {position: 1.0}, figures[variable])]
            if variable >= size and percent[variable - size] and variable - size in unknown[columns_in]:
                # Those left out of a percentage's numerator are people too (38 of 40 passed: 2 failed).
                count_position = int(np.searchsorted(unknown[columns_in], variable - size))
                targets.append(("rest", {position: 1.0, count_position: -1.0}, figures[variable] - figures[variable - size]))
            for kind, terms, true_figure in targets:
                objective = np.zeros(columns_in.size)
                objective[list(terms)] = list(terms.values())
                bounds = []
                for sign in (1.0, -1.0):
                    result = linprog(sign * objective, bounds=(0, None), method="highs", **system)
                    assert result.status in (0, 3), result.message
                    bounds.append(sign * result.fun if result.status == 0 else -sign * np.inf)
                if withheld:
                    pinned = (np.floor(bounds[1] + 1e-6) <= np.ceil(bounds[0] - 1e-6)
                              and 1 <= true_figure < threshold)
                else:
                    pinned = bounds[1] - bounds[0] < threshold - 1e-6
                if pinned:
                    found.append((int(variable % size), kind, bounds[0], bounds[1]))
    return sorted(found)


def _cell(project, start, end, period_type, disaggregation, category, numerator, denominator):
    return {"indicator_code": "AWR-02", "project_code": project, "period_type": period_type,
            "period_start": pd.Timestamp(start), "period_end": pd.Timestamp(end), "disaggregation": disaggregation,
            "disaggregation_value": category, "unit": "percent", "numerator": float(numerator),
            "denominator": float(denominator), "value": 100.0 * numerator / denominator,
            "accumulation": "incremental", "published": True}


def subtraction_fixture() -> pd.DataFrame:
    """The issue's first recovery: PORTFOLIO life 46/129 in Estado de México, MAP life 45/126, so
    SC-WORKERS life (1/3) is their difference, though each project's life runs over its own dates.
    The semesters (withheld here) are what tie the lives together."""
    rows = []
    for project, semesters in {"MAP": [(20, 60), (25, 66)], "SC-WORKERS": [(1, 3)]}.items():
        for (numerator, denominator), start in zip(semesters, ["2023-01-01", "2023-07-01"]):
            end = "2023-06-30" if start.endswith("01-01") else "2023-12-31"
            rows.append(_cell(project, start, end, "semester", "state", "Estado de México", numerator, denominator))
    rows += [_cell("PORTFOLIO", "2023-01-01", "2023-06-30", "semester", "state", "Estado de México", 21, 63),
             _cell("PORTFOLIO", "2023-07-01", "2023-12-31", "semester", "state", "Estado de México", 25, 66)]
    rows += [_cell("MAP", "2023-01-01", "2023-12-31", "year", "state", "Estado de México", 45, 126),
             _cell("SC-WORKERS", "2023-01-01", "2023-06-30", "year", "state", "Estado de México", 1, 3),
             _cell("PORTFOLIO", "2023-01-01", "2023-12-31", "year", "state", "Estado de México", 46, 129),
             _cell("MAP", "2023-01-01", "2023-12-31", "life", "state", "Estado de México", 45, 126),
             _cell("SC-WORKERS", "2023-02-01", "2023-06-30", "life", "state", "Estado de México", 1, 3),
             _cell("PORTFOLIO", "2023-01-01", "2023-12-31", "life", "state", "Estado de México", 46, 129)]
    frame = pd.DataFrame(rows)
    frame["published"] = frame["period_type"] == "life"
    return frame


def linked_fixture() -> pd.DataFrame:
    """The issue's second kind of recovery: a small cell that no single sum gives away (after the old rule,
    every sum it is in has two hidden cells), but the tables solved together pin down. One project, two
    states by two semesters and the year: H1 Aguascalientes is 1 tested, 1 passed."""
    figures = {("H1", "Aguascalientes"): (1, 1), ("H1", "Jalisco"): (30, 60), ("H2", "Aguascalientes"): (0, 12),
               ("H2", "Jalisco"): (40, 70)}
    spans = {"H1": ("2024-01-01", "2024-06-30", "semester"), "H2": ("2024-07-01", "2024-12-31", "semester")}
    rows = []
    for half, (start, end, period_type) in spans.items():
        for state in ("Aguascalientes", "Jalisco"):
            rows.append(_cell("MAP", start, end, period_type, "state", state, *figures[(half, state)]))
        rows.append(_cell("MAP", start, end, period_type, "total", "total",
                          *np.sum([figures[(half, state)] for state in ("Aguascalientes", "Jalisco")], axis=0)))
    for state in ("Aguascalientes", "Jalisco"):
        rows.append(_cell("MAP", "2024-01-01", "2024-12-31", "year", "state", state,
                          *np.sum([figures[(half, state)] for half in spans], axis=0)))
    rows.append(_cell("MAP", "2024-01-01", "2024-12-31", "year", "total", "total", 71, 143))
    return pd.DataFrame(rows)


def single_sum_rule(frame: pd.DataFrame) -> pd.Series:
    """What the pipeline did before, for the fixture: primary suppression by that day's rule (a denominator
    under the threshold), then, in any sum with a single hidden cell (the states of a period, a state's
    semesters and year), its smallest visible state cell too."""
    hidden = (frame["denominator"] < THRESHOLD) | ~frame["published"]
    sums = [group.index for _, group in frame.groupby(["period_type", "period_start"])]
    sums += [group.index for _, group in frame[frame["disaggregation"] == "state"].groupby("disaggregation_value")]
    changed = True
    while changed:
        changed = False
        for rows in sums:
            if hidden[rows].sum() == 1:
                states = [row for row in rows if not hidden[row] and frame.at[row, "disaggregation"] == "state"]
                hidden[min(states, key=lambda row: frame.at[row, "denominator"])] = True
                changed = True
    return ~hidden


def test_the_subtraction_across_different_life_spans_is_recovered_without_protection_and_not_with_it():
    frame = subtraction_fixture()
    sc_workers_life = frame.index[(frame["project_code"] == "SC-WORKERS") & (frame["period_type"] == "life")][0]
    shown = frame["published"] & ~primary(frame, THRESHOLD)
    assert (sc_workers_life, "count", 1.0, 1.0) in narrowed_cells(frame, shown)
    assert (sc_workers_life, "base", 3.0, 3.0) in narrowed_cells(frame, shown)
    hidden = protect(linked_system(frame, THRESHOLD), THRESHOLD)
    assert narrowed_cells(frame, frame["published"] & ~hidden) == []
    assert hidden[sc_workers_life]


def test_the_linked_table_solve_is_recovered_after_the_single_sum_rule_and_not_after_protection():
    frame = linked_fixture()
    frame["published"] = True
    aguascalientes_h1 = frame.index[(frame["project_code"] == "MAP") & (frame["period_start"] == "2024-01-01")
                                    & (frame["period_type"] == "semester")
                                    & (frame["disaggregation_value"] == "Aguascalientes")][0]
    shown_before = single_sum_rule(frame)
    assert shown_before.tolist() == [False, False, True, False, False, True, True, True, True]
    # Every sum holding H1 Aguascalientes has two hidden cells, yet its numerator comes out as 0 or 1.
    assert narrowed_cells(frame, shown_before) == [(aguascalientes_h1, "count", 0.0, 1.0)]
    hidden = protect(linked_system(frame, THRESHOLD), THRESHOLD)
    assert narrowed_cells(frame, frame["published"] & ~hidden) == []
    assert not hidden[frame["disaggregation"] == "total"].any()
    # H1 Aguascalientes (1 of 1) and the year's (1 of 13) are small; with H1 Jalisco and the year's Jalisco
    # hidden too, H1 Aguascalientes has 0 to 31 passed of 0 to 61 tested (0 to 30 failed), and the year's
    # Aguascalientes the same passes of 12 to 73; H2 stays shown.
    assert hidden.tolist() == [True, True, False, False, False, False, True, True, False]


@pytest.mark.slow
def test_no_small_cell_of_the_published_sample_can_be_narrowed(tmp_path, sample_raw):
    exit_code, printed = mel_run(sample_raw, tmp_path)
    assert exit_code == 0, printed
    warehouse = duckdb.connect(str(tmp_path / "warehouse" / "mel.duckdb"), read_only=True)
    truth = warehouse.execute("""
        SELECT v.*, c.accumulation, c.publication FROM indicator_values v
        JOIN indicator_catalog c ON c.code = v.indicator_code WHERE c.counts_people""").df()
    groups = warehouse.execute(divergence_groups_sql()).df()
    marts = duckdb.connect(str(tmp_path / "marts" / "mel.duckdb"), read_only=True)
    published = marts.execute("SELECT * FROM indicator_values").df()
    divergence = marts.execute("SELECT * FROM stakeholder_divergence").df()
    key = ["indicator_code", "project_code", "period_type", "period_start", "period_end", "disaggregation",
           "disaggregation_value"]
    seen = truth.merge(published[key + ["numerator", "denominator", "suppressed"]], on=key, how="left",
                       suffixes=("_true", ""))
    shown_values = seen["suppressed"].eq(False)
    # The attacker's known figures are the published ones, not the truth.
    seen.loc[shown_values, ["numerator_true", "denominator_true"]] = seen.loc[shown_values, ["numerator", "denominator"]].to_numpy()
    truth[["numerator", "denominator"]] = seen[["numerator_true", "denominator_true"]].to_numpy()
    shown_groups = pd.concat([
        divergence[["item", "project_code", "year", "group_a", "respondents_a"]].set_axis(
            ["item", "project_code", "year", "group", "respondents"], axis=1),
        divergence[["item", "project_code", "year", "group_b", "respondents_b"]].set_axis(
            ["item", "project_code", "year", "group", "respondents"], axis=1)]).dropna().drop_duplicates()
    groups["year"] = pd.to_datetime(groups["period_start"]).dt.year
    groups = groups.merge(shown_groups, left_on=["item", "project_code", "year", "disaggregation_value"],
                          right_on=["item", "project_code", "year", "group"], how="left")
    system = pd.concat([truth.assign(published=seen["suppressed"].notna().to_numpy()), groups.assign(published=True)],
                       ignore_index=True)
    shown = pd.concat([shown_values, groups["respondents"].notna()], ignore_index=True)
    assert primary(system, THRESHOLD)[~shown.to_numpy()].sum() > 40  # there are small cells to attack
    assert narrowed_cells(system, shown, identical=same_survey_groups(system)) == []
    assert narrowed_cells(system, shown, identical=same_survey_groups(system), withheld=True) == []


def test_those_left_out_of_hidden_percentages_stay_uncertain_too():
    """Aguascalientes 20 of 21 passed and Jalisco 30 of 35 are hidden (1 and 5 failed); Puebla 15 of 40 and the
    total 65 of 96 shown. Passes (0 to 50) and those tested (0 to 56) stay wide, but the failures of the two
    hidden states add up to 56 - 50 = 6, so each is 0 to 6. Protection hides Puebla too: 0 to 31."""
    rows = [_cell("MAP", "2024-01-01", "2024-06-30", "semester", "state", state, passed, tested)
            for state, passed, tested in (("Aguascalientes", 20, 21), ("Jalisco", 30, 35), ("Puebla", 15, 40))]
    frame = pd.DataFrame(rows + [_cell("MAP", "2024-01-01", "2024-06-30", "semester", "total", "total", 65, 96)])
    small = primary(frame, THRESHOLD)
    assert small.tolist() == [True, True, False, False]
    assert narrowed_cells(frame, frame["published"] & ~small) == [(0, "rest", 0.0, 6.0), (1, "rest", 0.0, 6.0)]
    hidden = protect(linked_system(frame, THRESHOLD), THRESHOLD)
    assert hidden.tolist() == [True, True, True, False]
    assert narrowed_cells(frame, frame["published"] & ~hidden) == []
