"""Render the indicator reference sheets as Markdown pages under docs/indicators/.

Generated from the YAML sheets and their SQL by `mel docs`, so the published sheets never drift
from what the pipeline computes; a test fails when the committed pages are stale.
"""

from __future__ import annotations

from mel_pipeline.reference.catalogue import IndicatorSheet
from mel_pipeline.reference.codes import THEME_NAMES, THEMES

FIELDS = (("Theme", lambda s: f"{s.theme} ({THEME_NAMES[s.theme]})"), ("Unit", lambda s: s.unit),
          ("Direction", lambda s: s.direction.replace("_", " ")), ("Accumulation", lambda s: s.accumulation),
          ("Aggregation", lambda s: s.aggregation), ("Approach", lambda s: s.approach.replace("_", " ")),
          ("Disaggregations", lambda s: ", ".join(s.disaggregations) or "none"),
          ("Data sources", lambda s: ", ".join(f"`stg_{name}`" for name in s.data_sources)),
          ("Frequency", lambda s: s.frequency),
          ("Counts people (disclosure control applies)", lambda s: "yes" if s.counts_people else "no"),
          ("Reported by grantees", lambda s: "yes" if s.reported_by_grantees else "no"),
          ("Year and life figures", lambda s: SPAN_FIGURES[s.accumulation] if s.rolls_up else
           "year figures computed from the year's records by the SQL" if "year" in s.sql_periods else
           "none (semesters cannot be combined)"),
          ("Year and life targets", lambda s: SPAN_TARGETS[s.target_rule]))

SPAN_FIGURES = {
    "incremental": "rolled up from the semesters (numerators and denominators summed, then the value recomputed)",
    "cumulative": "the latest semester's, a stock is never summed",
}
SPAN_TARGETS = {
    "sum": "the targets file's for that span, else the sum of its semesters' targets when every semester has one",
    "latest": "the targets file's for that span, else the latest semester's target",
    "none": "only as the targets file states them for that span; never derived from the semesters",
}


def render_sheet(sheet: IndicatorSheet) -> str:
    """One indicator's reference page."""
    lines = [f"# {sheet.code} {sheet.name}", "", sheet.definition.strip(), "", "| field | value |", "|---|---|"]
    lines += [f"| {label} | {value(sheet)} |" for label, value in FIELDS]
    if sheet.thresholds:
        limits = [f"modified z-score beyond {sheet.thresholds.modified_z}"]
        limits += [f"above {sheet.thresholds.upper}"] if sheet.thresholds.upper is not None else []
        limits += [f"below {sheet.thresholds.lower}"] if sheet.thresholds.lower is not None else []
        lines.append(f"| Sentinel series | `{sheet.thresholds.series_code}`: signals {'; '.join(limits)} |")
    if sheet.parameters:
        shown = [f"`{name}`: {', '.join(map(str, value)) if isinstance(value, list) else value}"
                 for name, value in sheet.parameters.items()]
        lines.append(f"| Parameters | {'; '.join(shown)} |")
    for level in sheet.publication.levels:
        where = "each project and the portfolio" if level.projects == "each" else "the portfolio only"
        lines.append(f"| Published | {', '.join(level.disaggregations)}: {where}, per {', '.join(level.periods)} |")
    if sheet.publication.withheld:
        lines.append(f"| Withheld (never published) | {', '.join(sheet.publication.withheld)} |")
    if sheet.publication.min_group_size is not None:
        lines.append(f"| Minimum group size | {sheet.publication.min_group_size} answers (the disclosure threshold "
                     "if higher) |")
    if sheet.direction != "none":
        bands = sheet.status_bands
        lines.append(f"| Status bands | on track from {bands.on_track}% of target, at risk from {bands.at_risk}% "
                     "(mirrored when lower is better) |")
    if sheet.notes:
        lines += ["", "## Notes", "", sheet.notes.strip()]
    lines += ["", "## Computation", "", f"`indicators/{sheet.theme}/{sheet.code}.sql`:", "", "```sql",
              sheet.sql.strip(), "```", ""]
    return "\n".join(lines)


def render_index(sheets: list[IndicatorSheet]) -> str:
    """The catalogue page: every indicator by theme, linked to its sheet."""
    lines = ["# Indicator catalogue", "", "Generated from `indicators/` by `mel docs`; do not edit by hand.", ""]
    for theme in THEMES:
        lines += [f"## {THEME_NAMES[theme]}", "", "| code | indicator | unit | approach |", "|---|---|---|---|"]
        lines += [f"| [{s.code}]({s.code}.md) | {s.name} | {s.unit} | {s.approach.replace('_', ' ')} |"
                  for s in sheets if s.theme == theme]
        lines.append("")
    return "\n".join(lines)


def render_pages(sheets: list[IndicatorSheet]) -> dict[str, str]:
    """File name to page text for the whole catalogue."""
    return {"index.md": render_index(sheets), **{f"{sheet.code}.md": render_sheet(sheet) for sheet in sheets}}
