"""Disclosure control applied when marts are published: small cells hidden, and not recoverable.

Three steps, in this order:

1. **Publication levels.** Each reference sheet states what it publishes at which level
   (`publication`: breakdowns for each project or for the portfolio alone, at which period types).
   Rows outside every level never reach the marts.
2. **Primary suppression.** For indicators that count people: a count of 1 to threshold-1, any rate
   or mean whose denominator is below the threshold (default 11, `MEL_SUPPRESSION_THRESHOLD`), and a
   percentage whose numerator, or the rest of whose denominator, is 1 to threshold-1 people.
3. **Complementary suppression that survives linked tables.** The published figures are linked by
   sums an attacker knows: categories add up to their total, projects to the portfolio, semesters to
   their year and years to the life of the project (copies, for cumulative figures, whose year is its
   latest semester), a rate's numerator never exceeds its denominator, and de-duplicated counts are
   bounded by their parts. Each such relation is used only where the true figures satisfy it, so the
   model is never weaker than an attacker's. Withheld rows are unknowns of the same system. A hidden
   count or denominator (and a hidden percentage's denominator less its numerator) is safe when,
   solving every relation together as a linear program (the attack of `docs/security.md`), it can
   still take values over an interval at least `threshold` wide. Cells are hidden until every hidden
   one is safe: first wherever a relation holds exactly one hidden cell, then, where the linear
   program still narrows a cell, the cheapest visible cell that shares a relation with it (a category
   before a total, a project before the portfolio, a semester before a year, then the smallest
   figure, then the earliest row).

The same routine (`protect`) serves every mart that publishes counts of people: `indicator_values`
and `stakeholder_divergence`, in one system, since both publish the same survey groups.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.optimize import linprog
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

KEY = ["indicator_code", "project_code", "period_type", "period_start", "period_end", "disaggregation",
       "disaggregation_value"]
HIDDEN = ["numerator", "denominator", "value", "pct_of_target", "stock_decreased"]
PORTFOLIO = "PORTFOLIO"
PERIOD_RANK = {"semester": 0, "year": 1, "life": 2}
# A relation holds on the true figures when it is off by no more than this share of its largest term.
TOLERANCE = 1e-9


@dataclass
class Cells:
    """The cells of a system of published tables, as the two unknowns each may have.

    `count` is a count of people (a count's value, a rate's numerator) or another summed figure (a sum of
    scores); `base` a denominator. `checked_count` says which counts must stay uncertain when hidden (sums
    of scores need not); every base must. `published` is false for withheld rows, which are unknowns to an
    attacker but need no protection of their own. `cost` orders the cells to hide: lowest first.
    """

    count: np.ndarray
    base: np.ndarray
    checked_count: np.ndarray
    primary: np.ndarray
    published: np.ndarray
    cost: np.ndarray
    percent: np.ndarray  # percentages of people: those left out of the numerator are people too
    relations: list[tuple[np.ndarray, np.ndarray, str]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.count.size

    def unknown(self, rows, kind: str) -> np.ndarray:
        """The variable numbers of `rows`' counts or bases (`kind`)."""
        rows = np.asarray(rows, dtype=np.int64)
        return rows if kind == "count" else rows + self.size

    @cached_property
    def figures(self) -> np.ndarray:
        """The true figure of every variable: the cells' counts, then their bases (built once, read per relation)."""
        return np.concatenate([self.count, self.base])

    def relate(self, variables, coefficients, sense: str) -> None:
        """Add `sum(coefficient * variable) (= or <=) 0` where the true figures satisfy it."""
        variables = np.asarray(variables, dtype=np.int64)
        coefficients = np.asarray(coefficients, dtype=float)
        figures = self.figures[variables]
        if variables.size < 2 or np.isnan(figures).any():
            return
        total = float(coefficients @ figures)
        slack = TOLERANCE * max(1.0, float(np.abs(figures).max()))
        if (sense == "=" and abs(total) <= slack) or (sense == "<=" and total <= slack):
            self.relations.append((variables, coefficients, sense))

    def sums_to(self, whole: int, parts, kind: str) -> None:
        """`whole` is the sum of `parts` (cells), in their counts or bases."""
        parts = list(parts)
        self.relate(self.unknown([whole, *parts], kind), [1.0] + [-1.0] * len(parts), "=")

    def bounded_by(self, whole: int, parts, kind: str) -> None:
        """Each of `parts` is at most `whole`, and `whole` at most their sum (people counted once in
        the whole and once under each part they belong to)."""
        parts = list(parts)
        for part in parts:
            self.relate(self.unknown([part, whole], kind), [1.0, -1.0], "<=")
        self.relate(self.unknown([whole, *parts], kind), [1.0] + [-1.0] * len(parts), "<=")

    def within_base(self, row: int) -> None:
        """A rate's numerator is at most its denominator."""
        self.relate([row, row + self.size], [1.0, -1.0], "<=")


