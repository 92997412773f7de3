"""The officers' report: one offline HTML page from the published marts, a section per theme.

Each theme's section shows the portfolio's indicator status by semester, targets against actuals
over time, the sentinel series with their signals, the outcome-harvest matrix and the divergence
between stakeholder groups, every chart followed by the numbers behind it. Charts are inline SVG
drawn here; the page loads no script, stylesheet, font or image from anywhere, so it reads the same
on a laptop with no network. Suppressed cells are written "suppressed", never as a number, and a
semester of a targets chart without a point says why on the chart: suppressed for privacy, no
report accepted, or no data. "At a glance" counts each indicator in its own latest semester with a figure
(or a suppressed cell) and names those semesters. Given the Great Expectations report on the same
marts, the page also lists each suite's verdict with a link to its Data Docs page. Reading the marts
and drawing belong here; deciding when the report is rebuilt does not.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import duckdb
import pandas as pd

from mel_pipeline.marts.build import DIVERGENCE_GAP
from mel_pipeline.reference.codes import (
    CONTRIBUTION,
    INTENTION,
    POLARITY,
    SIGNIFICANCE,
    STAKEHOLDER_GROUPS,
    THEME_NAMES,
    THEMES,
)
from mel_pipeline.settings import REPO_ROOT

if TYPE_CHECKING:  # importing quality at run time would load Great Expectations for nothing
    from mel_pipeline.marts.quality import QualityReport

SUPPRESSED = "suppressed"
CONTRACT = REPO_ROOT / "docs" / "data-contract.md"

# Okabe-Ito colours, told apart with the common forms of colour blindness.
BLUE, SKY, GREEN, ORANGE, VERMILLION, PURPLE = "#0072B2", "#56B4E9", "#009E73", "#E69F00", "#D55E00", "#CC79A7"
INK, MUTED, GRID = "#1f2328", "#57606a", "#d8dee4"
STATUSES = {"on_track": ("On track", GREEN), "at_risk": ("At risk", ORANGE), "off_track": ("Off track", VERMILLION),
            "incomplete": ("Incomplete reports", SKY), "not_reported": ("Not reported", PURPLE),
            "no_target": ("No target", "#b0b7bf"), "not_judged": ("Not judged", "#d8dee4"),
            "suppressed": ("Suppressed", "#eef0f3")}
SUPPRESSED_OUTLINE = 'stroke="#6e7781" stroke-dasharray="3 2"'  # so a pale "suppressed" block still shows
GROUP_COLOURS = dict(zip(STAKEHOLDER_GROUPS, (BLUE, SKY, ORANGE, VERMILLION, GREEN, PURPLE)))
ITEMS = {
    "training_useful": ("awareness", "The training was useful (1-5)"),
    "rights_known": ("awareness", "Reform rights named (0-5)"),
    "coercion_observed": ("capacity", "Coercion of workers observed (1-5)"),
    "enforcement_improved": ("enforcement", "Labor-law enforcement improved (1-5)"),
    "employer_compliance": ("compliance", "The employer complies with the reform (1-5)"),
}

QUERIES = {
    "values": """
        SELECT v.indicator_code, c.name, v.theme, v.unit, v.period_start, v.value, v.target, v.pct_of_target,
               v.status, v.periods_expected, v.periods_reported, v.suppressed
        FROM indicator_values v JOIN indicator_catalog c ON c.code = v.indicator_code
        WHERE v.project_code = 'PORTFOLIO' AND v.period_type = 'semester' AND v.disaggregation = 'total'
        ORDER BY v.indicator_code, v.period_start""",
    "scorecard": """
        SELECT * FROM theme_scorecard WHERE project_code = 'PORTFOLIO' AND period_type = 'semester'
        ORDER BY theme, period_start""",
    "sentinel": """
        SELECT s.*, c.name FROM sentinel_signals s JOIN indicator_catalog c ON c.code = s.indicator_code
        ORDER BY s.indicator_code, s.observed_on, s.geography""",
    "outcomes": """
        SELECT theme, significance, contribution, intention, polarity, CAST(sum(outcomes) AS BIGINT) AS outcomes,
               CAST(sum(substantiated_outcomes) AS BIGINT) AS substantiated
        FROM outcome_harvest_summary WHERE project_code = 'PORTFOLIO' GROUP BY ALL""",
    "divergence": "SELECT * FROM stakeholder_divergence WHERE project_code = 'PORTFOLIO' ORDER BY item, year",
    "catalog": "SELECT code, name, theme, unit, approach FROM indicator_catalog ORDER BY code",
    "stories": """
        SELECT domain AS theme, CAST(sum(stories_collected) AS BIGINT) AS stories FROM msc_summary
        WHERE project_code = 'PORTFOLIO' AND selection_level = 'collected' GROUP BY ALL""",
    "audit": """
        SELECT source, count(*) AS files, count(*) FILTER (WHERE status = 'quarantined') AS quarantined,
               sum(rows_read) AS rows_read, sum(rows_loaded) AS rows_loaded, sum(rows_rejected) AS rows_rejected,
               max(loaded_at) AS loaded_at
        FROM load_audit GROUP BY source ORDER BY source""",
    "rejections": """
        SELECT source, coalesce("column", '(whole file)') AS "column", "check", count(*) AS rejections,
               min(message) AS example
        FROM rejected_rows GROUP BY ALL ORDER BY rejections DESC, source, "column" LIMIT 40""",
}


def load_marts(marts_path: Path) -> dict[str, pd.DataFrame]:
    """The slices of the marts the report draws, one DataFrame each (see QUERIES)."""
    connection = duckdb.connect(str(marts_path), read_only=True)
    try:
        return {name: connection.execute(sql).df() for name, sql in QUERIES.items()}
    finally:
        connection.close()



def esc(value) -> str:
    """Text made safe for HTML and SVG."""
    return html.escape(str(value), quote=True)


def missing(value) -> bool:
    """True for None, NaN, NaT and pandas' NA."""
    return value is None or bool(pd.isna(value))


