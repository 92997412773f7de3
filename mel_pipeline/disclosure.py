"""Disclosure control applied when marts are published: small cells hidden, and not recoverable.

Primary suppression: for indicators that count people, a count of 1 to threshold-1 and any
rate or mean whose denominator is below the threshold (default 11, `MEL_SUPPRESSION_THRESHOLD`).
Complementary suppression: wherever published cells add up to a published total (a dimension's
categories and its total, projects and the portfolio, semesters and their year or life-of-project
roll-up), no such sum may have exactly one hidden cell, or subtraction would reveal it; the
smallest visible cell of that sum is hidden too, until no sum is left with a single hidden cell.
A total that is derived from its categories without being their sum (a gap between group means)
is hidden when any of its categories is; a count of people is a figure of its own and is instead
protected like a sum.
"""

from __future__ import annotations

import pandas as pd

KEY = ["indicator_code", "project_code", "period_type", "period_start", "period_end", "disaggregation",
       "disaggregation_value"]
HIDDEN = ["numerator", "denominator", "value", "pct_of_target"]


def primary(frame: pd.DataFrame, threshold: int) -> pd.Series:
    """Cells hidden for their own sake."""
    people = frame["counts_people"].fillna(False).astype(bool)
    small_count = (frame["unit"] == "count") & frame["value"].between(1, threshold - 1)
    small_base = (frame["unit"] != "count") & frame["denominator"].notna() & (frame["denominator"] < threshold)
    return people & (small_count | small_base)


def _additive_groups(frame: pd.DataFrame) -> list[pd.Series]:
    """Group labels of every set of cells that sums to one of its members, per kind of sum."""
    additive = frame["aggregation"].isin(["sum", "ratio"])
    semester = frame["period_type"] == "semester"
    is_total = frame["disaggregation"] == "total"
    text = lambda column: frame[column].astype(str)  # noqa: E731
    dimension = text("indicator_code") + "|" + text("project_code") + "|" + text("period_type") + "|" + \
        text("period_start") + "|" + text("period_end") + "|"
    # Counts of people are treated as adding up across a dimension even when de-duplication makes them
    # not quite (a person reached by two channels): hiding one more category is only over-cautious.
    summed_dimensions = additive | (frame["unit"] == "count")
    groups = []
    # A dimension's categories and the total: the total belongs to every dimension's group.
    for name in frame.loc[~is_total, "disaggregation"].unique():
        label = dimension + name
        member = summed_dimensions & ((frame["disaggregation"] == name) | is_total)
        groups.append(label.where(member))
    # Projects and the portfolio, for the same period and category (engine-made portfolio rows only).
    projects = text("indicator_code") + "|" + text("period_type") + "|" + text("period_start") + "|" + \
        text("period_end") + "|" + text("disaggregation") + "|" + text("disaggregation_value")
    groups.append(projects.where(additive & ~frame["portfolio_supplied"].fillna(False).astype(bool)))
    # Semesters sum to their year and years to the life of the project (incremental indicators).
    incremental = additive & (frame["accumulation"] == "incremental")
    series = text("indicator_code") + "|" + text("project_code") + "|" + text("disaggregation") + "|" + \
        text("disaggregation_value") + "|"
    year = pd.to_datetime(frame["period_start"]).dt.year.astype(str)
    groups.append((series + year).where(incremental & (semester | (frame["period_type"] == "year"))))
    groups.append((series + "life").where(incremental & frame["period_type"].isin(["year", "life"])))
    return groups


def complementary(frame: pd.DataFrame, suppressed: pd.Series) -> pd.Series:
    """Extend `suppressed` until no additive group holds exactly one suppressed cell."""
    suppressed = suppressed.copy()
    groups = _additive_groups(frame)
    size = frame["value"].abs().fillna(0) + frame["denominator"].abs().fillna(0)
    changed = True
    while changed:
        changed = False
        for labels in groups:
            in_group = labels.notna()
            if not in_group.any():
                continue
            hidden_count = suppressed[in_group].groupby(labels[in_group]).transform("sum")
            lonely = hidden_count[hidden_count == 1].index
            if lonely.empty:
                continue
            lonely_labels = set(labels[lonely])
            candidates = frame.index[in_group & labels.isin(lonely_labels) & ~suppressed]
            if candidates.empty:
                continue
            # Prefer hiding a category over the total: the total is what readers need most.
            order = pd.DataFrame({"label": labels[candidates], "is_total": frame.loc[candidates, "disaggregation"] == "total",
                                  "size": size[candidates]}).sort_values(["label", "is_total", "size"])
            chosen = order.groupby("label").head(1).index
            suppressed[chosen] = True
            changed = True
    return suppressed


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
    result = frame.copy()
    result.loc[hidden, HIDDEN] = None
    result.loc[hidden, "status"] = "suppressed"
    result["suppressed"] = hidden.astype(bool)
    return result.drop(columns=["counts_people", "aggregation", "accumulation", "portfolio_supplied"])