def _unknowns(cells: Cells) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every cell's two unknowns as numbered variables: (cell of each, its true figure, must stay uncertain)."""
    rows = np.arange(cells.size)
    checked = np.concatenate([cells.checked_count, np.ones(rows.size, dtype=bool)]) & ~np.isnan(cells.figures)
    return np.concatenate([rows, rows]), cells.figures, checked


def _hide_single_hidden(cells: Cells, hidden: np.ndarray) -> None:
    """In every exact sum whose one hidden cell is a small published one, hide one more cell (subtraction
    would give it away), until there is none. The linear program catches what this misses; this is the
    quick first pass for the common case."""
    size = cells.size
    sensitive = cells.primary & cells.published
    sums = [np.unique(variables % size) for variables, _, sense in cells.relations if sense == "="]
    sums = [rows for rows in sums if sensitive[rows].any()]
    changed = True
    while changed:
        changed = False
        for rows in sums:
            if np.count_nonzero(hidden[rows]) == 1 and sensitive[rows[hidden[rows]]].all():
                visible = rows[~hidden[rows]]
                hidden[visible[np.argmin(cells.cost[visible])]] = True
                changed = True


class Audit:
    """The linear-programming attack on one system of cells: how far each hidden unknown can move."""

    def __init__(self, cells: Cells):
        self.cells = cells
        self.cell_of, self.figure, self.checked = _unknowns(cells)
        entries_row, entries_variable, entries_value, senses = [], [], [], []
        for index, (variables, coefficients, sense) in enumerate(cells.relations):
            entries_row.append(np.full(variables.size, index))
            entries_variable.append(variables)
            entries_value.append(coefficients)
            senses.append(sense)
        size = self.figure.size
        if entries_row:
            self.matrix = coo_matrix((np.concatenate(entries_value),
                                      (np.concatenate(entries_row), np.concatenate(entries_variable))),
                                     shape=(len(senses), size)).tocsr()
        else:
            self.matrix = coo_matrix((0, size)).tocsr()
        self.equality = np.array([sense == "=" for sense in senses], dtype=bool)
        # Variables tied by relations form independent systems, solved one at a time.
        links = self.matrix.T @ self.matrix
        _, self.component = connected_components(links, directed=False)

    def rest(self, cell: int) -> int:
        """The check of a percentage's denominator less its numerator (those left out of it)."""
        return cell + 2 * self.cells.size

    def _terms(self, check: int) -> dict[int, float]:
        """The unknowns a check adds up: one unknown, or a denominator less its numerator (see `rest`)."""
        if check < 2 * self.cells.size:
            return {check: 1.0}
        cell = check - 2 * self.cells.size
        return {cell + self.cells.size: 1.0, cell: -1.0}

    def narrow(self, hidden: np.ndarray, threshold: int, checks: np.ndarray) -> dict[int, set[int]]:
        """Which of `checks` (hidden unknowns, or a hidden percentage's rest) an attacker narrows to an interval
        below `threshold`, each with the visible cells of the relations that pin it (those with a non-zero dual)."""
        narrowed = {}
        first_unknown = np.array([next(iter(self._terms(int(check)))) for check in checks], dtype=np.int64)
        for component in np.unique(self.component[first_unknown]):
            members = np.flatnonzero(self.component == component)
            present = members[~np.isnan(self.figure[members])]
            secret = hidden[self.cell_of[present]]
            unknown, known = present[secret], present[~secret]
            rows = np.unique(self.matrix[:, present].nonzero()[0])
            block = self.matrix[rows]
            a = block[:, unknown].tocsr()
            b = -(block[:, known] @ self.figure[known])
            equality = self.equality[rows]
            system = {"A_ub": a[~equality] if (~equality).any() else None,
                      "b_ub": b[~equality] if (~equality).any() else None,
                      "A_eq": a[equality] if equality.any() else None,
                      "b_eq": b[equality] if equality.any() else None}
            for check in checks[self.component[first_unknown] == component]:
                objective = np.zeros(unknown.size)
                for variable, coefficient in self._terms(int(check)).items():
                    objective[np.searchsorted(unknown, variable)] = coefficient
                low, low_binding = _optimum(objective, system)
                high, high_binding = _optimum(-objective, system)
                if -high - low < threshold - 1e-6:
                    pinning = np.concatenate([rows[equality][low_binding[0]], rows[~equality][low_binding[1]],
                                              rows[equality][high_binding[0]], rows[~equality][high_binding[1]]])
                    visible = self.matrix[pinning][:, known].nonzero()[1]
                    narrowed[int(check)] = set(self.cell_of[known[visible]].tolist())
        return narrowed

    def cell_of_check(self, check: int) -> int:
        """The cell a check is about."""
        return int(self.cell_of[next(iter(self._terms(check)))])