def number(value, unit: str = "") -> str:
    """A figure as officers read it: thousands separated, percentages with a % sign."""
    if missing(value):
        return "—"
    value = float(value)
    text = f"{value:,.0f}" if value.is_integer() or abs(value) >= 1000 else f"{value:,.1f}"
    return text + ("%" if unit == "percent" else "")


def semester_label(start: pd.Timestamp) -> str:
    """2023-07-01 -> '2023 H2'."""
    return f"{start.year} H{1 if start.month <= 6 else 2}"


def words(code: str) -> str:
    """A code as words: 'civil_society' -> 'Civil society'."""
    return str(code).replace("_", " ").capitalize()


def nice_ticks(low: float, high: float, count: int = 5, whole: bool = False) -> list[float]:
    """Round tick values covering low..high; `whole` keeps them integers (counts of things)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    step = max(step, 1) if whole else step
    start, stop = math.floor(low / step) * step, math.ceil(high / step) * step
    return [start + i * step for i in range(round((stop - start) / step) + 1)]


@dataclass(frozen=True)
class Frame:
    """A chart's canvas and the plotting area inside its margins: x0..x1 left to right, y0 (bottom) to y1 (top)."""

    width: int = 600
    height: int = 260
    left: int = 60
    right: int = 20
    top: int = 34
    bottom: int = 46

    @property
    def x0(self) -> int:
        return self.left

    @property
    def x1(self) -> int:
        return self.width - self.right

    @property
    def y0(self) -> int:
        return self.height - self.bottom

    @property
    def y1(self) -> int:
        return self.top


def scale(domain: tuple[float, float], pixels: tuple[float, float]):
    """A linear map from data values to pixels."""
    (d0, d1), (p0, p1) = domain, pixels
    span = (d1 - d0) or 1
    return lambda value: p0 + (float(value) - d0) / span * (p1 - p0)


def svg(frame: Frame, label: str, body: list[str]) -> str:
    """The <svg> element, sized by its viewBox so it shrinks with the page."""
    return (f'<svg viewBox="0 0 {frame.width} {frame.height}" style="max-width:{frame.width}px" role="img" '
            f'aria-label="{esc(label)}">'
            f'<title>{esc(label)}</title>{"".join(body)}</svg>')


def text(x: float, y: float, content, anchor: str = "start", size: int = 12, colour: str = MUTED,
         weight: str = "normal", rotate: int = 0) -> str:
    """An SVG text element."""
    transform = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{colour}" text-anchor="{anchor}" '
            f'font-weight="{weight}"{transform}>{esc(content)}</text>')


def line(x1: float, y1: float, x2: float, y2: float, colour: str = GRID, width: float = 1, dash: str = "") -> str:
    """An SVG line; `dash` is a stroke-dasharray."""
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
            f'stroke-width="{width}"{dashes}/>')


def marker(x: float, y: float, shape: str, colour: str, size: float = 4.5, hollow: bool = False) -> str:
    """A point marker: a circle, square or diamond centred on x, y."""
    fill = "#fff" if hollow else colour
    style = f'fill="{fill}" stroke="{colour}" stroke-width="1.6"'
    if shape == "diamond":
        s = size * 1.4
        return f'<path d="M{x:.1f} {y - s:.1f}L{x + s:.1f} {y:.1f}L{x:.1f} {y + s:.1f}L{x - s:.1f} {y:.1f}Z" {style}/>'
    if shape == "square":
        return f'<rect x="{x - size:.1f}" y="{y - size:.1f}" width="{2 * size:.1f}" height="{2 * size:.1f}" {style}/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{size:.1f}" {style}/>'


def polyline(points: list[tuple[float, float] | None], colour: str, dash: str = "", width: float = 2) -> str:
    """Connected runs of points; a None breaks the line (a missing or suppressed value)."""
    runs, run = [], []
    for point in [*points, None]:
        if point is None:
            if len(run) > 1:
                runs.append(run)
            run = []
        else:
            run.append(point)
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return "".join(f'<polyline points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in run)}" fill="none" '
                   f'stroke="{colour}" stroke-width="{width}"{dashes}/>' for run in runs)


def tick_label(tick: float, step: float, unit: str = "") -> str:
    """A tick value with as many decimals as the step between ticks needs."""
    decimals = max(0, -math.floor(math.log10(step)))
    if round(step, decimals) != step:
        decimals += 1
    return f"{tick:,.{decimals}f}" + ("%" if unit == "percent" else "")


def y_axis(frame: Frame, ticks: list[float], y_of, title: str, unit: str = "") -> list[str]:
    """Horizontal gridlines with their values, and the axis title written up the left side."""
    parts = []
    for tick in ticks:
        y = y_of(tick)
        parts.append(line(frame.x0, y, frame.x1, y))
        parts.append(text(frame.x0 - 6, y + 4, tick_label(tick, ticks[1] - ticks[0], unit), anchor="end", size=11))
    parts.append(text(14, (frame.y0 + frame.y1) / 2, title, anchor="middle", size=11, rotate=-90))
    return parts


def legend(frame: Frame, entries: list[tuple[str, str]]) -> list[str]:
    """Swatches along the top edge: (svg of a swatch drawn at 0,0, label)."""
    parts, x = [], frame.x0
    for swatch, label in entries:
        parts.append(f'<g transform="translate({x:.1f} 16)">{swatch}</g>')
        parts.append(text(x + 12, 20, label, size=11, colour=INK))
        x += 22 + 6.5 * len(label)
    return parts


