"""Turning the real reference data (`../shared/reference-data/`) into rows of this project's sources.

What belongs here: reading the public CSV files compiled in the reference folder (their SOURCES.md
says where every row comes from) and converting them, without inventing anything, into

- the portfolio register (`projects` source): the four projects the evaluation covered, matched
  by title in `ilab_mexico_projects.csv`;
- sentinel series (`sentinel` source) from `rrm_cases.csv` and `mexico_labor_stats.csv`.

Every row keeps the URLs it was read from in its `source` / `source_url` column. Synthetic data
lives in `mel_pipeline.sample.synthetic`, which calls these functions.

Conversion rules (the real files give some dates to the month or year only):

- A month-only date is the first day of the month when it starts an interval (project start,
  RRM petition) and the last day when it ends one (project end, RRM resolution).
- `rrm_days_to_resolution`: one row per case with a resolution date and a start date; the start is
  the petition date, or the US request date when the petition date is blank. `observed_on` is the
  start, `value` the days from start to resolution. Dates that do not parse (e.g. "2024-03/04
  (announced ...)") count as blank.
- `rrm_cases_open`: one row per case with a start date (as above) but no resolution date: the case
  was still open when the reference file was compiled. `observed_on` is the start and `value` is 1
  (one open case). How long it has been open depends on the date it is judged at, so the days are
  not stored: ENF-03 counts them to its as-of date, which keeps a run reproducible for a fixed as-of.
- Both RRM series carry the case's `sector`: the reference file's sector in lower case without its
  parenthesised detail ("automotive parts (iron castings)" -> "automotive parts", "rubber/tires
  (automotive)" -> "rubber/tires"). Other series have no sector.
- `rrm_cases_requested`: US review requests per calendar quarter (dated at the quarter's first
  day), every quarter from the first to the last request, zero quarters included. Only the cases
  listed in `rrm_cases.csv` with a parseable request date are counted.
- Labour statistics: rows whose value is a number and whose period names a date. The observation
  date is the end of the period: "2019 to 2021-12-31" -> 2021-12-31, "to 2022-05" -> 2022-05-31,
  "2024" -> 2024-12-31; approximate or undated periods ("~2022", "2024/2025", "same as above")
  are left out. The series code is the indicator text in snake_case (at most 64 characters).

Assumption in the register: the Solidarity Center project's dates were not found (the reference
file leaves them blank), so 2020-10-01 to 2024-09-30 is assumed, the span of the 2020 award's
four-year programme. PADF's award amount is unknown, so its budget is left blank.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import re
import unicodedata
from pathlib import Path
from typing import NamedTuple

from mel_pipeline.reference import codes

ILAB_PROJECTS_FILE = "ilab_mexico_projects.csv"
RRM_CASES_FILE = "rrm_cases.csv"
LABOR_STATS_FILE = "mexico_labor_stats.csv"

SENTINEL_COLUMNS = ("series_code", "observed_on", "geography", "value", "unit", "label", "source", "sector")
PROJECT_COLUMNS = ("project_code", "title", "short_name", "grantee", "start_date", "end_date", "budget_usd",
                   "themes", "report_due_days", "source_url")
REPORT_DUE_DAYS = 30
MAX_SERIES_CODE_LENGTH = 64


class SentinelRow(NamedTuple):
    """One observation of a sentinel series, in the `sentinel` source's column order."""

    series_code: str
    observed_on: dt.date
    geography: str
    value: float
    unit: str
    label: str
    source: str
    sector: str = ""


class ProjectRecord(NamedTuple):
    """One row of the portfolio register, in the `projects` source's column order."""

    project_code: str
    title: str
    short_name: str
    grantee: str
    start_date: dt.date
    end_date: dt.date
    budget_usd: float | None
    themes: str
    report_due_days: int
    source_url: str


class PortfolioProject(NamedTuple):
    """How one evaluated project is recognised in the ILAB file and what the register adds to it."""

    code: str
    title_starts_with: str
    themes: str
    assumed_start: dt.date | None = None
    assumed_end: dt.date | None = None


PORTFOLIO = (
    PortfolioProject("CALLE", "Improving Working Conditions in the Mexican Automotive Supply Chain", "enforcement;cla"),
    PortfolioProject("PADF-EMP", "Engaging Mexico's Auto Sector Employers", "compliance;awareness;cla"),
    PortfolioProject("SC-WORKERS", "Engaging Workers and Civil Society to Strengthen Labor Law Enforcement (Mexico)",
                     "capacity;awareness;compliance;cla", dt.date(2020, 10, 1), dt.date(2024, 9, 30)),
    PortfolioProject("MAP", "Mexico Awareness Raising Project", "awareness;cla"),
)