def _optimum(objective: np.ndarray, system: dict) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
    """The minimum of `objective` over the attacker's system, every unknown at least 0 (-inf if unbounded),
    and which equalities and inequalities bind it."""
    result = linprog(objective, bounds=(0, None), method="highs", **system)
    if result.status == 3:
        return -np.inf, (np.zeros(0, dtype=bool), np.zeros(0, dtype=bool))
    if result.status != 0:
        raise RuntimeError(f"disclosure audit: the linear program failed ({result.message})")
    equalities = np.abs(result.eqlin.marginals) > 1e-9 if system["A_eq"] is not None else np.zeros(0, dtype=bool)
    inequalities = np.abs(result.ineqlin.marginals) > 1e-9 if system["A_ub"] is not None else np.zeros(0, dtype=bool)
    return result.fun, (equalities, inequalities)


def protect(cells: Cells, threshold: int) -> np.ndarray:
    """Which cells to hide: every primary cell, and enough others that none of them can be narrowed.

    Returns a boolean array over published and withheld cells alike (withheld ones are always true).
    """
    hidden = cells.primary | ~cells.published
    audit = Audit(cells)
    neighbours = _neighbours(cells)
    # The small cells are what must stay uncertain; the others hidden with them are figures that could
    # have been published, hidden only to keep the small ones from being solved for.
    to_check = np.flatnonzero(audit.checked & cells.primary[audit.cell_of] & cells.published[audit.cell_of])
    with_rest = cells.percent & cells.primary & cells.published & ~np.isnan(cells.count) & ~np.isnan(cells.base)
    to_check = np.concatenate([to_check, audit.rest(np.flatnonzero(with_rest))])
    while True:
        _hide_single_hidden(cells, hidden)
        narrowed = audit.narrow(hidden, threshold, to_check)
        if not narrowed:
            return hidden
        # Hiding more only widens intervals: what passed stays safe, only the narrowed need another look.
        to_check = np.array(sorted(narrowed), dtype=np.int64)
        progress = False
        hidden_now: set[int] = set()
        for check, pinning in narrowed.items():
            if pinning & hidden_now:
                continue  # what was just hidden may free it: the next audit tells
            candidates = [row for row in pinning if not hidden[row]]
            if candidates:
                chosen = min(candidates, key=lambda row: (cells.cost[row], row))
            else:
                # Hidden since the audit, through another narrowed cell; or pinned through hidden cells.
                chosen = _nearest_visible(audit.cell_of_check(check), neighbours, hidden, cells.cost)
            if chosen is not None:
                hidden[chosen] = True
                hidden_now.add(chosen)
                progress = True
        if not progress:
            raise RuntimeError("disclosure control: a hidden cell stays narrow with every related cell hidden")