def semester_axis(frame: Frame, semesters: list[pd.Timestamp], x_of) -> list[str]:
    """Semester labels under the plot: H1/H2 on one line, the year below its first half."""
    parts = [line(frame.x0, frame.y0, frame.x1, frame.y0, colour=MUTED)]
    previous_year = None
    for start in semesters:
        x = x_of(start)
        parts.append(text(x, frame.y0 + 15, f"H{1 if start.month <= 6 else 2}", anchor="middle", size=11))
        if start.year != previous_year:
            parts.append(text(x, frame.y0 + 30, start.year, anchor="middle", size=11, colour=INK))
            previous_year = start.year
    return parts



def status_chart(scorecard: pd.DataFrame) -> str:
    """Stacked bars: how many indicators have each status (judged, incomplete, not reported, without target, not
    judged, suppressed)."""
    frame = Frame()
    semesters = list(scorecard["period_start"])
    step = (frame.x1 - frame.x0) / max(len(semesters), 1)
    x_of = {start: frame.x0 + (i + 0.5) * step for i, start in enumerate(semesters)}
    ticks = nice_ticks(0, max(scorecard["indicators"].max(), 1), count=4, whole=True)
    y_of = scale((0, ticks[-1]), (frame.y0, frame.y1))
    body = [*y_axis(frame, ticks, y_of, "indicators")]
    for _, row in scorecard.iterrows():
        base = 0
        for status, (label, colour) in STATUSES.items():
            count = int(row[status])
            if count:
                top, bottom = y_of(base + count), y_of(base)
                outline = SUPPRESSED_OUTLINE if status == "suppressed" else 'stroke="#fff"'
                body.append(f'<rect x="{x_of[row["period_start"]] - step * 0.32:.1f}" y="{top:.1f}" '
                            f'width="{step * 0.64:.1f}" height="{bottom - top:.1f}" fill="{colour}" {outline}>'
                            f'<title>{esc(semester_label(row["period_start"]))}: {count} {esc(label.lower())}</title>'
                            f'</rect>')
                base += count
    body += semester_axis(frame, semesters, x_of.get)
    body += legend(frame, [(f'<rect x="0" y="-5" width="10" height="10" fill="{colour}" '
                            f'{SUPPRESSED_OUTLINE if status == "suppressed" else ""}/>', label)
                           for status, (label, colour) in STATUSES.items()])
    return svg(frame, "Indicator status by semester", body)


NO_REPORT_ACCEPTED = "no report accepted"
# What a gap's label means, in the tooltip of its column.
GAP_EXPLANATIONS = {
    "suppressed for privacy": "the figure counts 1 to 10 people, or would let such a count be worked out",
    NO_REPORT_ACCEPTED: "reports were due and none was accepted: none was sent, or its rows were rejected "
                        "(listed under Data received and rejected)",
    "no data": "no record to compute a figure from",
}


def gap_reason(row: pd.Series) -> str | None:
    """Why a semester's cell has no figure, as the chart and its table say it; None when it has one.

    A suppressed cell is hidden for privacy; a cell whose reports were due has no report accepted, whether
    none was sent or the data contract rejected its rows (the marts cannot tell which, so the label says
    only what holds for both); any other cell without a figure had no data to compute one from.
    """
    if row["suppressed"]:
        return "suppressed for privacy"
    if not missing(row["value"]):
        return None
    if not missing(row["periods_expected"]) and row["periods_expected"] > 0 and not row["periods_reported"]:
        return NO_REPORT_ACCEPTED
    return "no data"


def gap_label(frame: Frame, x: float, semester: pd.Timestamp, reason: str) -> str:
    """A gap's reason written up its column, so a missing point explains itself without hovering; its tooltip
    says what the reason means."""
    return (f'<g class="gap"><title>{esc(semester_label(semester))}: {esc(reason)}: '
            f'{esc(GAP_EXPLANATIONS[reason])}</title>'
            f'{text(x + 4, frame.y0 - 6, reason, size=10, rotate=-90)}</g>')


def target_chart(rows: pd.DataFrame, semesters: list[pd.Timestamp]) -> str:
    """Actual against target per semester; a suppressed semester is a grey column, not a point, and every
    semester without a point says why (suppressed for privacy, no report accepted, no data)."""
    frame = Frame()
    unit = rows["unit"].iloc[0]
    step = (frame.x1 - frame.x0) / max(len(semesters), 1)
    x_of = {start: frame.x0 + (i + 0.5) * step for i, start in enumerate(semesters)}
    figures = pd.concat([rows["value"], rows["target"]]).dropna()
    high = max(figures.max() if len(figures) else 1, 100 if unit == "percent" else 0)
    ticks = nice_ticks(min(0, figures.min() if len(figures) else 0), high, count=4, whole=unit == "count")
    y_of = scale((ticks[0], ticks[-1]), (frame.y0, frame.y1))
    body = [f'<rect x="{x_of[start] - step / 2:.1f}" y="{frame.y1}" width="{step:.1f}" height="{frame.y0 - frame.y1}" '
            f'fill="#eef0f3"/>' for start in rows.loc[rows["suppressed"], "period_start"]]
    body += y_axis(frame, ticks, y_of, unit, unit)
    body += [gap_label(frame, x_of[row["period_start"]], row["period_start"], reason)
             for _, row in rows.iterrows() if (reason := gap_reason(row))]
    if figures.empty:
        body.append(text((frame.x0 + frame.x1) / 2, (frame.y0 + frame.y1) / 2, "no published value or target",
                         anchor="middle", colour=INK))
    by_start = rows.set_index("period_start")

    def points(column: str) -> list[tuple[float, float] | None]:
        return [None if start not in by_start.index or missing(by_start.at[start, column])
                else (x_of[start], y_of(by_start.at[start, column])) for start in semesters]

    targets, actuals = points("target"), points("value")
    body.append(polyline(targets, INK, dash="5 4", width=1.5))
    body += [marker(x, y, "square", INK, size=3.5, hollow=True) for x, y in filter(None, targets)]
    body.append(polyline(actuals, BLUE, width=2.5))
    body += [marker(x, y, "circle", BLUE) for x, y in filter(None, actuals)]
    body += semester_axis(frame, semesters, x_of.get)
    body += legend(frame, [
        (f'{line(-2, 0, 10, 0, BLUE, 2.5)}{marker(4, 0, "circle", BLUE, 3.5)}', "Actual"),
        (f'{line(-2, 0, 10, 0, INK, 1.5, "4 3")}{marker(4, 0, "square", INK, 3, hollow=True)}', "Target"),
        (f'<rect x="-1" y="-6" width="12" height="12" fill="#eef0f3" {SUPPRESSED_OUTLINE}/>', "Suppressed"),
    ])
    return svg(frame, f"{rows['indicator_code'].iloc[0]}: actual against target by semester", body)