_DOL_RELEASE = "https://dol.gov/newsroom/releases/ilab/ilab20200904?lang=es"
_DEVTECH = "https://devtechsys.com/news/2023/04/04/u-s-dol-awards-devtech-mexico-automotive-industry-evaluation-contract/"
_KPSK = ("https://kpskconsulting.com/u-s-department-of-labor-announces-20-million-in-new-grants-to-support-usmca-"
         "implementation-bringing-the-2020-total-to-nearly-50-million/")

# The register `portfolio_register` builds from ilab_mexico_projects.csv, for runs without the
# reference folder; tests/test_synthetic.py checks the two stay equal.
FALLBACK_REGISTER = (
    ProjectRecord(
        "CALLE", "Improving Working Conditions in the Mexican Automotive Supply Chain", "CALLE",
        "American Institutes for Research (AIR)", dt.date(2019, 12, 15), dt.date(2024, 3, 30), 6250000.0,
        "enforcement;cla", REPORT_DUE_DAYS,
        "https://dol.gov/agencies/ilab/improving-working-conditions-mexican-automotive-supply-chain-calle?lang=id; "
        "https://dol.gov/agencies/ilab/project/keyword/Mexico; "
        "https://air.org/project/compliance-auto-parts-through-labor-law-enforcement-calle; " + _DEVTECH),
    ProjectRecord(
        "PADF-EMP", "Engaging Mexico's Auto Sector Employers in Labor Law Reform Implementation",
        "Mexico Auto Employers", "Pan American Development Foundation (PADF)", dt.date(2020, 11, 1),
        dt.date(2024, 10, 31), None, "compliance;awareness;cla", REPORT_DUE_DAYS,
        "https://www.dol.gov/agencies/ilab/mexico-auto-employers; "
        "https://www.scholarshipandgrants.com/business-grants/engaging-mexicos-auto-sector-employers-in-labor-law-"
        "reform-implementation/; " + _DEVTECH),
    ProjectRecord(
        "SC-WORKERS", "Engaging Workers and Civil Society to Strengthen Labor Law Enforcement (Mexico)", "",
        "Solidarity Center", dt.date(2020, 10, 1), dt.date(2024, 9, 30), 10000000.0,
        "capacity;awareness;compliance;cla", REPORT_DUE_DAYS, f"{_KPSK}; {_DOL_RELEASE}; {_DEVTECH}"),
    ProjectRecord(
        "MAP", "Mexico Awareness Raising Project (Labor Reform Awareness Raising Project)", "MAP",
        "Partners of the Americas", dt.date(2021, 1, 1), dt.date(2025, 6, 30), 10000000.0, "awareness;cla",
        REPORT_DUE_DAYS,
        f"https://www.partners.net/mexico-awareness-raising-project; {_KPSK}; {_DOL_RELEASE}; {_DEVTECH}"),
)

_FULL_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
_STATE_SPELLINGS = codes.spelling_map(codes.STATE_OR_TOTAL)


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [{key: (value or "").strip() for key, value in row.items()} for row in csv.DictReader(handle)]


def parse_date(text: str, *, end_of_period: bool = False) -> dt.date | None:
    """A full date, a month (`YYYY-MM`) or a year (`YYYY`) as a date; None if the text is anything else.

    A month or year becomes its first day, or its last day when `end_of_period` is set.
    """
    text = text.strip()
    if match := _FULL_DATE.match(text):
        return dt.date(*map(int, match.groups()))
    if match := _MONTH.match(text):
        year, month = map(int, match.groups())
        day = calendar.monthrange(year, month)[1] if end_of_period else 1
        return dt.date(year, month, day)
    if match := _YEAR.match(text):
        year = int(match.group(1))
        return dt.date(year, 12, 31) if end_of_period else dt.date(year, 1, 1)
    return None


def period_end_date(period_text: str) -> dt.date | None:
    """The last day of a reported period such as "2019 to 2021-12-31", "to 2022-05 (article ...)" or "2024".

    None when the period is approximate or undated ("~2022", "2024/2025", "same as above").
    """
    text = re.sub(r"\(.*?\)", "", period_text).strip()
    text = re.sub(r"^as of\s+", "", text)
    if match := re.search(r"(?:^|\s)to\s+(\S+)$", text):
        text = match.group(1)
    return parse_date(text, end_of_period=True)