def _nearest_visible(cell: int, neighbours: list[set[int]], hidden: np.ndarray, cost: np.ndarray) -> int | None:
    """The visible cell closest to `cell` through relations among hidden cells (the cheapest of the nearest):
    hiding it opens a relation that bounds `cell`."""
    seen, frontier = {cell}, [cell]
    while frontier:
        reached = set()
        for member in frontier:
            reached |= neighbours[member] - seen
        visible = [row for row in reached if not hidden[row]]
        if visible:
            return min(visible, key=lambda row: (cost[row], row))
        seen |= reached
        frontier = sorted(reached)
    return None


def _neighbours(cells: Cells) -> list[set[int]]:
    """For each cell, the cells it shares a relation with."""
    linked: list[set[int]] = [set() for _ in range(cells.size)]
    for variables, _, _ in cells.relations:
        members = set((variables % cells.size).tolist())
        for row in members:
            linked[row] |= members - {row}
    return linked


def published(frame: pd.DataFrame) -> pd.Series:
    """Whether each indicator_values row lies within one of its sheet's publication levels.

    `frame` carries the catalogue's `publication` (its levels as JSON) beside the indicator_values columns.
    """
    keep = pd.Series(False, index=frame.index)
    for code, rows in frame.groupby("indicator_code", sort=False).groups.items():
        levels = json.loads(frame.at[rows[0], "publication"])["levels"]
        part = frame.loc[rows]
        for level in levels:
            keep.loc[rows] |= (part["disaggregation"].isin(level["disaggregations"])
                               & ((level["projects"] == "each") | (part["project_code"] == PORTFOLIO))
                               & part["period_type"].isin(level["periods"]))
    return keep


def primary(frame: pd.DataFrame, threshold: int) -> pd.Series:
    """Cells hidden for their own sake: counts of 1 to threshold-1 people, rates and means on fewer, and
    percentages of people that count 1 to threshold-1 of them in their numerator or leave that many out
    of it (2 of 40 passed, or 38 of 40: a published rate's numerator and denominator give both away)."""
    def small(figure: pd.Series) -> pd.Series:
        return figure.between(1, threshold - 1)

    small_count = (frame["unit"] == "count") & small(frame["value"])
    small_base = (frame["unit"] != "count") & frame["denominator"].notna() & (frame["denominator"] < threshold)
    small_part = (frame["unit"] == "percent") & (small(frame["numerator"])
                                                 | small(frame["denominator"] - frame["numerator"]))
    return small_count | small_base | small_part


def _cells(frame: pd.DataFrame, threshold: int) -> Cells:
    """The unknowns, flags and hiding costs of people-counting rows (relations are added by `_relate`)."""
    is_count = (frame["unit"] == "count").to_numpy()
    is_percent = (frame["unit"] == "percent").to_numpy()
    numerator = frame["numerator"].to_numpy(dtype=float)
    count = np.where(np.isnan(numerator) & is_count, frame["value"].to_numpy(dtype=float), numerator)
    base = frame["denominator"].to_numpy(dtype=float)
    size = np.nan_to_num(np.abs(count)) + np.nan_to_num(np.abs(base))
    cost = ((frame["disaggregation"] == "total").to_numpy() * 4e12
            + (frame["project_code"] == PORTFOLIO).to_numpy() * 2e12
            + frame["period_type"].map(PERIOD_RANK).fillna(0).to_numpy() * 4e11 + size)
    return Cells(count=count, base=base, checked_count=is_count | is_percent,
                 primary=primary(frame, threshold).to_numpy(), published=frame["published"].to_numpy(dtype=bool),
                 cost=cost, percent=is_percent)


def _link(cells: Cells, whole: int, parts: list[int]) -> None:
    """`whole` sums `parts` in counts and bases where it does, and is bounded by them where it is not a sum."""
    for kind in ("count", "base"):
        before = len(cells.relations)
        cells.sums_to(whole, parts, kind)
        if len(cells.relations) == before:
            cells.bounded_by(whole, parts, kind)