def sentinel_chart(series: pd.DataFrame) -> str:
    """Every observation over time, signals as diamonds, with the thresholds and the baseline median."""
    frame = Frame(height=280)
    dates = pd.to_datetime(series["observed_on"])
    first, last = dates.min() - pd.Timedelta(days=45), dates.max() + pd.Timedelta(days=45)
    x_of = scale((first.value, last.value), (frame.x0, frame.x1))
    limits = [series[column].dropna().iloc[0] for column in ("threshold_upper", "threshold_lower")
              if series[column].notna().any()]
    ticks = nice_ticks(min([0, series["value"].min(), *limits]), max([series["value"].max(), *limits]) * 1.05, count=4)
    y_of = scale((ticks[0], ticks[-1]), (frame.y0, frame.y1))
    unit = series["unit"].iloc[0]
    body = y_axis(frame, ticks, y_of, unit)
    body.append(line(frame.x0, frame.y0, frame.x1, frame.y0, colour=MUTED))
    for year in range(first.year + 1, last.year + 1):
        x = x_of(pd.Timestamp(year=year, month=1, day=1).value)
        body += [line(x, frame.y0, x, frame.y0 + 5, MUTED), text(x, frame.y0 + 18, year, anchor="middle", size=11)]
    for column, label in (("threshold_upper", "upper threshold"), ("threshold_lower", "lower threshold")):
        if series[column].notna().any():
            limit = series[column].dropna().iloc[0]
            body += [line(frame.x0, y_of(limit), frame.x1, y_of(limit), PURPLE, 1.5, "6 4"),
                     text(frame.x1 - 4, y_of(limit) - 5, f"{label} {number(limit)}", anchor="end", size=11,
                          colour=PURPLE)]
    if series["baseline_median"].nunique() == 1:
        median = series["baseline_median"].iloc[0]
        body += [line(frame.x0, y_of(median), frame.x1, y_of(median), MUTED, 1, "2 3"),
                 text(frame.x0 + 4, y_of(median) - 5, f"median {number(median)}", size=11)]
    # Many geographies make dense columns of dots: smaller, translucent dots keep the signals in view.
    radius, opacity = (4, 1) if len(series) <= 60 else (2.5, 0.45)
    quiet = [(date, row) for date, (_, row) in zip(dates, series.iterrows()) if not row["signal"]]
    loud = [(date, row) for date, (_, row) in zip(dates, series.iterrows()) if row["signal"]]
    for date, row in quiet + loud:
        x, y = x_of(date.value), y_of(row["value"])
        shape = (marker(x, y, "diamond", VERMILLION, 5) if row["signal"]
                 else f'<g opacity="{opacity}">{marker(x, y, "circle", BLUE, radius)}</g>')
        tip = f"{date.date()} {row['geography']}: {number(row['value'])} {unit}"
        body.append(f"<g><title>{esc(tip)}</title>{shape}</g>")
    body += legend(frame, [(marker(4, 0, "circle", BLUE, 4), "Observation"),
                           (marker(4, 0, "diamond", VERMILLION, 4.5), "Signal"),
                           *([(line(-2, 0, 10, 0, PURPLE, 1.5, "4 3"), "Threshold")] if limits else [])])
    return svg(frame, f"{series['series_code'].iloc[0]}: observations and signals", body)


def matrix_chart(counts: pd.DataFrame, rows: tuple[str, list], columns: tuple[str, list], title: str) -> str:
    """A heat map of substantiated outcomes, each cell reading 'substantiated of all'."""
    (row_field, row_values), (column_field, column_values) = rows, columns
    cell_w, cell_h = 104, 46
    frame = Frame(width=96 + cell_w * len(column_values) + 10, height=58 + cell_h * len(row_values), left=96, top=50)
    grouped = counts.groupby([row_field, column_field])[["outcomes", "substantiated"]].sum()
    peak = max(grouped["substantiated"].max() if len(grouped) else 0, 1)
    body = [text(frame.x0, 16, title, size=12, colour=INK, weight="600")]
    for j, column in enumerate(column_values):
        body.append(text(frame.x0 + (j + 0.5) * cell_w, frame.top - 8, words(column), anchor="middle", colour=INK))
    for i, row in enumerate(row_values):
        y = frame.top + i * cell_h
        body.append(text(frame.x0 - 8, y + cell_h / 2 + 4, words(row), anchor="end", colour=INK))
        for j, column in enumerate(column_values):
            total, substantiated = grouped.loc[(row, column)] if (row, column) in grouped.index else (0, 0)
            shade = substantiated / peak
            fill = "#f6f8fa" if not total else _blend("#e8f1f8", BLUE, shade)
            ink = "#fff" if shade > 0.55 else INK
            x = frame.x0 + j * cell_w
            body.append(f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" rx="3" fill="{fill}"/>')
            body.append(text(x + cell_w / 2, y + cell_h / 2 + 5, f"{int(substantiated)} of {int(total)}" if total else "–",
                             anchor="middle", size=13, colour=ink, weight="600"))
    return svg(frame, title, body)


def _blend(low: str, high: str, share: float) -> str:
    """The colour `share` of the way from `low` to `high`."""
    a, b = (tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5)) for colour in (low, high))
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b))