def series_code(indicator_text: str) -> str:
    """The indicator text as a snake_case series code of at most 64 characters."""
    plain = unicodedata.normalize("NFKD", indicator_text).encode("ascii", "ignore").decode().lower()
    code = re.sub(r"[^a-z0-9]+", "_", plain).strip("_")
    return code[:MAX_SERIES_CODE_LENGTH].rstrip("_")


def canonical_state(name: str) -> str:
    """The state's canonical name from any accepted spelling; 'total' when blank."""
    if not name:
        return "total"
    return _STATE_SPELLINGS[codes.normalise_token(name)]


def _urls(text: str) -> str:
    return " ".join(url.strip() for url in text.split(";") if url.strip())


def rrm_sentinel_rows(cases_csv: Path) -> list[SentinelRow]:
    """Series `rrm_days_to_resolution` (one row per resolved case), `rrm_cases_open` (one row per case
    still open) and `rrm_cases_requested` (per quarter)."""
    cases = _read_rows(cases_csv)
    rows = []
    for case in cases:
        start = parse_date(case["petition_date"]) or parse_date(case["us_request_date"])
        if start is None:
            continue
        resolved = parse_date(case["resolution_or_outcome_date"], end_of_period=True)
        state, label, sources, sector = (canonical_state(case["state"]), case["case_label"],
                                         _urls(case["source_urls"]), rrm_sector(case["sector"]))
        if resolved is None:
            rows.append(SentinelRow("rrm_cases_open", start, state, 1.0, "open cases", label, sources, sector))
        else:
            rows.append(SentinelRow("rrm_days_to_resolution", start, state, float((resolved - start).days), "days",
                                    label, sources, sector))
    rows.extend(_requests_per_quarter(cases))
    return rows


def rrm_sector(text: str) -> str:
    """The sector of an RRM case as the sentinel series carry it: lower case, parenthesised detail dropped."""
    return re.sub(r"\s*\(.*\)\s*$", "", text).strip().lower()


def _quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _requests_per_quarter(cases: list[dict[str, str]]) -> list[SentinelRow]:
    by_quarter: dict[dt.date, list[dict[str, str]]] = {}
    for case in cases:
        requested = parse_date(case["us_request_date"])
        if requested is not None:
            by_quarter.setdefault(_quarter_start(requested), []).append(case)
    if not by_quarter:
        return []
    rows = []
    quarter, last = min(by_quarter), max(by_quarter)
    while quarter <= last:
        counted = by_quarter.get(quarter, [])
        source = (" ".join(_urls(case["source_urls"]) for case in counted) if counted
                  else f"{RRM_CASES_FILE} (reference data): no US request dated in this quarter")
        rows.append(SentinelRow("rrm_cases_requested", quarter, "total", float(len(counted)), "requests",
                                "US RRM review requests in the quarter", source))
        next_month = quarter.month + 3
        quarter = dt.date(quarter.year + (next_month > 12), (next_month - 1) % 12 + 1, 1)
    return rows


def labor_stats_sentinel_rows(stats_csv: Path) -> list[SentinelRow]:
    """National series from the CFCRL/STPS statistics: numeric values with a dated period."""
    rows = []
    for stat in _read_rows(stats_csv):
        try:
            value = float(stat["value"])
        except ValueError:
            continue
        observed_on = period_end_date(stat["as_of_or_period"])
        if observed_on is None:
            continue
        rows.append(SentinelRow(series_code(stat["indicator"]), observed_on, "total", value, stat["unit"],
                                stat["indicator"], stat["source_url"]))
    return rows


def portfolio_register(ilab_csv: Path) -> list[ProjectRecord]:
    """The four evaluated projects from the ILAB projects file, in `PORTFOLIO` order."""
    projects = _read_rows(ilab_csv)
    register = []
    for spec in PORTFOLIO:
        matches = [row for row in projects if row["project_title"].startswith(spec.title_starts_with)]
        if len(matches) != 1:
            raise ValueError(f"{ilab_csv.name}: expected one project titled '{spec.title_starts_with}...', "
                             f"found {len(matches)}")
        row = matches[0]
        start = parse_date(row["start_date"]) or spec.assumed_start
        end = parse_date(row["end_date"], end_of_period=True) or spec.assumed_end
        if start is None or end is None:
            raise ValueError(f"{ilab_csv.name}: no dates for '{row['project_title']}' and none assumed")
        register.append(ProjectRecord(
            spec.code, row["project_title"], row["short_name"].split(" (")[0], row["grantee"], start, end,
            float(row["funding_usd"]) if row["funding_usd"] else None, spec.themes, REPORT_DUE_DAYS,
            row["source_urls"]))
    return register