def _relate(cells: Cells, frame: pd.DataFrame) -> None:
    """Every relation between people-counting rows that an attacker may know (see the module docstring)."""
    frame = frame.assign(row=np.arange(len(frame)), year=pd.to_datetime(frame["period_start"]).dt.year)
    is_total = frame["disaggregation"] == "total"
    # Categories and their total, per dimension.
    for _, group in frame.groupby(["indicator_code", "project_code", "period_type", "period_start", "period_end"],
                                  sort=False):
        totals = group.loc[is_total.loc[group.index], "row"].tolist()
        if totals:
            for _, parts in group[~is_total.loc[group.index]].groupby("disaggregation", sort=False):
                _link(cells, totals[0], parts["row"].tolist())
    # Projects and the portfolio; a cumulative figure's portfolio carries each project's latest semester.
    series = ["indicator_code", "disaggregation", "disaggregation_value"]
    for _, group in frame.groupby([*series, "period_type"], sort=False):
        projects, portfolio = group[group["project_code"] != PORTFOLIO], group[group["project_code"] == PORTFOLIO]
        cumulative_semester = (group["accumulation"].iloc[0] == "cumulative"
                               and group["period_type"].iloc[0] == "semester")
        for _, whole in portfolio.iterrows():
            if cumulative_semester:
                earlier = projects[projects["period_end"] <= whole["period_end"]]
                parts = earlier.sort_values("period_end").groupby("project_code")["row"].last().tolist()
            else:
                parts = projects.loc[(projects["period_start"] == whole["period_start"])
                                     & (projects["period_end"] == whole["period_end"]), "row"].tolist()
            if parts:
                _link(cells, whole["row"], parts)
    # Semesters within years and years within the life: summed, or copied for cumulative figures.
    for _, group in frame.groupby([*series, "project_code"], sort=False):
        semesters, years = group[group["period_type"] == "semester"], group[group["period_type"] == "year"]
        if group["accumulation"].iloc[0] == "cumulative":
            # A year is its latest reported semester, and the life its latest year.
            reported = semesters[~np.isnan(cells.count[semesters["row"]]) | ~np.isnan(cells.base[semesters["row"]])]
            for _, year in years.iterrows():
                latest = reported[reported["year"] == year["year"]].sort_values("period_end")["row"].tolist()
                if latest:
                    _link(cells, year["row"], latest[-1:])
            for life in group.loc[group["period_type"] == "life", "row"]:
                if len(years):
                    _link(cells, life, years.sort_values("period_end")["row"].tolist()[-1:])
            continue
        for _, year in years.iterrows():
            parts = semesters.loc[semesters["year"] == year["year"], "row"].tolist()
            if parts:
                _link(cells, year["row"], parts)
        for life in group.loc[group["period_type"] == "life", "row"]:
            if len(years):
                _link(cells, life, years["row"].tolist())
    for row in frame.loc[frame["unit"] == "percent", "row"]:
        cells.within_base(row)


def suppress(frame: pd.DataFrame, threshold: int, identical: list[tuple[int, int]] = ()) -> pd.Series:
    """Which people-counting rows to hide; `frame` is every such row, published or withheld.

    `frame` has the indicator_values key and figures with the catalogue's unit, accumulation and a
    `published` flag; `identical` lists pairs of rows that are the same cell in two tables.
    """
    frame = frame.reset_index(drop=True)
    # Relations never tie two indicators, but for `identical` pairs: an indicator without a small published
    # cell has nothing to protect, and leaving it out spares building its relations (most of the time at 10M rows).
    codes = set(frame.loc[primary(frame, threshold) & frame["published"], "indicator_code"])
    for first, second in identical:
        if {frame.at[first, "indicator_code"], frame.at[second, "indicator_code"]} & codes:
            codes |= {frame.at[first, "indicator_code"], frame.at[second, "indicator_code"]}
    involved = frame["indicator_code"].isin(codes).to_numpy()
    position = np.cumsum(involved) - 1
    pairs = [(position[first], position[second]) for first, second in identical if involved[first] and involved[second]]
    hidden = ~frame["published"].to_numpy(dtype=bool)
    if involved.any():
        hidden[involved] = protect(linked_system(frame[involved], threshold, pairs), threshold)
    return pd.Series(hidden)


def linked_system(frame: pd.DataFrame, threshold: int, identical: list[tuple[int, int]] = ()) -> Cells:
    """The cells of `frame` (positionally) with every relation an attacker may know between them."""
    frame = frame.reset_index(drop=True)
    cells = _cells(frame, threshold)
    _relate(cells, frame)
    for first, second in identical:
        _link(cells, first, [second])
    return cells