def divergence_chart(means: pd.DataFrame) -> str:
    """Each group's mean answer per item and year on one line, so the gap between groups shows."""
    lines = []
    for item, years in means.groupby("item", sort=True):
        lines += [(item, None), *((item, year) for year in sorted(years["year"].unique()))]
    frame = Frame(height=78 + 28 * len(lines), left=64, right=74, top=40, bottom=34)
    x_of = scale((0, 5), (frame.x0, frame.x1))
    body = []
    for tick in range(6):
        body += [line(x_of(tick), frame.y1 + 14, x_of(tick), frame.y0, GRID),
                 text(x_of(tick), frame.y0 + 16, tick, anchor="middle", size=11)]
    body.append(text((frame.x0 + frame.x1) / 2, frame.y0 + 30, "mean answer", anchor="middle", size=11))
    for position, (item, year) in enumerate(lines, start=1):
        y = frame.y1 + 28 * position
        if year is None:
            body.append(text(12, y + 4, ITEMS.get(item, (None, words(item)))[1], colour=INK, weight="600"))
        else:
            body += divergence_line(frame, x_of, y, year, means[(means["item"] == item) & (means["year"] == year)])
    body += legend(frame, [(marker(4, 0, "circle", colour, 5), words(group)) for group, colour in GROUP_COLOURS.items()])
    return svg(frame, "Stakeholder groups' mean answers", body)


def divergence_line(frame: Frame, x_of, y: float, year: int, means: pd.DataFrame) -> list[str]:
    """One item and year: a dot per group, joined from lowest to highest, the gap written on the right."""
    shown = means[means["mean"].notna()]
    parts = [text(frame.x0 - 10, y + 4, year, anchor="end", colour=INK)]
    if shown.empty:
        return parts + [text(frame.x0 + 8, y + 4, "suppressed: groups too small to publish", size=11)]
    low, high = shown["mean"].min(), shown["mean"].max()
    divergent = high - low >= DIVERGENCE_GAP
    parts.append(line(x_of(low), y, x_of(high), y, INK if divergent else "#aab2bb", 3 if divergent else 2))
    if len(shown) > 1:
        parts.append(text(frame.x1 + 10, y + 4, f"gap {high - low:.1f}", size=11, colour=INK if divergent else MUTED,
                          weight="700" if divergent else "normal"))
    for row in shown.itertuples():
        parts.append(f'<g><title>{esc(words(row.group))}: {row.mean:.2f}</title>'
                     f'{marker(x_of(row.mean), y, "circle", GROUP_COLOURS.get(row.group, INK), 5.5)}</g>')
    return parts


def group_means(divergence: pd.DataFrame) -> pd.DataFrame:
    """Each group's published mean per item and year, read back from the pairwise table (NaN: hidden)."""
    sides = [divergence.rename(columns={f"group_{side}": "group", f"mean_{side}": "mean"})[
        ["item", "year", "group", "mean"]] for side in ("a", "b")]
    stacked = pd.concat(sides)
    return stacked.groupby(["item", "year", "group"], as_index=False)["mean"].max()



