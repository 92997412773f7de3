"""Disclosure control applied when marts are published: small cells hidden, and not recoverable.

Primary suppression: for indicators that count people, a count of 1 to threshold-1 and any
rate or mean whose denominator is below the threshold (default 11, `MEL_SUPPRESSION_THRESHOLD`).
Complementary suppression: wherever published cells add up to a published total (a dimension's
categories and its total, projects and the portfolio, semesters and their year or life-of-project
roll-up), no such sum may have exactly one hidden cell, or subtraction would reveal it; the
smallest visible cell of that sum (a category before the total, the earlier row between equals) is
hidden too, until no sum is left with a single hidden cell.
A total that is derived from its categories without being their sum (a gap between group means)
is hidden when any of its categories is; a count of people is a figure of its own and is instead
protected like a sum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEY = ["indicator_code", "project_code", "period_type", "period_start", "period_end", "disaggregation",
       "disaggregation_value"]
HIDDEN = ["numerator", "denominator", "value", "pct_of_target", "stock_decreased"]


def primary(frame: pd.DataFrame, threshold: int) -> pd.Series:
    """Cells hidden for their own sake."""
    people = frame["counts_people"].fillna(False).astype(bool)
    small_count = (frame["unit"] == "count") & frame["value"].between(1, threshold - 1)
    small_base = (frame["unit"] != "count") & frame["denominator"].notna() & (frame["denominator"] < threshold)
    return people & (small_count | small_base)


def _group_ids(frame: pd.DataFrame, keys: list, member: pd.Series) -> np.ndarray:
    """Integer id of each member row's group by `keys` (column names or Series); -1 for non-members."""
    ids = frame.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    return np.where(member.to_numpy(), ids, -1)


def _additive_groups(frame: pd.DataFrame) -> list[np.ndarray]:
    """Group ids of every set of cells that sums to one of its members, one array per kind of sum."""
    additive = frame["aggregation"].isin(["sum", "ratio"])
    semester = frame["period_type"] == "semester"
    is_total = frame["disaggregation"] == "total"
    # Counts of people are treated as adding up across a dimension even when de-duplication makes them
    # not quite (a person reached by two channels): hiding one more category is only over-cautious.
    summed_dimensions = additive | (frame["unit"] == "count")
    kinds = []
    # A dimension's categories and the total: the total belongs to every dimension's group.
    dimension = _group_ids(frame, ["indicator_code", "project_code", "period_type", "period_start", "period_end"],
                           summed_dimensions)
    categories, names = pd.factorize(frame["disaggregation"])
    for code, name in enumerate(names):
        if name != "total":
            member = (categories == code) | is_total.to_numpy()
            kinds.append(np.where(member, dimension, -1))
    # Projects and the portfolio, for the same period and category (engine-made portfolio rows only).
    kinds.append(_group_ids(frame, ["indicator_code", "period_type", "period_start", "period_end", "disaggregation",
                                    "disaggregation_value"],
                            additive & ~frame["portfolio_supplied"].fillna(False).astype(bool)))
    # Semesters sum to their year and years to the life of the project (incremental indicators).
    incremental = additive & (frame["accumulation"] == "incremental")
    series = ["indicator_code", "project_code", "disaggregation", "disaggregation_value"]
    year = pd.to_datetime(frame["period_start"]).dt.year
    kinds.append(_group_ids(frame, [frame[column] for column in series] + [year],
                            incremental & (semester | (frame["period_type"] == "year"))))
    kinds.append(_group_ids(frame, series, incremental & frame["period_type"].isin(["year", "life"])))
    return kinds


def _cells_to_hide(order: np.ndarray, group: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Rows to hide in one kind of sum: in each group with exactly one hidden cell, its first visible row.

    `order` lists the kind's member rows by group and, within a group, in order of preference;
    `group` holds the group id of each row of `order`.
    """
    hidden_in_order = hidden[order]
    hidden_per_group = np.bincount(group[hidden_in_order], minlength=group.max() + 1)
    candidate = (hidden_per_group[group] == 1) & ~hidden_in_order
    rows, groups = order[candidate], group[candidate]
    first_of_group = np.ones(len(rows), dtype=bool)
    first_of_group[1:] = groups[1:] != groups[:-1]
    return rows[first_of_group]


def complementary(frame: pd.DataFrame, suppressed: pd.Series) -> pd.Series:
    """Extend `suppressed` until no additive group holds exactly one suppressed cell.

    Each round visits the kinds of sum in turn and, per kind, fixes every group with one hidden cell
    at once; rounds repeat until one hides nothing. The cell hidden in a group is its first visible
    cell ordered categories before the total, then by size |value| + |denominator|, then by row.
    """
    hidden = suppressed.to_numpy(dtype=bool, copy=True)
    # Prefer hiding a category over the total: the total is what readers need most.
    is_total = (frame["disaggregation"] == "total").to_numpy()
    size = (frame["value"].abs().fillna(0) + frame["denominator"].abs().fillna(0)).to_numpy()
    kinds = []
    for ids in _additive_groups(frame):
        members = np.flatnonzero(ids >= 0)
        if members.size:
            # Equal sizes fall back to row position so that the choice never depends on the sort algorithm.
            order = members[np.lexsort((members, size[members], is_total[members], ids[members]))]
            kinds.append((order, ids[order]))
    changed = True
    while changed:
        changed = False
        for order, group in kinds:
            chosen = _cells_to_hide(order, group, hidden)
            if chosen.size:
                hidden[chosen] = True
                changed = True
    return pd.Series(hidden, index=suppressed.index)


def derived_totals(frame: pd.DataFrame, suppressed: pd.Series) -> pd.Series:
    """Hide a people-based total derived from categories (not a count) when one of them is hidden."""
    people = frame["counts_people"].fillna(False).astype(bool)
    derived = people & ~frame["aggregation"].isin(["sum", "ratio"]) & (frame["unit"] != "count") & \
        (frame["disaggregation"] == "total") & frame["denominator"].isna()
    cell = ["indicator_code", "project_code", "period_type", "period_start", "period_end"]
    any_hidden = suppressed.groupby([frame[column] for column in cell]).transform("any")
    return suppressed | (derived & any_hidden)


def suppress(frame: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """indicator_values with `suppressed` set and hidden cells' figures blanked.

    `frame` carries the catalogue columns counts_people, aggregation, accumulation and
    portfolio_supplied beside the indicator_values columns; they are dropped from the result.
    """
    frame = frame.reset_index(drop=True)
    for column in ("numerator", "denominator", "value", "pct_of_target"):
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    hidden = derived_totals(frame, complementary(frame, primary(frame, threshold)))
    result = frame.astype({"stock_decreased": "boolean"})  # a nullable flag, blanked with the figures
    result.loc[hidden, HIDDEN] = None
    result.loc[hidden, "status"] = "suppressed"
    result["suppressed"] = hidden.astype(bool)
    return result.drop(columns=["counts_people", "aggregation", "accumulation", "portfolio_supplied"])