def table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """An HTML table; cells are already escaped HTML, columns in `numeric` right-aligned."""
    head = "".join(f'<th{" class=num" if i in numeric else ""}>{cell}</th>' for i, cell in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{cell}</td>'
                                    for i, cell in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def numbers(content: str, label: str = "The numbers") -> str:
    """The table behind a chart, folded away under the chart."""
    return f"<details><summary>{esc(label)}</summary>{content}</details>"


def grid(*figures: str) -> str:
    """Figures side by side, two to a row on a laptop screen."""
    return f'<div class="grid">{"".join(figures)}</div>'


def figure(title: str, subtitle: str, chart: str, behind: str) -> str:
    """A chart with its title, subtitle and the numbers behind it."""
    return (f'<figure><figcaption><h4>{esc(title)}</h4><p>{esc(subtitle)}</p></figcaption>{chart}{behind}</figure>')


def hidden() -> str:
    """What a suppressed cell shows instead of its figure."""
    return f'<span class="suppressed">{SUPPRESSED}</span>'


def status_badge(status: str | None) -> str:
    """A status as a coloured swatch and its name; no status is an indicator without a direction, not judged."""
    label, colour = STATUSES.get("not_judged" if missing(status) else status, (words(status), MUTED))
    return f'<span class="badge"><i style="background:{colour}"></i>{esc(label)}</span>'


def status_section(scorecard: pd.DataFrame) -> str:
    """The theme's indicator statuses per semester, chart and table."""
    if scorecard.empty:
        return '<p class="empty">No indicator of this theme has portfolio values yet.</p>'
    rows = [[esc(semester_label(row["period_start"])), *(str(int(row[status])) for status in STATUSES),
             reports_received(row), str(int(row["sentinel_signals"])), str(int(row["substantiated_outcomes"])),
             str(int(row["msc_stories"]))]
            for _, row in scorecard.iterrows()]
    header = ["Semester", *(label for label, _ in STATUSES.values()), "Reports received", "Sentinel signals",
              "Substantiated outcomes", "MSC stories"]
    return figure("Indicator status by semester", "Portfolio totals; one count per indicator.",
                  status_chart(scorecard), numbers(table(header, rows, numeric=set(range(1, len(header))))))


def reports_received(row: pd.Series) -> str:
    """Coverage of a cell: the project reports that came in of those that were due ("—" where none is due)."""
    if missing(row["periods_expected"]):
        return "—"
    return f"{int(row['periods_reported'])} of {int(row['periods_expected'])}"


def indicator_figure(rows: pd.DataFrame, semesters: list[pd.Timestamp]) -> str:
    """One indicator's actuals against targets, chart and table."""
    unit = rows["unit"].iloc[0]
    lines = [[esc(semester_label(row["period_start"])),
              hidden() if row["suppressed"] else esc(gap_reason(row) or number(row["value"], unit)),
              esc(number(row["target"], unit)),
              hidden() if row["suppressed"] else esc(number(row["pct_of_target"], "percent")),
              status_badge(row["status"]), reports_received(row)] for _, row in rows.iterrows()]
    return figure(f"{rows['indicator_code'].iloc[0]} {rows['name'].iloc[0]}", f"Portfolio, per semester ({unit})",
                  target_chart(rows, semesters),
                  numbers(table(["Semester", "Actual", "Target", "% of target", "Status", "Reports received"], lines,
                                numeric={1, 2, 3, 5})))


def targets_section(values: pd.DataFrame, catalog: pd.DataFrame) -> str:
    """Targets and actuals for every indicator of a theme with a portfolio series."""
    if values.empty:
        return '<p class="empty">No indicator of this theme has portfolio values yet.</p>'
    semesters = sorted(values["period_start"].unique())
    figures = [indicator_figure(rows, [pd.Timestamp(s) for s in semesters])
               for _, rows in values.groupby("indicator_code", sort=True)]
    without = catalog[~catalog["code"].isin(values["indicator_code"])]
    note = ("<p class=note>No portfolio series (reported per project only, or no values yet): "
            + ", ".join(f"{esc(row.code)} {esc(row.name)}" for row in without.itertuples()) + ".</p>"
            if len(without) else "")
    return grid(*figures) + note


def sentinel_section(sentinel: pd.DataFrame) -> str:
    """One chart per sentinel series of a theme, with its signals listed."""
    if sentinel.empty:
        return '<p class="empty">No sentinel series is tied to this theme.</p>'
    parts = []
    for _, series in sentinel.groupby(["indicator_code", "series_code"], sort=True):
        signals = series[series["signal"]]
        rows = [[esc(pd.Timestamp(row["observed_on"]).date()), esc(row["geography"]), esc("" if missing(row["label"]) else row["label"]),
                 esc(number(row["value"])), esc("—" if missing(row["modified_z"]) else f"{row['modified_z']:.1f}"),
                 esc(row["signal_reason"])] for _, row in signals.iterrows()]
        behind = (table(["Observed", "Geography", "What", "Value", "Modified z", "Why it signals"], rows, numeric={3, 4})
                  if rows else "<p class=note>No observation signals.</p>")
        first = series.iloc[0]
        parts.append(figure(f"{first['indicator_code']} {first['name']}",
                            f"{len(signals)} signal(s) among {len(series)} observations of {first['series_code']}",
                            sentinel_chart(series), numbers(behind, "The signals")))
    return grid(*parts)


def outcomes_section(outcomes: pd.DataFrame) -> str:
    """The theme's substantiated outcomes by significance, contribution, intention and polarity."""
    if outcomes.empty:
        return '<p class="empty">No outcome harvested for this theme yet.</p>'
    charts = (matrix_chart(outcomes, ("significance", list(SIGNIFICANCE)), ("contribution", list(CONTRIBUTION)),
                           "Significance × contribution")
              + matrix_chart(outcomes, ("intention", list(INTENTION)), ("polarity", list(POLARITY)),
                             "Intention × polarity"))
    rows = [[esc(words(row.significance)), esc(words(row.contribution)), esc(words(row.intention)),
             esc(words(row.polarity)), str(row.outcomes), str(row.substantiated)]
            for row in outcomes.sort_values(["significance", "contribution", "intention", "polarity"]).itertuples()]
    behind = table(["Significance", "Contribution", "Intention", "Polarity", "Outcomes", "Substantiated"], rows,
                   numeric={4, 5})
    return figure("Outcome-harvest matrix", f"{int(outcomes['substantiated'].sum())} substantiated of "
                  f"{int(outcomes['outcomes'].sum())} harvested outcomes, portfolio, all years",
                  f'<div class="matrices">{charts}</div>', numbers(behind))


def divergence_section(divergence: pd.DataFrame) -> str:
    """Group means on the theme's survey items and the pairs of groups that diverge."""
    if divergence.empty:
        return '<p class="empty">No stakeholder-survey item is tied to this theme.</p>'
    means = group_means(divergence)
    groups = [group for group in STAKEHOLDER_GROUPS if group in set(means["group"])]
    rows = []
    for (item, year), cells in means.groupby(["item", "year"], sort=True):
        by_group = dict(zip(cells["group"], cells["mean"]))
        rows.append([esc(f"{ITEMS.get(item, (None, words(item)))[1]}, {year}"),
                     *("—" if group not in by_group else hidden() if missing(by_group[group])
                       else f"{by_group[group]:.2f}" for group in groups)])
    pairs = divergence[divergence["divergent"].fillna(False).astype(bool)]
    pair_rows = [[esc(ITEMS.get(row.item, (None, words(row.item)))[1]), str(row.year), esc(words(row.group_a)),
                  f"{row.mean_a:.2f}", esc(words(row.group_b)), f"{row.mean_b:.2f}", f"{row.gap:+.2f}"]
                 for row in pairs.itertuples()]
    behind = numbers(table(["Item, year", *(esc(words(group)) for group in groups)], rows,
                           numeric=set(range(1, len(groups) + 1))), "Group means") + (
        numbers(table(["Item", "Year", "Group A", "Mean A", "Group B", "Mean B", "Gap"], pair_rows,
                      numeric={1, 3, 5, 6}), f"Divergent pairs (gap of {DIVERGENCE_GAP:g} or more)")
        if pair_rows else "")
    return figure("Stakeholder divergence", "Portfolio survey answers by stakeholder group; groups under the "
                  "disclosure threshold are suppressed", divergence_chart(means), behind)


def theme_section(theme: str, data: dict[str, pd.DataFrame]) -> str:
    """One theme: status, targets and actuals, sentinels, harvested outcomes, stakeholder divergence."""
    items = [item for item, (item_theme, _) in ITEMS.items() if item_theme == theme]
    catalog = data["catalog"][data["catalog"]["theme"] == theme]
    parts = [
        f'<section id="theme-{esc(theme)}"><h2>{esc(THEME_NAMES[theme])}</h2>',
        f'<p class="lede">{len(catalog)} indicator(s) in the catalogue.</p>' if len(catalog)
        else '<p class="empty">No indicator of this theme is in the catalogue yet.</p>',
        "<h3>Indicator status and harvested outcomes</h3>",
        grid(status_section(data["scorecard"][data["scorecard"]["theme"] == theme]),
             outcomes_section(data["outcomes"][data["outcomes"]["theme"] == theme])),
        "<h3>Targets and actuals</h3>", targets_section(data["values"][data["values"]["theme"] == theme], catalog),
        "<h3>Sentinel indicators</h3>", sentinel_section(data["sentinel"][data["sentinel"]["theme"] == theme]),
        "<h3>Stakeholder divergence</h3>",
        grid(divergence_section(data["divergence"][data["divergence"]["item"].isin(items)])),
        "</section>",
    ]
    return "".join(parts)


def latest_published(values: pd.DataFrame) -> pd.DataFrame:
    """Each indicator's portfolio row of its own latest semester with a published figure (or a suppressed one):
    one indicator's latest report is not another's."""
    shown = values[values["value"].notna() | values["suppressed"].astype(bool)]
    return shown.sort_values(["indicator_code", "period_start"]).groupby("indicator_code").tail(1)


def overview(data: dict[str, pd.DataFrame]) -> str:
    """Per theme: each indicator's status in its latest published semester, then signals, outcomes and stories
    over all periods."""
    latest = latest_published(data["values"])
    rows = []
    for theme in THEMES:
        current = latest[latest["theme"] == theme]
        statuses = current["status"].fillna("not_judged").value_counts()
        semesters = current.groupby("period_start").size().sort_index(ascending=False)
        expected = current["periods_expected"].dropna()
        sentinel = data["sentinel"][data["sentinel"]["theme"] == theme]
        outcomes = data["outcomes"][data["outcomes"]["theme"] == theme]
        stories = data["stories"][data["stories"]["theme"] == theme]["stories"].sum()
        rows.append([f'<a href="#theme-{esc(theme)}">{esc(THEME_NAMES[theme])}</a>',
                     esc(", ".join(f"{semester_label(start)} ({count})" for start, count in semesters.items())) or "—",
                     *(str(int(statuses.get(status, 0))) for status in STATUSES),
                     f"{int(current.loc[expected.index, 'periods_reported'].sum())} of {int(expected.sum())}"
                     if len(expected) else "—",
                     str(int(sentinel["signal"].sum())), str(int(outcomes["substantiated"].sum())), str(int(stories))])
    header = ["Theme", "Latest semester (indicators)", *(status_badge(status) for status in STATUSES),
              "Reports received", "Sentinel signals", "Substantiated outcomes", "MSC stories"]
    return ('<section id="overview"><h2>At a glance</h2><p class="lede">Portfolio indicators by status, each in its '
            'own latest semester with a published figure (which semester, and for how many indicators, is given); '
            'signals, substantiated outcomes and stories over all periods.</p>'
            f'{table(header, rows, numeric=set(range(2, len(header))))}</section>')


def rejections_section(audit: pd.DataFrame, rejections: pd.DataFrame) -> str:
    """What arrived, what was loaded, and why rows were turned away."""
    audit_rows = [[esc(row.source), str(row.files), str(row.quarantined), f"{int(row.rows_read):,}",
                   f"{int(row.rows_loaded):,}", f"{int(row.rows_rejected):,}"] for row in audit.itertuples()]
    rejection_rows = [[esc(row.source), esc(row.column), esc(row.check), str(row.rejections), esc(row.example)]
                      for row in rejections.itertuples()]
    return ('<section id="rejected-rows"><h2>Data received and rejected</h2>'
            '<p class="lede">Every file under data/raw, and the checks that turned rows away. The full list is the '
            '<code>rejected_rows</code> table of the marts (identifiers masked).</p>'
            + table(["Source", "Files", "Quarantined", "Rows read", "Rows loaded", "Rows rejected"], audit_rows,
                    numeric={1, 2, 3, 4, 5})
            + "<h3>Most frequent rejections</h3>"
            + (table(["Source", "Column", "Check", "Rows", "Example message"], rejection_rows, numeric={3})
               if rejection_rows else '<p class="empty">No row was rejected.</p>')
            + "</section>")


def _link(target: Path, out_dir: Path) -> str:
    """A link from the report's folder to `target` that survives moving the marts folder as a whole."""
    return quote(Path(os.path.relpath(target, out_dir)).as_posix())


def quality_section(quality: QualityReport, out_dir: Path) -> str:
    """Each Great Expectations suite's verdict, linked to its Data Docs page (those pages read offline)."""
    rows = []
    for suite in quality.suites:
        pages = sorted((quality.docs_index.parent / "validations" / suite.table).rglob("*.html"))
        name = (f'<a href="{esc(_link(pages[-1], out_dir))}">{esc(suite.table)}</a>' if pages else esc(suite.table))
        verdict = "passed" if suite.passed else f"<strong>failed {len(suite.failures)}</strong>"
        failures = "<br>".join(esc(failure) for failure in suite.failures)
        rows.append([name, str(suite.expectations), verdict, failures])
    return ('<section id="data-quality"><h2>Data quality</h2><p class="lede">The Great Expectations suites run on '
            "these marts before they were published. Each table links to its Data Docs page; the Data Docs, index "
            "included, open without a network connection.</p>"
            + table(["Table", "Expectations", "Result", "Failed expectations"], rows, numeric={1}) + "</section>")


def render_page(data: dict[str, pd.DataFrame], built_at: dt.datetime, links: dict[str, str],
                quality: str = "") -> str:
    """The whole HTML page; `quality` is the data-quality section, if any."""
    loaded = data["audit"]["loaded_at"].max()
    navigation = " · ".join(f'<a href="{esc(href)}">{esc(label)}</a>' for label, href in links.items())
    themes = " · ".join(f'<a href="#theme-{esc(theme)}">{esc(THEME_NAMES[theme])}</a>' for theme in THEMES)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>MEL report: labor-rights portfolio, Mexico automotive sector</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>Labor-rights portfolio in Mexico's automotive sector</h1>
<p class="meta">Monitoring, evaluation and learning report · built {esc(built_at.strftime('%Y-%m-%d %H:%M UTC'))}
· data loaded {esc('—' if missing(loaded) else pd.Timestamp(loaded).strftime('%Y-%m-%d %H:%M'))}</p>
<nav>{navigation}</nav>
<nav class="themes">{themes}</nav>
</header>
<main>
{overview(data)}
{"".join(theme_section(theme, data) for theme in THEMES)}
{quality}
{rejections_section(data["audit"], data["rejections"])}
</main>
<footer>Counts of 1 to 10 people, rates on fewer than 11 people and percentages that count or leave out 1 to 10
people are published as "suppressed", as are cells that would let them be recovered from totals. Colours follow the Okabe-Ito palette, readable with colour
blindness; every chart's numbers are in the table under it.</footer>
</body>
</html>
"""


def build_report(marts_path: Path, out_dir: Path, *, quality: QualityReport | None = None,
                 contract: Path = CONTRACT) -> Path:
    """Write out_dir/index.html from the marts file, replacing the old page whole; returns its path.

    With `quality` (the suites' report on these marts) the page gains a data-quality section and links
    to the Data Docs.
    """
    data = load_marts(marts_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    links = ({"Data quality": "#data-quality", "Data Docs": _link(quality.docs_index, out_dir)} if quality else {})
    links |= {"Data contract": _link(contract, out_dir), "Rejected rows": "#rejected-rows"}
    page = render_page(data, dt.datetime.now(dt.timezone.utc), links,
                       quality_section(quality, out_dir) if quality else "")
    target = out_dir / "index.html"
    temporary = out_dir / f".index.html-{uuid.uuid4().hex[:12]}.tmp"
    try:
        temporary.write_text(page, encoding="utf-8")
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial,
       sans-serif; color: #1f2328; background: #f6f8fa; }
header { background: #0b3954; color: #fff; padding: 22px 32px 14px; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 650; }
header .meta { margin: 0 0 10px; color: #c9dbe8; font-size: 14px; }
header nav { font-size: 14px; margin: 4px 0; }
header nav a { color: #fff; font-weight: 600; }
header nav.themes a { color: #c9dbe8; font-weight: 500; }
main { max-width: 1280px; margin: 0 auto; padding: 8px 32px 32px; }
section { background: #fff; border: 1px solid #d8dee4; border-radius: 8px; padding: 8px 24px 20px; margin: 22px 0; }
h2 { font-size: 21px; margin: 14px 0 4px; color: #0b3954; }
h3 { font-size: 16px; margin: 22px 0 8px; padding-top: 10px; border-top: 1px solid #eaeef2; color: #24292f; }
h4 { margin: 0; font-size: 15px; }
.lede, .note, .empty { color: #57606a; margin: 4px 0 10px; font-size: 14px; }
.empty { font-style: italic; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 16px; }
figure { margin: 0 0 8px; padding: 12px 14px; border: 1px solid #eaeef2; border-radius: 6px; background: #fff; }
figcaption p { margin: 0 0 6px; color: #57606a; font-size: 13px; }
figure svg { width: 100%; height: auto; display: block; font-family: inherit; }
.matrices { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
details { margin-top: 6px; font-size: 13px; }
summary { cursor: pointer; color: #0b5cad; }
table { border-collapse: collapse; margin: 6px 0; font-size: 13px; width: 100%; }
th, td { padding: 4px 8px; border-bottom: 1px solid #eaeef2; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fbfcfd; }
.suppressed { color: #57606a; font-style: italic; }
.badge { white-space: nowrap; }
.badge i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px;
           box-shadow: inset 0 0 0 1px rgba(0, 0, 0, .3); }
code { background: #f0f2f4; padding: 0 4px; border-radius: 3px; }
footer { max-width: 1280px; margin: 0 auto 30px; padding: 0 32px; color: #57606a; font-size: 13px; }
"""
