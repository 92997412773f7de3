"""Deterministic synthetic raw data for every source of the data contract, at any scale.

What belongs here: `generate`, which writes one folder per source under `out_dir` (folder names
are the contract's source names) in the shapes grantees and survey tools really send: CSV and
Excel, English and Spanish headers, Spanish spellings of codes, KoboToolbox and ODK Central exports
and an IATI 2.03 file. Real facts (the portfolio's projects, RRM cases, CFCRL/STPS statistics) come
from `mel_pipeline.reference.public_data`; everything else is invented here. The Solidarity Center project's
dates are assumed (see `mel_pipeline.reference.public_data`).

Same seed, same bytes: every random draw comes from a generator seeded by the seed and the file
it is for, and the Excel files carry fixed timestamps. Nothing reads the clock. All dates are on
or before 2025-08-31 (reporting periods end by 2025-06-30), except real reference observations.

Size: `scale` multiplies every source that can grow, each in proportion: participant rows (6,000
at scale 1), feedback submissions (400), outcome-harvest records (40), MSC stories (30) and CLA log
entries (120), each exactly round(n x scale), and every count a grantee reports: AWR-01 is counted
from the attendance records, CMP-02's votes and the denominators of rates (people, seats, unions,
inspections, votes) are scale times their scale-1 size (rounded; percentages and scores do not
move). What cannot grow with scale: the projects register (the four real projects, plus one
synthetic project P-0001, P-0002, ... per 25 units of scale, with its own indicator reports, targets
and, for awareness projects, a share of the attendance records), so the number of indicator-report
and target rows grows only in steps of 25; the IATI file (the real projects only; its sex cells
follow AWR-01's); and the sentinel series (monthly context series and real reference observations).
Big files are built with numpy and pyarrow in chunks of whole training events and streamed to
disk, so one chunk is in memory at a time.

Grantee-reported AWR-01 (people trained) is counted from the project's own attendance records: per
semester, sex and state, every attendance (one person at one event) counts once, and the grantee's
total differs from that count by a uniform draw within 3% (grantees count slightly differently:
late sign-in sheets, a duplicate caught or missed); the sex and state cells share that total in
proportion to the records. Two deliberate discrepancies, in every run, give a data-quality reviewer
something to find (they pass the contract, so they are not rejected):

- MAP 2023 H2: AWR-01 over-reported, 35% above the attendance records (total and every cell).
- SC-WORKERS 2022 H1: AWR-01 under-reported, 25% below the attendance records.

Deliberate defects, so a first run shows rejections (only with `sample=True`):

- indicator_reports/CALLE_2022.csv: ENF-04 total for 2022 H1 with numerator > denominator.
- indicator_reports/PADF-EMP_2023.xlsx: CMP-03 total for 2023 H2 with numerator "N/A" and a blank value.
- indicator_reports/MAP_2022.csv: an AWR-01 row for state "Nuevo Leon x" (unknown spelling).
- indicator_reports/CALLE_2021.csv: ENF-04 total for 2021 H2 with period end 2031-12-31.
- indicator_reports/MAP_2023.csv: an exact duplicate of an AWR-01 row.
- indicator_reports/SC-WORKERS_2021_latin1.csv: SC-WORKERS's 2021 report saved as Windows-1252
  (valid otherwise; it replaces SC-WORKERS_2021.csv, so the whole file is quarantined).
- participants/MAP_2022.csv: one invalid CURP (a letter O among the birth-date digits), one age 7,
  one row with no identifier at all (no name, CURP, phone or email).
- outcomes/outcomes.csv: one significance "muy alta" (not in the vocabulary).

Without `sample=True` (benchmarks) about 0.1% of participant rows are bad instead: a post-test score
of 130. Every CURP written without `sample=True` is valid, check digit included.

Not defects but realistic mess the readers must handle in every run: CALLE's 2023 H2 report is
missing (a completeness gap), PADF-EMP_2022.xlsx has a merged title row above its header and a
hidden "instrucciones" sheet, the last report of CALLE, PADF-EMP and SC-WORKERS covers a semester
that runs past the project's end, and about 30% of participant rows are repeat attendances.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import re
import unicodedata
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from openpyxl import Workbook
from openpyxl.styles import Font

from mel_pipeline.reference import codes, public_data
from mel_pipeline.reference.public_data import ProjectRecord

FIRST_PERIOD_START = dt.date(2021, 1, 1)
LAST_PERIOD_END = dt.date(2025, 6, 30)
LATEST_DATE = dt.date(2025, 8, 31)
PARTICIPANT_ROWS_PER_SCALE = 6000
FEEDBACK_SUBMISSIONS_PER_SCALE = 400
OUTCOMES_PER_SCALE = 40
MSC_STORIES_PER_SCALE = 30
CLA_ENTRIES_PER_SCALE = 120
SCALE_PER_SYNTHETIC_PROJECT = 25
CHUNK_ROWS = 100_000
REPEAT_SHARE = 0.3
BENCHMARK_BAD_ROW_SHARE = 0.001
XLSX_TIMESTAMP = (2025, 8, 31, 12, 0, 0)

# --------------------------------------------------------------------------------------------
# Vocabulary of the invented world
# --------------------------------------------------------------------------------------------

FEMALE_GIVEN_NAMES = (
    "María Guadalupe", "Guadalupe", "María Fernanda", "Ana María", "Juana", "Verónica", "Rosa María", "Leticia",
    "Adriana", "Alejandra", "Patricia", "Claudia", "Gabriela", "Sofía", "Daniela", "Fernanda", "Mariana", "Itzel",
    "Yolanda", "Martha", "Elizabeth", "Norma", "Silvia", "Araceli", "Brenda", "Karla", "Lucía", "Ximena", "Valeria",
    "Mónica", "Beatriz", "Érika", "Angélica", "Dulce María", "Rocío", "Teresa", "Irma", "Maribel", "Nayeli", "Citlali",
)
MALE_GIVEN_NAMES = (
    "José", "José Luis", "Juan", "Juan Carlos", "Luis", "Miguel Ángel", "Jesús", "Francisco", "Alejandro", "Carlos",
    "Jorge", "Pedro", "Ricardo", "Fernando", "Manuel", "Roberto", "Eduardo", "Sergio", "Arturo", "Raúl", "Héctor",
    "Javier", "Óscar", "Daniel", "Iván", "Martín", "Rubén", "Ramón", "Andrés", "Diego", "Emiliano", "Santiago",
    "Efraín", "Joaquín", "Gerardo", "Tomás", "Ángel", "Julián", "Hugo", "Víctor",
)
# Ordered from most to least common; `_SURNAME_WEIGHTS` gives the head of the list more people.
SURNAMES = (
    "Hernández", "García", "Martínez", "López", "González", "Rodríguez", "Pérez", "Sánchez", "Ramírez", "Cruz",
    "Flores", "Gómez", "Morales", "Vázquez", "Reyes", "Jiménez", "Torres", "Díaz", "Gutiérrez", "Ruiz", "Mendoza",
    "Aguilar", "Ortiz", "Moreno", "Castillo", "Romero", "Álvarez", "Méndez", "Chávez", "Rivera", "Juárez", "Ramos",
    "Domínguez", "Herrera", "Medina", "Castro", "Vargas", "Guzmán", "Velázquez", "Muñoz", "Rojas", "Contreras",
    "Salazar", "Luna", "Ávila", "Ibarra", "Estrada", "Cervantes", "Núñez", "Nava", "Zúñiga", "Peña", "Ríos", "Campos",
    "Cortés", "Olvera", "Téllez", "Villanueva", "Solís", "Beltrán",
)
EMAIL_DOMAINS = ("gmail.com", "hotmail.com", "outlook.com", "yahoo.com.mx", "icloud.com", "prodigy.net.mx")
EMAIL_DOMAIN_WEIGHTS = (0.45, 0.25, 0.12, 0.1, 0.04, 0.04)

# State: (CURP birth-place code, telephone area code).
STATE_CODES = {
    "Aguascalientes": ("AS", "449"), "Baja California": ("BC", "664"), "Baja California Sur": ("BS", "612"),
    "Campeche": ("CC", "981"), "Coahuila": ("CL", "844"), "Colima": ("CM", "312"), "Chiapas": ("CS", "961"),
    "Chihuahua": ("CH", "614"), "Ciudad de México": ("DF", "55"), "Durango": ("DG", "618"),
    "Guanajuato": ("GT", "477"), "Guerrero": ("GR", "744"), "Hidalgo": ("HG", "771"), "Jalisco": ("JC", "33"),
    "Estado de México": ("MC", "722"), "Michoacán": ("MN", "443"), "Morelos": ("MS", "777"),
    "Nayarit": ("NT", "311"), "Nuevo León": ("NL", "81"), "Oaxaca": ("OC", "951"), "Puebla": ("PL", "222"),
    "Querétaro": ("QT", "442"), "Quintana Roo": ("QR", "998"), "San Luis Potosí": ("SP", "444"),
    "Sinaloa": ("SL", "667"), "Sonora": ("SR", "662"), "Tabasco": ("TC", "993"), "Tamaulipas": ("TS", "899"),
    "Tlaxcala": ("TL", "246"), "Veracruz": ("VZ", "229"), "Yucatán": ("YN", "999"), "Zacatecas": ("ZS", "492"),
}
STATE_NAMES = tuple(codes.STATES)
STATE_ISO = {name: next(alias for alias in aliases if alias.startswith("mx-")).upper()
             for name, aliases in codes.STATES.items()}

# Plants whose workers and employers both answer the feedback survey: (code, state, how the plant
# really treats its workers: the lower, the worse workers rate its compliance).
PLANTS = (
    ("PL-001", "Guanajuato", 0.2), ("PL-002", "Guanajuato", 0.6), ("PL-003", "Guanajuato", 0.9),
    ("PL-004", "Coahuila", 0.4), ("PL-005", "Coahuila", 0.8), ("PL-006", "Querétaro", 0.7),
    ("PL-007", "Querétaro", 0.3), ("PL-008", "Nuevo León", 0.9), ("PL-009", "Aguascalientes", 0.5),
    ("PL-010", "Aguascalientes", 0.2), ("PL-011", "San Luis Potosí", 0.6), ("PL-012", "Puebla", 0.8),
)

SEXES = ("female", "male", "other", "undisclosed")
CHANNELS = ("in_person", "virtual", "digital", "helpline")
PARTICIPANT_TYPES = ("worker", "union_leader", "employer", "government_official", "civil_society")
EVENT_SIZE = {"in_person": 35, "virtual": 80, "digital": 150, "helpline": 40}

LABELS = {
    "es": {
        "sex": {"female": "Mujer", "male": "Hombre", "other": "Otro", "undisclosed": "Prefiere no decir"},
        "channel": {"in_person": "presencial", "virtual": "en línea", "digital": "redes sociales",
                    "helpline": "línea de atención"},
        "participant_type": {"worker": "trabajador", "union_leader": "dirigente sindical", "employer": "empleador",
                             "government_official": "funcionario", "civil_society": "sociedad civil"},
        "employer_size": {"micro": "micro", "small": "pequeña", "medium": "mediana", "large": "grande"},
    },
    "en": {
        "sex": {"female": "Female", "male": "Male", "other": "Other", "undisclosed": "Prefer not to say"},
        "channel": {code: code for code in CHANNELS},
        "participant_type": {code: code for code in PARTICIPANT_TYPES},
        "employer_size": {"micro": "micro", "small": "small", "medium": "medium", "large": "large"},
    },
}

REPORT_COLUMNS = ("project_code", "indicator_code", "period_start", "period_end", "sex", "state", "employer_size",
                  "supply_chain_tier", "participant_type", "numerator", "denominator", "value", "submitted_on", "notes")
REPORT_HEADERS_ES = ("proyecto", "codigo_indicador", "periodo_inicio", "periodo_fin", "sexo", "estado",
                     "tamano_empresa", "nivel_cadena", "tipo_participante", "numerador", "denominador", "valor",
                     "fecha_entrega", "notas")
PARTICIPANT_COLUMNS = ("project_code", "event_id", "event_date", "channel", "full_name", "curp", "phone", "email",
                       "sex", "age", "state", "participant_type", "pre_score", "post_score")
PARTICIPANT_HEADERS_ES = ("proyecto", "id_evento", "fecha_evento", "canal", "nombre_completo", "curp", "telefono",
                          "correo", "sexo", "edad", "estado", "tipo_participante", "puntaje_pre", "puntaje_post")
PROJECT_HEADERS_ES = ("codigo_proyecto", "titulo", "nombre_corto", "organizacion", "fecha_inicio", "fecha_fin",
                      "presupuesto_usd", "temas", "dias_entrega", "fuente")


class IndicatorModel(NamedTuple):
    """How an indicator's values are invented: its measure, disaggregations, size and trend.

    `size` is the per-period count range for counts and the denominator range per cell for rates, at
    scale 1 (unused for scores, for rates whose denominator is another indicator's count and for
    ATTENDANCE_INDICATOR, which is counted from the attendance records). `trend` is (start, end)
    over 2021-2025: a growth factor for counts, a percentage for rates, a score for scores. A
    breakdown with no categories is by the project's own states.
    """

    code: str
    title: str
    theme: str
    measure: str
    breakdowns: tuple[tuple[str, tuple[str, ...]], ...]
    size: tuple[int, int]
    trend: tuple[float, float]


BY_STATE = ("state", ())
INDICATORS = {model.code: model for model in (
    IndicatorModel("AWR-01", "Workers trained on labor rights", "awareness", "count",
                   (("sex", SEXES), ("state", STATE_NAMES)), (0, 0), (1.0, 1.0)),
    IndicatorModel("CAP-01", "Women's share of union executive seats", "capacity", "rate", (BY_STATE,), (8, 30),
                   (18, 34)),
    IndicatorModel("CAP-02", "Supported unions holding secret-ballot elections on schedule", "capacity", "rate", (),
                   (18, 36), (55, 85)),
    IndicatorModel("CAP-03", "Organisational capacity index of supported unions", "capacity", "score", (), (0, 0),
                   (42, 68)),
    IndicatorModel("ENF-01", "Inspections followed up within 60 days", "enforcement", "rate", (BY_STATE,), (15, 60),
                   (45, 72)),
    IndicatorModel("ENF-02", "Sanction rate (sanctions / violations found)", "enforcement", "rate",
                   (("employer_size", ("micro", "small", "medium", "large")),), (10, 45), (28, 46)),
    IndicatorModel("ENF-04", "RRM remediation commitments verified complete", "enforcement", "rate", (), (6, 20),
                   (35, 78)),
    IndicatorModel("CMP-01", "Targeted SMEs with a verified model policy", "compliance", "rate",
                   (("employer_size", ("small", "medium")),), (20, 50), (12, 58)),
    IndicatorModel("CMP-02", "Legitimation votes held", "compliance", "count", (), (6, 24), (1.0, 1.8)),
    IndicatorModel("CMP-03", "Collective contracts legitimated (of votes held)", "compliance", "rate", (), (0, 0),
                   (60, 88)),
    IndicatorModel("CMP-04", "Legitimation vote turnout", "compliance", "rate", (BY_STATE,), (250, 1800), (55, 82)),
)}
THEME_INDICATORS = {theme: tuple(code for code, model in INDICATORS.items() if model.theme == theme)
                    for theme in ("awareness", "capacity", "enforcement", "compliance")}
# CMP-03's denominator is the number of votes CMP-02 counts in the same period.
DENOMINATOR_FROM = {"CMP-03": "CMP-02"}


@dataclass(frozen=True)
class Plan:
    """A project of the register and how its data is invented and sent."""

    project: ProjectRecord
    states: tuple[str, ...]
    indicators: tuple[str, ...]
    spanish: bool = False
    excel: bool = False
    reach: float = 1.0

    @property
    def code(self) -> str:
        return self.project.project_code

    @property
    def language(self) -> str:
        return "es" if self.spanish else "en"


REAL_PLAN_DETAILS = {
    "CALLE": dict(states=("Estado de México", "Puebla", "San Luis Potosí", "Guanajuato", "Querétaro", "Coahuila"),
                  indicators=("ENF-01", "ENF-02", "ENF-04")),
    "PADF-EMP": dict(states=("Querétaro", "Guanajuato", "Nuevo León", "Aguascalientes", "San Luis Potosí", "Michoacán"),
                     indicators=("AWR-01", "CMP-01", "CMP-02", "CMP-03", "CMP-04"), excel=True, reach=0.5),
    "SC-WORKERS": dict(states=("Guanajuato", "Coahuila", "Tamaulipas", "Ciudad de México", "Jalisco", "Aguascalientes",
                               "Puebla"),
                       indicators=("AWR-01", "CAP-01", "CAP-02", "CAP-03"), spanish=True, reach=1.2),
    "MAP": dict(states=("Coahuila", "Nuevo León", "Guanajuato", "Querétaro", "Chihuahua", "Tamaulipas", "Sonora",
                        "Estado de México"),
                indicators=("AWR-01",), spanish=True, reach=3.0),
}
class ParticipantProfile(NamedTuple):
    """Who comes to a project's events: its share of all attendance records and its people's mix.

    `type_mix` follows PARTICIPANT_TYPES, `channel_mix` follows CHANNELS.
    """

    share: float
    type_mix: tuple[float, ...]
    channel_mix: tuple[float, ...]
    female_share: float


PARTICIPANT_PROFILES = {
    "MAP": ParticipantProfile(0.5, (0.82, 0.08, 0.04, 0.02, 0.04), (0.35, 0.25, 0.30, 0.10), 0.46),
    "SC-WORKERS": ParticipantProfile(0.3, (0.60, 0.25, 0.0, 0.02, 0.13), (0.60, 0.30, 0.05, 0.05), 0.41),
    "PADF-EMP": ParticipantProfile(0.2, (0.30, 0.05, 0.55, 0.05, 0.05), (0.50, 0.45, 0.05, 0.0), 0.34),
}
# A synthetic awareness project reaches workers as MAP does, on a fifth of MAP's share.
SYNTHETIC_PARTICIPANT_PROFILE = PARTICIPANT_PROFILES["MAP"]._replace(share=0.1)
# The indicator a grantee counts from its own attendance records.
ATTENDANCE_INDICATOR = "AWR-01"


class Period(NamedTuple):
    """A semi-annual reporting period."""

    start: dt.date
    end: dt.date


class Actual(NamedTuple):
    """One cell of an indicator report: a total (no dimension) or one category of one dimension."""

    indicator_code: str
    period: Period
    dimension: str | None
    category: str | None
    numerator: int | None
    denominator: int | None
    value: float


class Target(NamedTuple):
    """Baseline and target of one indicator for one period (totals only)."""

    indicator_code: str
    period: Period
    baseline: float
    target: float


# The report that never arrived: the completeness gap users should see.
MISSING_REPORT = ("CALLE", Period(dt.date(2023, 7, 1), dt.date(2023, 12, 31)))
# Deliberate AWR-01 discrepancies (see the module docstring): the factor by which the grantee's count
# departs from its attendance records, by project and semester start.
REPORTING_DISCREPANCIES = {("MAP", dt.date(2023, 7, 1)): 1.35, ("SC-WORKERS", dt.date(2022, 1, 1)): 0.75}
REPORTING_NOISE = 0.03


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def generate(out_dir: Path, scale: float = 1.0, seed: int = 20240601, sample: bool = False,
             reference_dir: Path | None = None) -> dict[str, int]:
    """Write synthetic raw data for every source under `out_dir/<source>/`; return rows written per source.

    `scale` multiplies every source that can grow (see the module docstring for what cannot) and
    adds one synthetic project per 25 units. `sample` plants the small defects listed in this module's
    docstring; without it about 0.1% of participant rows are bad. `reference_dir` is the shared
    reference-data folder: when given, the projects register is read from it and its RRM cases and
    labor statistics become sentinel series; when None, the built-in copy of the register is used
    and only the synthetic sentinel series is written.
    """
    out_dir = Path(out_dir)
    register = (public_data.portfolio_register(reference_dir / public_data.ILAB_PROJECTS_FILE) if reference_dir
                else list(public_data.FALLBACK_REGISTER))
    plans = [Plan(project, **REAL_PLAN_DETAILS[project.project_code]) for project in register]
    plans += _synthetic_plans(int(scale // SCALE_PER_SYNTHETIC_PROJECT), seed)
    # Attendance first: the grantees' AWR-01 reports are counted from it.
    participants, attendance = _write_participants(out_dir / "participants", plans, scale, seed, sample)
    actuals: dict[str, list[Actual]] = {}
    targets: dict[str, list[Target]] = {}
    for plan in plans:
        actuals[plan.code], targets[plan.code] = _indicator_values(plan, seed, scale, attendance.get(plan.code))
    rows = {"projects": _write_projects(out_dir / "projects", plans)}
    rows["indicator_reports"] = _write_indicator_reports(out_dir / "indicator_reports", plans, actuals, seed, sample)
    rows["targets"] = _write_targets(out_dir / "targets", plans, targets)
    rows["participants"] = participants
    rows["outcomes"] = _write_outcomes(out_dir / "outcomes", plans, scale, seed, sample)
    rows["msc_stories"] = _write_msc_stories(out_dir / "msc_stories", plans, scale, seed)
    rows["cla_log"] = _write_cla_log(out_dir / "cla_log", plans, scale, seed)
    rows["feedback"] = _write_feedback(out_dir / "feedback", plans, scale, seed)
    rows["sentinel"] = _write_sentinel(out_dir / "sentinel", seed, reference_dir)
    rows["iati"] = _write_iati(out_dir / "iati", plans[:len(register)], actuals, targets)
    return rows


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def _rng(seed: int, *labels: object) -> np.random.Generator:
    """A generator for one purpose: the same seed and labels always give the same draws."""
    keys = [zlib.crc32(str(label).encode()) for label in labels]
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def _scaled(counts: int | np.ndarray, scale: float) -> np.ndarray:
    """Counts of the scale-1 world in a world `scale` times as big: rounded, and at least 1."""
    return np.maximum(1, np.rint(np.asarray(counts) * scale)).astype(np.int64)


def _allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` into integers proportional to `weights` that add up exactly (largest remainder)."""
    shares = np.asarray(weights, dtype=float) / sum(weights) * total
    counts = np.floor(shares).astype(int)
    for index in np.argsort(-(shares - counts), kind="stable")[:total - counts.sum()]:
        counts[index] += 1
    return counts.tolist()


def _last_day(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


# The reporting semesters, 2021 H1 to 2025 H1, and the calendar years they fall in.
SEMESTERS = tuple(Period(dt.date(year, first_month, 1), _last_day(year, first_month + 5))
                  for year in range(FIRST_PERIOD_START.year, LAST_PERIOD_END.year + 1) for first_month in (1, 7)
                  if _last_day(year, first_month + 5) <= LAST_PERIOD_END)
YEARS = tuple(Period(dt.date(year, 1, 1), dt.date(year, 12, 31))
              for year in range(FIRST_PERIOD_START.year, LAST_PERIOD_END.year + 1))


def _semester_index(dates: np.ndarray) -> np.ndarray:
    """The position in SEMESTERS of each date's semester."""
    months = dates.astype("datetime64[M]").astype(np.int64) - (FIRST_PERIOD_START.year - 1970) * 12
    return months // 6


def _cell(value: object) -> str:
    """A value as CSV text: blank for None, ISO dates, integers without a decimal point."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]], *, encoding: str = "utf-8",
               line_terminator: str = "\n") -> int:
    """Write a small table with the csv module; return the number of data rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, lineterminator=line_terminator)
        writer.writerow(header)
        writer.writerows([_cell(value) for value in row] for row in rows)
    return len(rows)


def _save_workbook(workbook: Workbook, path: Path) -> None:
    """Save an .xlsx with fixed timestamps, so the same content gives the same bytes."""
    buffer = io.BytesIO()
    workbook.save(buffer)
    stamp = dt.datetime(*XLSX_TIMESTAMP).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            target.writestr(zipfile.ZipInfo(info.filename, date_time=XLSX_TIMESTAMP), data,
                            compress_type=zipfile.ZIP_DEFLATED)


def _sheet_with_table(workbook: Workbook, title: str, header: Sequence[str], rows: Sequence[Sequence[object]],
                      *, title_row: str | None = None) -> None:
    """Fill the active sheet with a header and rows; dates get a date format.

    With `title_row`, the sheet starts as many grantee templates do: a bold title merged across the
    table's width, then a blank row, then the header.
    """
    sheet = workbook.active
    sheet.title = title
    if title_row:
        sheet.append([title_row])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
        sheet.cell(row=1, column=1).font = Font(bold=True, size=14)
        sheet.append([])
    sheet.append(list(header))
    header_row = sheet.max_row
    for row_number, row in enumerate(rows, start=header_row + 1):
        sheet.append(list(row))
        # Cells by their address: asking the sheet for its last row costs a scan of every cell.
        for column_number, value in enumerate(row, start=1):
            if isinstance(value, dt.date):
                sheet.cell(row=row_number, column=column_number).number_format = "yyyy-mm-dd"


# --------------------------------------------------------------------------------------------
# Projects
# --------------------------------------------------------------------------------------------

SYNTHETIC_TITLES = {
    "awareness": "Difusión de derechos laborales",
    "capacity": "Fortalecimiento de sindicatos democráticos",
    "enforcement": "Apoyo a la inspección del trabajo",
    "compliance": "Cumplimiento laboral en proveedores",
}


def _synthetic_plans(count: int, seed: int) -> list[Plan]:
    """`count` invented projects P-0001... so that portfolio-level sources grow with scale."""
    plans = []
    for number in range(1, count + 1):
        rng = _rng(seed, "synthetic-project", number)
        code = f"P-{number:04d}"
        themes = sorted(rng.choice(list(THEME_INDICATORS), size=2, replace=False).tolist(),
                        key=list(THEME_INDICATORS).index)
        first_month = 2020 * 12 + 6 + int(rng.integers(0, 30))  # counted from year 0: July 2020 to Dec 2022
        last_month = first_month + int(rng.integers(36, 55)) - 1
        start = dt.date(first_month // 12, first_month % 12 + 1, 1)
        end = min(_last_day(last_month // 12, last_month % 12 + 1), dt.date(2025, 12, 31))
        states = tuple(rng.choice(STATE_NAMES, size=int(rng.integers(5, 9)), replace=False).tolist())
        project = ProjectRecord(
            code, f"{SYNTHETIC_TITLES[themes[0]]} en el sector automotriz ({code}, sintético)", code,
            f"Organización sintética {number}", start, end, float(rng.integers(1000, 8000) * 1000),
            ";".join([*themes, "cla"]), public_data.REPORT_DUE_DAYS, "")
        indicators = tuple(code for theme in themes for code in THEME_INDICATORS[theme])
        plans.append(Plan(project, states, indicators))
    return plans


def _write_projects(folder: Path, plans: list[Plan]) -> int:
    return _write_csv(folder / "projects.csv", PROJECT_HEADERS_ES, [plan.project for plan in plans])


# --------------------------------------------------------------------------------------------
# Indicator reports, targets and IATI
# --------------------------------------------------------------------------------------------


def _periods(start: dt.date, end: dt.date) -> list[Period]:
    """Semesters from 2021 H1 to 2025 H1 that overlap the project's dates."""
    return [period for period in SEMESTERS if period.start <= end and period.end >= start]


def _progress(period: Period) -> float:
    """Where a period sits between 2021 H1 (0) and 2025 H1 (1)."""
    return (period.start - FIRST_PERIOD_START).days / (dt.date(2025, 1, 1) - FIRST_PERIOD_START).days


def _expected(model: IndicatorModel, base: float, progress: float) -> float:
    """The indicator's expected total for a period: a count, a percentage or a score."""
    level = model.trend[0] + (model.trend[1] - model.trend[0]) * progress
    return base * level if model.measure == "count" else level


def _indicator_values(plan: Plan, seed: int, scale: float,
                      attendance: AttendanceTally | None) -> tuple[list[Actual], list[Target]]:
    """Actuals (totals and disaggregations that add up) and targets for one project.

    ATTENDANCE_INDICATOR is counted from the project's `attendance`; every other value is invented,
    counts and denominators `scale` times their scale-1 size.
    """
    periods = _periods(plan.project.start_date, plan.project.end_date)
    actuals: list[Actual] = []
    targets: list[Target] = []
    count_totals: dict[tuple[str, Period], int] = {}
    for code in plan.indicators:
        model = INDICATORS[code]
        rng = _rng(seed, "indicator", plan.code, code)
        base = float(np.mean(model.size)) * plan.reach * scale
        breakdowns = [(dimension, categories or plan.states) for dimension, categories in model.breakdowns]
        offsets = {dimension: rng.normal(0, 4, len(categories)) for dimension, categories in breakdowns}
        ambition = float(rng.choice([0.9, 1.0, 1.15, 1.3]))
        if model.measure == "rate" and code not in DENOMINATOR_FROM:
            # Sizes come from their own generator, so a world `scale` times as big draws the same ones.
            cells = (len(periods), len(breakdowns[0][1]) if breakdowns else 1)
            sizes = _scaled(_rng(seed, "size", plan.code, code).integers(*model.size, size=cells), scale)
        for index, period in enumerate(periods):
            expected = _expected(model, base, _progress(period))
            if code == ATTENDANCE_INDICATOR:
                semester = SEMESTERS.index(period)
                expected = float(attendance.planned[semester])
                actuals += _attendance_cells(plan, period, attendance.counts[semester], rng)
            elif model.measure == "count":
                total = max(1, round(expected * rng.uniform(0.85, 1.15)))
                count_totals[code, period] = total
                actuals.append(Actual(code, period, None, None, None, None, float(total)))
            elif model.measure == "rate":
                denominators = (np.array([count_totals[DENOMINATOR_FROM[code], period]]) if code in DENOMINATOR_FROM
                                else sizes[index])
                actuals += _rate_cells(model, period, expected, breakdowns, offsets, denominators, rng)
            else:
                actuals.append(Actual(code, period, None, None, None, None,
                                      round(expected + rng.normal(0, 1.5), 1)))
            targets.append(_target(model, period, base, expected, ambition))
    return actuals, targets


def _attendance_cells(plan: Plan, period: Period, counts: np.ndarray, rng: np.random.Generator) -> list[Actual]:
    """ATTENDANCE_INDICATOR as the grantee reports it from `counts` (its records by sex and state).

    The total departs from the records by a uniform draw within REPORTING_NOISE, or by the
    project-period's REPORTING_DISCREPANCIES factor; each breakdown shares the total out in
    proportion to the records, so it adds up, and leaves out categories that get nobody.
    """
    noise = rng.uniform(1 - REPORTING_NOISE, 1 + REPORTING_NOISE)
    factor = REPORTING_DISCREPANCIES.get((plan.code, period.start), noise)
    total = round(int(counts.sum()) * factor)
    cells = [Actual(ATTENDANCE_INDICATOR, period, None, None, None, None, float(total))]
    if total == 0:
        return cells
    for dimension, categories, records in (("sex", SEXES, counts.sum(axis=1)),
                                           ("state", STATE_NAMES, counts.sum(axis=0))):
        cells += [Actual(ATTENDANCE_INDICATOR, period, dimension, category, None, None, float(count))
                  for category, count in zip(categories, _allocate(total, records)) if count]
    return cells


def _rate_cells(model: IndicatorModel, period: Period, expected_rate: float,
                breakdowns: list[tuple[str, tuple[str, ...]]], offsets: dict[str, np.ndarray],
                denominators: np.ndarray, rng: np.random.Generator) -> list[Actual]:
    """Numerators drawn for the given denominators, one per category (or one for the total without a
    breakdown), each at most its denominator; with a breakdown, their sums are the total."""
    def rate_draw(offset: float) -> float:
        return float(np.clip(expected_rate + offset + rng.normal(0, 3), 1, 99)) / 100

    if not breakdowns:
        denominator = int(denominators[0])
        numerator = int(rng.binomial(denominator, rate_draw(0.0)))
        return [Actual(model.code, period, None, None, numerator, denominator, _percent(numerator, denominator))]
    dimension, categories = breakdowns[0]
    numerators = [int(rng.binomial(den, rate_draw(offset))) for den, offset in zip(denominators, offsets[dimension])]
    total_num, total_den = sum(numerators), int(denominators.sum())
    cells = [Actual(model.code, period, None, None, total_num, total_den, _percent(total_num, total_den))]
    cells += [Actual(model.code, period, dimension, category, num, int(den), _percent(num, int(den)))
              for category, num, den in zip(categories, numerators, denominators)]
    return cells


def _percent(numerator: int, denominator: int) -> float:
    return round(100 * numerator / denominator, 1)


def _target(model: IndicatorModel, period: Period, base: float, expected: float, ambition: float) -> Target:
    """A target around the expected value: ambition above 1 leaves the project below target."""
    if model.measure == "count":
        return Target(model.code, period, 0.0, float(round(expected * ambition)))
    baseline = round(_expected(model, base, 0.0) - 5, 1)
    ceiling = 100.0 if model.measure == "score" else 95.0
    return Target(model.code, period, baseline, min(ceiling, round(expected * ambition, 1)))


def _report_rows(plan: Plan, actuals: list[Actual], seed: int) -> dict[int, list[list[object]]]:
    """Report rows per year in canonical column order and the project's language, totals first."""
    labels = LABELS[plan.language]
    rng = _rng(seed, "submission", plan.code)
    submitted = {period: min(period.end + dt.timedelta(days=int(rng.integers(10, 41))), LATEST_DATE)
                 for period in dict.fromkeys(actual.period for actual in actuals)}
    note = ("Cifras preliminares; se actualizarán en el siguiente informe." if plan.spanish
            else "Preliminary figures, to be updated in the next report.")
    by_year: dict[int, list[list[object]]] = {}
    for actual in actuals:
        if (plan.code, actual.period) == MISSING_REPORT:
            continue
        disaggregation = dict.fromkeys(("sex", "state", "employer_size", "supply_chain_tier", "participant_type"))
        if actual.dimension == "state":
            disaggregation["state"] = actual.category
        elif actual.dimension is not None:
            disaggregation[actual.dimension] = labels[actual.dimension][actual.category]
        preliminary = actual.dimension is None and rng.random() < 0.08
        value: object = int(actual.value) if INDICATORS[actual.indicator_code].measure == "count" else actual.value
        by_year.setdefault(actual.period.start.year, []).append([
            plan.code, actual.indicator_code, actual.period.start, actual.period.end, *disaggregation.values(),
            actual.numerator, actual.denominator, value, submitted[actual.period], note if preliminary else None,
        ])
    return by_year


def _find_row(rows: list[list[object]], indicator: str, period_start: dt.date, column: str = "",
              category: str = "") -> int:
    """Index of a report row: the total, or the row whose `column` holds `category`."""
    position = REPORT_COLUMNS.index
    for index, row in enumerate(rows):
        if row[position("indicator_code")] != indicator or row[position("period_start")] != period_start:
            continue
        disaggregations = row[position("sex"):position("participant_type") + 1]
        if (column and row[position(column)] == category) or (not column and not any(disaggregations)):
            return index
    raise LookupError(f"no {indicator} row for {period_start} {column}={category}")


def _plant_report_defects(code: str, year: int, rows: list[list[object]]) -> None:
    """The sample's deliberate indicator-report defects (see the module docstring)."""
    column = REPORT_COLUMNS.index
    if (code, year) == ("CALLE", 2022):
        row = rows[_find_row(rows, "ENF-04", dt.date(2022, 1, 1))]
        row[column("numerator")] = row[column("denominator")] + 3
        row[column("value")] = _percent(row[column("numerator")], row[column("denominator")])
    elif (code, year) == ("CALLE", 2021):
        rows[_find_row(rows, "ENF-04", dt.date(2021, 7, 1))][column("period_end")] = dt.date(2031, 12, 31)
    elif (code, year) == ("PADF-EMP", 2023):
        row = rows[_find_row(rows, "CMP-03", dt.date(2023, 7, 1))]
        row[column("numerator")], row[column("value")] = "N/A", None
    elif (code, year) == ("MAP", 2022):
        rows[_find_row(rows, "AWR-01", dt.date(2022, 1, 1), "state", "Nuevo León")][column("state")] = "Nuevo Leon x"
    elif (code, year) == ("MAP", 2023):
        index = _find_row(rows, "AWR-01", dt.date(2023, 1, 1), "sex", "Mujer")
        rows.insert(index + 1, list(rows[index]))


def _write_indicator_reports(folder: Path, plans: list[Plan], actuals: dict[str, list[Actual]], seed: int,
                             sample: bool) -> int:
    """One file per project and year: CSV, or Excel for projects that send Excel."""
    written = 0
    for plan in plans:
        header = REPORT_HEADERS_ES if plan.spanish else REPORT_COLUMNS
        for year, rows in _report_rows(plan, actuals[plan.code], seed).items():
            if sample:
                _plant_report_defects(plan.code, year, rows)
            name = f"{plan.code}_{year}"
            if plan.excel:
                workbook = Workbook()
                title = f"Reporte de indicadores {plan.code} {year}" if year == 2022 else None
                _sheet_with_table(workbook, "Indicadores", header, rows, title_row=title)
                if title:
                    instructions = workbook.create_sheet("instrucciones")
                    instructions.append(["Llene una fila por indicador, periodo y desagregación."])
                    instructions.append(["Deje en blanco las desagregaciones de la fila del total."])
                    instructions.sheet_state = "hidden"
                _save_workbook(workbook, folder / f"{name}.xlsx")
                written += len(rows)
            elif sample and (plan.code, year) == ("SC-WORKERS", 2021):
                written += _write_csv(folder / f"{name}_latin1.csv", header, rows, encoding="cp1252",
                                      line_terminator="\r\n")
            else:
                written += _write_csv(folder / f"{name}.csv", header, rows)
    return written


def _write_targets(folder: Path, plans: list[Plan], targets: dict[str, list[Target]]) -> int:
    rows = [[plan.code, target.indicator_code, target.period.start, target.period.end, target.baseline,
             target.target] for plan in plans for target in targets[plan.code]]
    return _write_csv(folder / "targets.csv",
                      ("project_code", "indicator_code", "period_start", "period_end", "baseline", "target"), rows)


IATI_REPORTING_ORG = "XI-IATI-MELDEMO"
IATI_RESULT_TYPES = {"awareness": "1", "capacity": "2", "enforcement": "2", "compliance": "2"}


def _write_iati(folder: Path, plans: list[Plan], actuals: dict[str, list[Actual]],
                targets: dict[str, list[Target]]) -> int:
    """An IATI 2.03 activities file: the real projects' results with baselines, targets and actuals.

    Returns the number of baseline, target and actual elements, the rows the IATI reader flattens to.
    """
    root = ET.Element("iati-activities", {"version": "2.03", "generated-datetime": "2025-08-31T12:00:00Z"})
    elements = 0
    for plan in plans:
        project = plan.project
        activity = ET.SubElement(root, "iati-activity", {"{http://www.w3.org/XML/1998/namespace}lang": "en",
                                                         "default-currency": "USD",
                                                         "last-updated-datetime": "2025-08-31T12:00:00Z"})
        ET.SubElement(activity, "iati-identifier").text = f"{IATI_REPORTING_ORG}-{plan.code}"
        _narrative(ET.SubElement(activity, "reporting-org", {"ref": IATI_REPORTING_ORG, "type": "10"}),
                   "Labor-affairs office of the donor (synthetic demonstration publisher)")
        _narrative(ET.SubElement(activity, "title"), project.title)
        _narrative(ET.SubElement(activity, "description", {"type": "1"}),
                   f"{project.title}, implemented by {project.grantee}. Results are synthetic.")
        _narrative(ET.SubElement(activity, "participating-org", {"role": "1", "type": "10"}), "Donor")
        _narrative(ET.SubElement(activity, "participating-org", {"role": "4"}), project.grantee)
        ET.SubElement(activity, "activity-status", {"code": "3" if project.end_date <= LAST_PERIOD_END else "2"})
        ET.SubElement(activity, "activity-date", {"type": "2", "iso-date": project.start_date.isoformat()})
        ET.SubElement(activity, "activity-date", {"type": "3", "iso-date": project.end_date.isoformat()})
        ET.SubElement(activity, "recipient-country", {"code": "MX"})
        for theme in dict.fromkeys(INDICATORS[code].theme for code in plan.indicators):
            elements += _iati_result(activity, plan, theme, actuals[plan.code], targets[plan.code])
    ET.indent(root, space=" ")
    folder.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(folder / "portfolio_results.xml", encoding="UTF-8", xml_declaration=True)
    return elements


def _narrative(parent: ET.Element, text: str) -> None:
    ET.SubElement(parent, "narrative").text = text


def _iati_result(activity: ET.Element, plan: Plan, theme: str, actuals: list[Actual], targets: list[Target]) -> int:
    result = ET.SubElement(activity, "result", {"type": IATI_RESULT_TYPES[theme],
                                                "aggregation-status": "1" if theme == "awareness" else "0"})
    _narrative(ET.SubElement(result, "title"), codes.THEME_NAMES[theme])
    elements = 0
    for code in (code for code in plan.indicators if INDICATORS[code].theme == theme):
        model = INDICATORS[code]
        indicator = ET.SubElement(result, "indicator", {"measure": "2" if model.measure == "rate" else "1",
                                                        "ascending": "1"})
        _narrative(ET.SubElement(indicator, "title"), model.title)
        ET.SubElement(indicator, "reference", {"vocabulary": "99", "code": code})
        own_targets = [target for target in targets if target.indicator_code == code]
        ET.SubElement(indicator, "baseline", {"year": str(plan.project.start_date.year),
                                              "iso-date": plan.project.start_date.isoformat(),
                                              "value": _cell(own_targets[0].baseline)})
        elements += 1
        for target in own_targets:
            period = ET.SubElement(indicator, "period")
            ET.SubElement(period, "period-start", {"iso-date": target.period.start.isoformat()})
            ET.SubElement(period, "period-end", {"iso-date": target.period.end.isoformat()})
            ET.SubElement(period, "target", {"value": _cell(target.target)})
            elements += 1
            for actual in actuals:
                if (actual.indicator_code, actual.period) != (code, target.period) or \
                        (plan.code, actual.period) == MISSING_REPORT:
                    continue
                if actual.dimension is None or actual.dimension == "sex":
                    element = ET.SubElement(period, "actual", {"value": _cell(actual.value)})
                    if actual.dimension == "sex":
                        ET.SubElement(element, "dimension", {"name": "sex", "value": actual.category})
                    elements += 1
    return elements


# --------------------------------------------------------------------------------------------
# Participants: vectorised, person attributes derived from a person number by hashing
# --------------------------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1


def _hash(values: np.ndarray, salt: int) -> np.ndarray:
    """SplitMix64 of `values + salt`: the same person number always gives the same attributes."""
    mixed = values.astype(np.uint64) + np.uint64((salt * 0x9E3779B97F4A7C15) & _MASK64)
    mixed = (mixed ^ (mixed >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    mixed = (mixed ^ (mixed >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return mixed ^ (mixed >> np.uint64(31))


def _uniform(values: np.ndarray, seed: int, field: str) -> np.ndarray:
    """A uniform [0, 1) draw per value, fixed by the seed and the attribute's name."""
    salt = seed * 1_000_003 + zlib.crc32(field.encode())
    return (_hash(values, salt) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def _ascii_upper(text: str) -> str:
    text = text.replace("Ñ", "X").replace("ñ", "x")
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)).upper()


def _first_after(word: str, letters: str) -> str:
    return next((ch for ch in word[1:] if ch in letters), "X")


_VOWELS = "AEIOU"
_CONSONANTS = "BCDFGHJKLMNPQRSTVWXYZ"


def _surname_curp_letters(surname: str) -> bytes:
    """First letter, first inner vowel and first inner consonant of a surname, as the CURP uses them."""
    word = _ascii_upper(surname).split()[0]
    return (word[0] + _first_after(word, _VOWELS) + _first_after(word, _CONSONANTS)).encode()


def _given_curp_letters(given: str) -> bytes:
    """Initial and first inner consonant of the given name; 'María X' and 'José X' use X."""
    words = _ascii_upper(given).split()
    word = words[1] if len(words) > 1 and words[0] in ("MARIA", "JOSE") else words[0]
    return (word[0] + _first_after(word, _CONSONANTS)).encode()


def _ascii_lower_word(text: str) -> str:
    """The first word of a name as e-mail addresses spell it: 'Núñez' -> 'nunez'."""
    return _ascii_upper(text.replace("Ñ", "N").replace("ñ", "n")).split()[0].lower()


GIVEN_NAMES = FEMALE_GIVEN_NAMES + MALE_GIVEN_NAMES
_GIVEN_CURP = np.frombuffer(b"".join(map(_given_curp_letters, GIVEN_NAMES)), np.uint8).reshape(-1, 2)
_SURNAME_CURP = np.frombuffer(b"".join(map(_surname_curp_letters, SURNAMES)), np.uint8).reshape(-1, 3)
_SURNAME_CUMULATIVE = np.cumsum(1.0 / np.arange(1, len(SURNAMES) + 1) ** 0.7)
_SURNAME_CUMULATIVE /= _SURNAME_CUMULATIVE[-1]
_STATE_CURP = np.frombuffer("".join(STATE_CODES[name][0] for name in STATE_NAMES).encode(), np.uint8).reshape(-1, 2)
_AREA_CODES = np.array([int(STATE_CODES[name][1]) for name in STATE_NAMES])
_CURP_VALUES = np.zeros(256, dtype=np.int64)
_CURP_VALUES[np.frombuffer(b"0123456789ABCDEFGHIJKLMN", np.uint8)] = np.arange(24)
_CURP_VALUES[np.frombuffer(b"OPQRSTUVWXYZ", np.uint8)] = np.arange(25, 37)  # 24 is the Spanish N-tilde
_CURP_WEIGHTS = np.arange(18, 1, -1)
_BIRTH_FIRST = np.datetime64("1958-01-01")
_BIRTH_SPAN_DAYS = int((np.datetime64("2002-12-31") - _BIRTH_FIRST).astype(int))


def _digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """ASCII digits of non-negative integers, zero-padded: an (n, width) uint8 matrix."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((numbers.astype(np.int64)[:, None] // powers) % 10 + ord("0")).astype(np.uint8)


def _strings(matrix: np.ndarray) -> pa.Array:
    """Rows of an (n, width) uint8 matrix of ASCII as a pyarrow string array."""
    matrix = np.ascontiguousarray(matrix)
    return pa.array(matrix.view(f"S{matrix.shape[1]}").ravel()).cast(pa.string())


def _take(labels: Sequence[str], indices: np.ndarray) -> pa.Array:
    return pa.array(list(labels), pa.string()).take(pa.array(indices))


class People(NamedTuple):
    """Attributes of a batch of people, each a pure function of the person number and the seed."""

    number: np.ndarray
    sex: np.ndarray
    given: np.ndarray
    surname1: np.ndarray
    surname2: np.ndarray
    birth_date: np.ndarray
    state: np.ndarray
    birth_state: np.ndarray
    participant_type: np.ndarray
    homoclave: np.ndarray
    email_domain: np.ndarray


def _curps(people: People) -> np.ndarray:
    """(n, 18) CURP characters consistent with each person's names, birth date, sex and birth state."""
    n = len(people.number)
    born = people.birth_date.astype("datetime64[D]")
    year = born.astype("datetime64[Y]").astype(int) + 1970
    month = born.astype("datetime64[M]").astype(int) % 12 + 1
    day = (born - born.astype("datetime64[M]")).astype(int) + 1
    homoclave_digit = (people.homoclave % 10 + ord("0")).astype(np.uint8)
    homoclave_letter = (people.homoclave % 26 + ord("A")).astype(np.uint8)
    matrix = np.empty((n, 18), dtype=np.uint8)
    matrix[:, 0:2] = _SURNAME_CURP[people.surname1, 0:2]
    matrix[:, 2] = _SURNAME_CURP[people.surname2, 0]
    matrix[:, 3] = _GIVEN_CURP[people.given, 0]
    matrix[:, 4:10] = _digits((year % 100) * 10000 + month * 100 + day, 6)
    matrix[:, 10] = np.array([ord("M"), ord("H"), ord("X"), ord("H")], np.uint8)[people.sex]
    matrix[:, 11:13] = _STATE_CURP[people.birth_state]
    matrix[:, 13] = _SURNAME_CURP[people.surname1, 2]
    matrix[:, 14] = _SURNAME_CURP[people.surname2, 2]
    matrix[:, 15] = _GIVEN_CURP[people.given, 1]
    matrix[:, 16] = np.where(year < 2000, homoclave_digit, homoclave_letter)
    checksum = (_CURP_VALUES[matrix[:, :17]] * _CURP_WEIGHTS).sum(axis=1)
    matrix[:, 17] = ((10 - checksum % 10) % 10 + ord("0")).astype(np.uint8)
    return matrix


def _phones(people: People) -> pa.Array:
    """Mexican mobile numbers, '+52 55 1234 5678' or '+52 442 123 4567', one per person."""
    area = _AREA_CODES[people.state]
    short_area = area < 100
    # Affine maps modulo 10^8 and 10^7 are one-to-one, so two people never share a number.
    local = np.where(short_area, (people.number * 48_372_917 + 29_605_831) % 100_000_000,
                     (people.number * 4_837_291 + 2_960_583) % 10_000_000)
    national = _digits(area * np.where(short_area, 100_000_000, 10_000_000) + local, 10)
    matrix = np.full((len(area), 16), ord(" "), dtype=np.uint8)
    matrix[:, 0:3] = np.frombuffer(b"+52", np.uint8)
    matrix[:, 4:6] = national[:, 0:2]
    matrix[:, 6] = np.where(short_area, ord(" "), national[:, 2])
    matrix[:, 7] = np.where(short_area, national[:, 2], ord(" "))
    matrix[:, 8:11] = national[:, 3:6]
    matrix[:, 12:16] = national[:, 6:10]
    return _strings(matrix)


def _people(number: np.ndarray, plan: Plan, seed: int) -> People:
    """Who each person number is. Residents of the project's states mostly; all 32 states occur."""
    def draw(field: str) -> np.ndarray:
        return _uniform(number, seed, field)

    profile = _participant_profile(plan)
    female_share = profile.female_share
    sex = np.searchsorted(np.cumsum([female_share * 0.98, (1 - female_share) * 0.98, 0.01]), draw("sex"))
    female_name = np.where(sex == 2, draw("name-list") < 0.5, sex == 0)
    given = np.where(female_name, (draw("given") * len(FEMALE_GIVEN_NAMES)).astype(int),
                     len(FEMALE_GIVEN_NAMES) + (draw("given") * len(MALE_GIVEN_NAMES)).astype(int))
    own_states = np.array([STATE_NAMES.index(name) for name in plan.states])
    own_weights = np.linspace(2.0, 1.0, len(own_states))
    home = own_states[np.searchsorted(np.cumsum(own_weights) / own_weights.sum(), draw("home-state"), side="right")
                      .clip(max=len(own_states) - 1)]
    elsewhere = (draw("other-state") * len(STATE_NAMES)).astype(int)
    state = np.where(draw("moved") < 0.9, home, elsewhere)
    born_elsewhere = (draw("birth-state") * len(STATE_NAMES)).astype(int)
    mix = np.cumsum(profile.type_mix)
    return People(
        number=number,
        sex=sex,
        given=given,
        surname1=np.searchsorted(_SURNAME_CUMULATIVE, draw("surname1")).clip(max=len(SURNAMES) - 1),
        surname2=np.searchsorted(_SURNAME_CUMULATIVE, draw("surname2")).clip(max=len(SURNAMES) - 1),
        birth_date=_BIRTH_FIRST + (draw("birth") * _BIRTH_SPAN_DAYS).astype("timedelta64[D]"),
        state=state,
        birth_state=np.where(draw("born-here") < 0.8, state, born_elsewhere),
        participant_type=np.searchsorted(mix / mix[-1], draw("type"), side="right").clip(max=len(mix) - 1),
        homoclave=(draw("homoclave") * 260).astype(np.int64),
        email_domain=np.searchsorted(np.cumsum(EMAIL_DOMAIN_WEIGHTS), draw("domain")).clip(
            max=len(EMAIL_DOMAINS) - 1),
    )


class Events(NamedTuple):
    """The training and outreach events of one project-year file, in date order."""

    ids: list[str]
    dates: np.ndarray
    channels: np.ndarray
    sizes: np.ndarray


def _events(plan: Plan, year: int, rows: int, rng: np.random.Generator) -> Events:
    """Events within the project's active days of `year` whose sizes add up to `rows`."""
    first = max(dt.date(year, 1, 1), plan.project.start_date, FIRST_PERIOD_START)
    last = min(dt.date(year, 12, 31), plan.project.end_date, LAST_PERIOD_END)
    mix = np.array(_participant_profile(plan).channel_mix)
    mean_size = float(mix @ np.array([EVENT_SIZE[channel] for channel in CHANNELS]))
    count = max(1, round(rows / mean_size))
    channels = rng.choice(len(CHANNELS), size=count, p=mix)
    weights = np.array([EVENT_SIZE[CHANNELS[channel]] for channel in channels]) * rng.gamma(4.0, 0.25, count)
    sizes = rng.multinomial(rows, weights / weights.sum())
    offsets = np.sort(rng.integers(0, (last - first).days + 1, size=count))
    kept = sizes > 0
    dates = np.datetime64(first) + offsets[kept].astype("timedelta64[D]")
    ids = [f"{plan.code}-{year}-{number:04d}" for number in range(1, int(kept.sum()) + 1)]
    return Events(ids, dates, channels[kept], sizes[kept])


def _event_chunks(sizes: np.ndarray) -> Iterator[slice]:
    """Runs of whole events of about CHUNK_ROWS rows."""
    ends = np.cumsum(sizes)
    start = 0
    while start < len(sizes):
        stop = int(np.searchsorted(ends, ends[start] - sizes[start] + CHUNK_ROWS, side="right"))
        stop = max(stop, start + 1)
        yield slice(start, stop)
        start = stop


class Attendance(NamedTuple):
    """Who attended, row by row, and how many new people the project has met so far."""

    person: np.ndarray
    new_people: int


def _attendance(sizes: np.ndarray, first_person: int, known_people: int, rng: np.random.Generator) -> Attendance:
    """Person numbers for the rows of consecutive events.

    About REPEAT_SHARE of rows are people the project met at an earlier event; nobody appears twice
    in one event. The rest are new people numbered from `first_person + known_people`.
    """
    rows = int(sizes.sum())
    event_of_row = np.repeat(np.arange(len(sizes)), sizes)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    candidate = rng.random(rows) < REPEAT_SHARE
    candidates_per_event = np.add.reduceat(candidate, starts)
    repeats = np.empty(len(sizes), dtype=np.int64)
    known_before = np.empty(len(sizes), dtype=np.int64)
    known = known_people
    for event, (size, wanted) in enumerate(zip(sizes.tolist(), candidates_per_event.tolist())):
        known_before[event] = known
        repeats[event] = min(wanted, known)
        known += size - repeats[event]

    def rank_within_event(mask: np.ndarray) -> np.ndarray:
        before = np.cumsum(mask) - mask
        return before - before[starts][event_of_row]

    candidate_rank = rank_within_event(candidate)
    repeat = candidate & (candidate_rank < repeats[event_of_row])
    new_rank = rank_within_event(~repeat)
    pool = np.maximum(known_before, 1)
    offset = (rng.random(len(sizes)) * pool).astype(np.int64)
    earlier_person = (offset[event_of_row] + candidate_rank) % pool[event_of_row]
    new_person = known_before[event_of_row] + new_rank
    person = np.where(repeat, earlier_person, new_person) + first_person
    return Attendance(person, known - known_people)


GIVEN_NAMES_ASCII = tuple(_ascii_lower_word(name) for name in GIVEN_NAMES)
SURNAMES_ASCII = tuple(_ascii_lower_word(name) for name in SURNAMES)
IDENTIFIER_PATTERNS = ("name_curp_phone", "name_phone", "name_email", "phone_only", "email_only")
IDENTIFIER_PATTERN_SHARES = (0.72, 0.14, 0.10, 0.02, 0.02)


def _participant_schema(spanish: bool) -> pa.Schema:
    names = PARTICIPANT_HEADERS_ES if spanish else PARTICIPANT_COLUMNS
    types = {"event_date": pa.date32(), "age": pa.int64(), "pre_score": pa.int64(), "post_score": pa.int64()}
    return pa.schema([(name, types.get(column, pa.string())) for name, column in zip(names, PARTICIPANT_COLUMNS)])


def _masked(values: pa.Array, keep: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(keep), values, pa.scalar(None, values.type))


def _ages(event_dates: np.ndarray, birth_dates: np.ndarray) -> np.ndarray:
    """Completed years of age on the event date."""
    def month_day(dates: np.ndarray) -> np.ndarray:
        month = dates.astype("datetime64[M]").astype(int) % 12 + 1
        return month * 100 + (dates - dates.astype("datetime64[M]")).astype(int) + 1

    years = event_dates.astype("datetime64[Y]").astype(int) - birth_dates.astype("datetime64[Y]").astype(int)
    return years - (month_day(event_dates) < month_day(birth_dates))


class ParticipantDefects(NamedTuple):
    """Which rows of a chunk get which defect."""

    bad_curp: np.ndarray
    bad_score: np.ndarray
    child_age: np.ndarray
    no_identifier: np.ndarray


def _participant_defects(rows: int, has_curp: np.ndarray, sample_file: bool, benchmark: bool,
                         rng: np.random.Generator) -> ParticipantDefects:
    """The sample's three planted rows, or about 0.1% bad rows in a benchmark run (scores, never CURPs)."""
    none = np.zeros(rows, dtype=bool)
    if sample_file and rows > 30 and has_curp[10:].any():
        bad_curp, child_age, no_identifier = none.copy(), none.copy(), none.copy()
        bad_curp[int(np.flatnonzero(has_curp[10:])[0]) + 10] = True
        child_age[20] = True
        no_identifier[30] = True
        return ParticipantDefects(bad_curp, none, child_age, no_identifier)
    if not benchmark:
        return ParticipantDefects(none, none, none, none)
    return ParticipantDefects(none, rng.random(rows) < BENCHMARK_BAD_ROW_SHARE, none, none)


def _participant_table(plan: Plan, events: Events, chunk: slice, people: People, rng: np.random.Generator,
                       sample_file: bool, benchmark: bool) -> pa.Table:
    """The rows of one chunk of events, one per person in `people`, with the file's headers and spellings."""
    person = people.number
    rows = len(person)
    labels = LABELS[plan.language]
    event = np.repeat(np.arange(chunk.start, chunk.stop), events.sizes[chunk])
    event_dates = events.dates[event]
    channel = events.channels[event]
    pattern = rng.choice(len(IDENTIFIER_PATTERNS), size=rows, p=IDENTIFIER_PATTERN_SHARES)
    has_curp = pattern == 0
    has_name = pattern <= 2
    has_phone = np.isin(pattern, (0, 1, 3))
    has_email = np.isin(pattern, (2, 4)) | (has_curp & (rng.random(rows) < 0.5))
    defects = _participant_defects(rows, has_curp, sample_file, benchmark, rng)

    curp_matrix = _curps(people)
    curp_matrix[defects.bad_curp, 4] = ord("O")  # a letter O typed among the birth-date digits
    email_number = pc.cast(pa.array((person * 3_141_597 + 2_718_281) % 10_000_000), pa.string())
    email = pc.binary_join_element_wise(_take(GIVEN_NAMES_ASCII, people.given), ".",
                                        _take(SURNAMES_ASCII, people.surname1), email_number, "@",
                                        _take(EMAIL_DOMAINS, people.email_domain), "")
    full_name = pc.binary_join_element_wise(_take(GIVEN_NAMES, people.given), _take(SURNAMES, people.surname1),
                                            _take(SURNAMES, people.surname2), " ")
    no_identifier = defects.no_identifier
    type_labels = [labels["participant_type"][code] for code in PARTICIPANT_TYPES]
    participant_type = _take(type_labels + ["trabajadora"],
                             np.where(plan.spanish & (people.participant_type == 0) & (people.sex == 0),
                                      len(type_labels), people.participant_type))
    pre = np.clip(np.rint(rng.normal(52, 16, rows)), 0, 100).astype(np.int64)
    post = np.clip(pre + np.rint(rng.normal(17, 11, rows)), 0, 100).astype(np.int64)
    post[defects.bad_score] = 130
    remote = np.isin(channel, (CHANNELS.index("digital"), CHANNELS.index("helpline")))
    ages = _ages(event_dates, people.birth_date)
    ages[defects.child_age] = 7
    columns = [
        pa.array(np.full(rows, plan.code)),
        _take(events.ids, event),
        pa.array(event_dates),
        _take([labels["channel"][code] for code in CHANNELS], channel),
        _masked(full_name, has_name & ~no_identifier),
        _masked(_strings(curp_matrix), has_curp & ~no_identifier),
        _masked(_phones(people), has_phone & ~no_identifier),
        _masked(email, has_email & ~no_identifier),
        _take([labels["sex"][code] for code in SEXES], people.sex),
        pa.array(ages.astype(np.int64)),
        _take(STATE_NAMES, people.state),
        participant_type,
        pa.array(pre, mask=(channel == CHANNELS.index("helpline")) & (rng.random(rows) < 0.3)),
        pa.array(post, mask=remote & (rng.random(rows) < 0.6) & ~defects.bad_score),
    ]
    return pa.Table.from_arrays(columns, schema=_participant_schema(plan.spanish))


def _active_days(plan: Plan, spans: Sequence[Period]) -> np.ndarray:
    """Days of each span on which the project can hold events (see `_window`)."""
    first, last = _window(plan)
    return np.array([max(0, (min(last, span.end) - max(first, span.start)).days + 1) for span in spans])


def _participant_profile(plan: Plan) -> ParticipantProfile:
    return PARTICIPANT_PROFILES.get(plan.code, SYNTHETIC_PARTICIPANT_PROFILE)


class AttendanceTally(NamedTuple):
    """A project's attendance records counted by semester, sex and state, and those it planned.

    `counts` is indexed by (SEMESTERS, SEXES, STATE_NAMES) positions; `planned` gives per semester
    the records the project's share of rows planned for it, in proportion to its active days.
    """

    counts: np.ndarray
    planned: np.ndarray


def _write_participants(folder: Path, plans: list[Plan], scale: float, seed: int,
                        sample: bool) -> tuple[int, dict[str, AttendanceTally]]:
    """One CSV per project and year, streamed chunk by chunk; rows are exactly round(6,000 x scale).

    Every project that reports ATTENDANCE_INDICATOR holds events, on its profile's share of the rows.
    Returns the rows written and each project's tally of them.
    """
    participant_plans = [plan for plan in plans if ATTENDANCE_INDICATOR in plan.indicators]
    total = round(PARTICIPANT_ROWS_PER_SCALE * scale)
    per_project = _allocate(total, [_participant_profile(plan).share for plan in participant_plans])
    folder.mkdir(parents=True, exist_ok=True)
    tallies = {}
    first_person = 0
    for plan, project_rows in zip(participant_plans, per_project):
        counts = np.zeros((len(SEMESTERS), len(SEXES), len(STATE_NAMES)), dtype=np.int64)
        known_people = 0
        for year, rows in zip(YEARS, _allocate(project_rows, _active_days(plan, YEARS))):
            if rows == 0:
                continue
            rng = _rng(seed, "participants", plan.code, year.start.year)
            events = _events(plan, year.start.year, rows, rng)
            sample_file = sample and (plan.code, year.start.year) == ("MAP", 2022)
            name = f"{plan.code}_{year.start.year}.csv"
            with pa_csv.CSVWriter(folder / name, _participant_schema(plan.spanish)) as writer:
                for chunk in _event_chunks(events.sizes):
                    attendance = _attendance(events.sizes[chunk], first_person, known_people, rng)
                    known_people += attendance.new_people
                    people = _people(attendance.person, plan, seed)
                    writer.write_table(_participant_table(plan, events, chunk, people, rng,
                                                          sample_file and chunk.start == 0, not sample))
                    cell = np.ravel_multi_index(
                        (_semester_index(np.repeat(events.dates[chunk], events.sizes[chunk])), people.sex,
                         people.state), counts.shape)
                    counts += np.bincount(cell, minlength=counts.size).reshape(counts.shape)
        semester_days = _active_days(plan, SEMESTERS)
        tallies[plan.code] = AttendanceTally(counts, project_rows * semester_days / semester_days.sum())
        first_person += project_rows
    return total, tallies


# --------------------------------------------------------------------------------------------
# Stakeholder feedback: a KoboToolbox export and an ODK Central export
# --------------------------------------------------------------------------------------------

RIGHTS = ("libertad_sindical", "voto_secreto", "contrato_legitimado", "no_represalias", "salario_minimo")
GROUPS = ("worker", "union", "employer", "government", "civil_society", "academia")
GROUP_SHARES = (0.45, 0.15, 0.15, 0.08, 0.12, 0.05)
KOBO_GROUP_NAMES = ("trabajador", "sindicato", "empleador", "gobierno", "sociedad_civil", "academia")
PLANT_GROUPS = ("worker", "union", "employer")
# Probabilities of the answers 1..5. Government and employers see enforcement improving; workers
# and worker centres see less of it and more coercion: the divergence the evaluation reported.
ENFORCEMENT_ANSWERS = {
    "worker": (0.2, 0.35, 0.3, 0.12, 0.03), "union": (0.08, 0.25, 0.37, 0.22, 0.08),
    "employer": (0.0, 0.03, 0.12, 0.45, 0.4), "government": (0.0, 0.02, 0.1, 0.43, 0.45),
    "civil_society": (0.25, 0.38, 0.27, 0.08, 0.02), "academia": (0.05, 0.2, 0.4, 0.28, 0.07),
}
COERCION_ANSWERS = {
    "worker": (0.1, 0.15, 0.25, 0.3, 0.2), "union": (0.12, 0.2, 0.3, 0.25, 0.13),
    "employer": (0.55, 0.3, 0.1, 0.04, 0.01), "government": (0.45, 0.35, 0.15, 0.04, 0.01),
    "civil_society": (0.05, 0.1, 0.25, 0.33, 0.27), "academia": (0.15, 0.25, 0.35, 0.18, 0.07),
}
COMPLIANCE_ANSWERS = {
    "employer": (0.0, 0.02, 0.1, 0.38, 0.5), "government": (0.02, 0.08, 0.3, 0.4, 0.2),
    "civil_society": (0.2, 0.35, 0.3, 0.12, 0.03), "academia": (0.08, 0.25, 0.4, 0.22, 0.05),
}
TRAINING_ANSWERS = (0.03, 0.07, 0.2, 0.4, 0.3)
RIGHTS_KNOWN_PROBABILITY = {"worker": 0.45, "union": 0.8, "employer": 0.65, "government": 0.85,
                            "civil_society": 0.8, "academia": 0.85}
FEEDBACK_COMMENTS = (
    "Nos dijeron \"voten por el sindicato de siempre\"; nadie explicó la boleta.",
    "La capacitación fue útil, pero el horario chocó con el turno de la tarde.",
    "La inspección llegó, revisó papeles y se fue; no habló con nosotras.",
    "Ya sabemos que el voto es secreto, pero hay miedo a represalias.",
    "Cumplimos con la legitimación y con la nueva política de no discriminación.",
    "Faltan inspectores en la región, sobre todo en pymes proveedoras.",
    "Los materiales por WhatsApp llegan a más compañeros que los talleres.",
    "Se necesita seguimiento a las quejas, no sólo talleres.",
)
FIRST_SUBMISSION = np.datetime64("2022-03-01T08:00:00")
LAST_SUBMISSION = np.datetime64("2025-06-30T20:00:00")


def _answers(group: np.ndarray, table: dict[str, Sequence[float]], rng: np.random.Generator) -> np.ndarray:
    """A 1-5 answer per respondent from their group's answer probabilities (0 where the group has none)."""
    answers = np.zeros(len(group), dtype=np.int64)
    for index, name in enumerate(GROUPS):
        if name in table:
            chosen = group == index
            answers[chosen] = rng.choice(5, size=int(chosen.sum()), p=table[name]) + 1
    return answers


def _uuids(numbers: np.ndarray, seed: int) -> pa.Array:
    """Version-4-shaped UUID strings, one per number, fixed by the seed."""
    raw = np.stack([_hash(numbers, seed * 7 + 1), _hash(numbers, seed * 7 + 2)], axis=1).view(np.uint8)
    nibbles = np.empty((len(numbers), 32), dtype=np.uint8)
    nibbles[:, 0::2], nibbles[:, 1::2] = raw >> 4, raw & 15
    nibbles[:, 12] = 4
    nibbles[:, 16] = 8 + (nibbles[:, 16] & 3)
    text = np.frombuffer(b"0123456789abcdef", np.uint8)[nibbles]
    matrix = np.full((len(numbers), 36), ord("-"), dtype=np.uint8)
    for target, source in ((slice(0, 8), slice(0, 8)), (slice(9, 13), slice(8, 12)), (slice(14, 18), slice(12, 16)),
                           (slice(19, 23), slice(16, 20)), (slice(24, 36), slice(20, 32))):
        matrix[:, target] = text[:, source]
    return _strings(matrix)


class Responses(NamedTuple):
    """One chunk of survey submissions in canonical codes; each export spells them its own way."""

    number: np.ndarray
    submitted: np.ndarray
    project: np.ndarray
    group: np.ndarray
    plant: np.ndarray
    state: np.ndarray
    sex: np.ndarray
    enforcement: np.ndarray
    coercion: np.ndarray
    compliance: np.ndarray
    training: np.ndarray
    rights: np.ndarray
    comment: np.ndarray


def _responses(first: int, stop: int, total: int, plans: list[Plan], seed: int, tool: str) -> Responses:
    """Submissions `first`..`stop-1` of `total`, in submission-time order."""
    rng = _rng(seed, "feedback", tool, first)
    number = np.arange(first, stop)
    rows = len(number)
    span = (LAST_SUBMISSION - FIRST_SUBMISSION).astype(np.int64)
    submitted = FIRST_SUBMISSION + ((number + rng.random(rows)) * span / total).astype("timedelta64[s]")
    project_weights = np.array([3.0 if plan.code in REAL_PLAN_DETAILS else 1.0 for plan in plans])
    project = rng.choice(len(plans), size=rows, p=project_weights / project_weights.sum())
    group = rng.choice(len(GROUPS), size=rows, p=GROUP_SHARES)
    at_plant = np.isin(group, [GROUPS.index(name) for name in PLANT_GROUPS])
    plant = np.where(at_plant, rng.integers(0, len(PLANTS), rows), -1)
    plant_state = np.array([STATE_NAMES.index(state) for _, state, _ in PLANTS])
    width = max(len(plan.states) for plan in plans)
    states_of = np.array([[STATE_NAMES.index(state) for state in plan.states] + [0] * (width - len(plan.states))
                          for plan in plans])
    state_count = np.array([len(plan.states) for plan in plans])
    project_state = states_of[project, (rng.random(rows) * state_count[project]).astype(np.int64)]
    quality = np.array([quality for _, _, quality in PLANTS])
    worker_view = np.clip(np.rint(1 + 4 * quality[np.maximum(plant, 0)] + rng.normal(0, 0.7, rows)), 1, 5)
    compliance = np.where(np.isin(group, (GROUPS.index("worker"), GROUPS.index("union"))), worker_view,
                          _answers(group, COMPLIANCE_ANSWERS, rng)).astype(np.int64)
    known_probability = np.array([RIGHTS_KNOWN_PROBABILITY[name] for name in GROUPS])[group]
    rights = (rng.random((rows, len(RIGHTS))) < known_probability[:, None]) @ (1 << np.arange(len(RIGHTS)))
    training = rng.choice(5, size=rows, p=TRAINING_ANSWERS) + 1
    return Responses(
        number=number, submitted=submitted, project=project, group=group, plant=plant,
        state=np.where(at_plant, plant_state[np.maximum(plant, 0)], project_state),
        sex=rng.choice(3, size=rows, p=(0.45, 0.52, 0.03)),
        enforcement=np.where(rng.random(rows) < 0.03, 0, _answers(group, ENFORCEMENT_ANSWERS, rng)),
        coercion=np.where(rng.random(rows) < 0.03, 0, _answers(group, COERCION_ANSWERS, rng)),
        compliance=compliance,
        training=np.where(rng.random(rows) < 0.25, 0, training),
        rights=rights,
        comment=np.where(rng.random(rows) < 0.15, rng.integers(0, len(FEEDBACK_COMMENTS), rows), -1),
    )


def _text_or_blank(values: np.ndarray, labels: Sequence[str], blank: str | None) -> pa.Array:
    """Labels for indices >= 0; `blank` (an empty string, or None for a null) for -1."""
    texts = _take(list(labels) + [""], np.where(values < 0, len(labels), values))
    return _masked(texts, values >= 0) if blank is None else texts


def _rating(values: np.ndarray, blank: str | None) -> pa.Array:
    return _text_or_blank(values - 1, ("1", "2", "3", "4", "5"), blank)


def _rights_columns(rights: np.ndarray, separator: str, prefix: str) -> dict[str, pa.Array]:
    """The select-multiple answer as a space-separated list plus one 0/1 column per option."""
    lists = [" ".join(name for bit, name in enumerate(RIGHTS) if code >> bit & 1) for code in range(32)]
    columns = {f"{prefix}{separator}derechos_conocidos": _take(lists, rights)}
    for bit, name in enumerate(RIGHTS):
        columns[f"{prefix}{separator}derechos_conocidos/{name}"] = _take(("0", "1"), (rights >> bit) & 1)
    return columns


def _survey_columns(responses: Responses, plans: list[Plan], separator: str, blank: str | None,
                    group_names: Sequence[str], state_names: Sequence[str], sex_names: Sequence[str]) -> dict:
    def path(group: str, question: str) -> str:
        return f"{group}{separator}{question}"

    return {
        path("datos", "proyecto"): _take([plan.code for plan in plans], responses.project),
        path("datos", "grupo_actor"): _take(group_names, responses.group),
        path("datos", "estado"): _take(state_names, responses.state),
        path("datos", "sexo"): _take(sex_names, responses.sex),
        path("datos", "planta"): _text_or_blank(responses.plant, [code for code, _, _ in PLANTS], blank),
        path("percepcion", "mejora_inspeccion"): _rating(responses.enforcement, blank),
        path("percepcion", "coercion_observada"): _rating(responses.coercion, blank),
        path("percepcion", "cumplimiento_empleador"): _rating(responses.compliance, blank),
        path("percepcion", "capacitacion_util"): _rating(responses.training, blank),
        **_rights_columns(responses.rights, separator, "derechos"),
        "comentarios": _text_or_blank(responses.comment, FEEDBACK_COMMENTS, blank),
    }


def _kobo_table(responses: Responses, plans: list[Plan], seed: int) -> pa.Table:
    """KoboToolbox's CSV export: '/' group paths, choice names in Spanish, underscore meta columns."""
    columns = _survey_columns(responses, plans, "/", "", KOBO_GROUP_NAMES, STATE_NAMES,
                              ("mujer", "hombre", "prefiere_no_decir"))
    columns["_id"] = pc.cast(pa.array(responses.number + 148_000_001), pa.string())
    columns["_uuid"] = _uuids(responses.number, seed)
    columns["_submission_time"] = pc.strftime(pa.array(responses.submitted), format="%Y-%m-%dT%H:%M:%S")
    columns["_index"] = pc.cast(pa.array(responses.number + 1), pa.string())
    return pa.table(columns)


def _odk_table(responses: Responses, plans: list[Plan], seed: int) -> pa.Table:
    """ODK Central's CSV export: '-' group paths, ISO state codes, SubmissionDate and meta-instanceID."""
    rows = len(responses.number)
    instance_ids = pc.binary_join_element_wise("uuid:", _uuids(responses.number, seed + 1), "")
    submitter = (responses.number * 7 % 5).astype(np.int64)
    columns = {"SubmissionDate": pc.strftime(pa.array(responses.submitted), format="%Y-%m-%dT%H:%M:%S.000Z")}
    columns.update(_survey_columns(responses, plans, "-", None, GROUPS, [STATE_ISO[name] for name in STATE_NAMES],
                                   ("female", "male", "undisclosed")))
    columns.update({
        "meta-instanceID": instance_ids,
        "KEY": instance_ids,
        "SubmitterID": _take(("11", "12", "15", "21", "34"), submitter),
        "SubmitterName": _take(("encuestador01", "encuestador02", "encuestadora03", "encuestadora04",
                                "encuestador05"), submitter),
        "AttachmentsPresent": pa.array(np.full(rows, "0")),
        "AttachmentsExpected": pa.array(np.full(rows, "0")),
        "Status": pa.nulls(rows, pa.string()),
        "ReviewState": _masked(pa.array(np.full(rows, "approved")), responses.number % 3 == 0),
        "DeviceID": pc.binary_join_element_wise("collect:", _take(("k3Hq9T2mXw", "Zp81LrBv0Q", "c7YtG4nNaE",
                                                                    "Wm5sJ2qRfU", "b9DxE6hKzL"), submitter), ""),
        "Edits": pa.array(np.full(rows, "0")),
        "FormVersion": pa.array(np.full(rows, "2023.2")),
    })
    return pa.table(columns)


def _write_feedback(folder: Path, plans: list[Plan], scale: float, seed: int) -> int:
    """Two exports of the same questionnaire: 60% of submissions via KoboToolbox, 40% via ODK Central."""
    total = round(FEEDBACK_SUBMISSIONS_PER_SCALE * scale)
    kobo_rows, odk_rows = _allocate(total, (0.6, 0.4))
    folder.mkdir(parents=True, exist_ok=True)
    exports = (
        ("kobo_encuesta_actores.csv", kobo_rows, _kobo_table, pa_csv.WriteOptions(delimiter=";",
                                                                                  quoting_style="all_valid")),
        ("odk_encuesta_actores.csv", odk_rows, _odk_table, pa_csv.WriteOptions()),
    )
    for name, rows, build, options in exports:
        if rows == 0:
            continue
        writer = None
        for first in range(0, rows, CHUNK_ROWS):
            table = build(_responses(first, min(first + CHUNK_ROWS, rows), rows, plans, seed, name), plans, seed)
            if writer is None:
                writer = pa_csv.CSVWriter(folder / name, table.schema, write_options=options)
            writer.write_table(table)
        writer.close()
    return total


# --------------------------------------------------------------------------------------------
# Complexity-aware records: outcome harvest, Most Significant Change stories, CLA log
# --------------------------------------------------------------------------------------------


def _window(plan: Plan) -> tuple[dt.date, dt.date]:
    """The days on which the project can have produced data."""
    return max(plan.project.start_date, FIRST_PERIOD_START), min(plan.project.end_date, LAST_PERIOD_END)


def _random_date(rng: np.random.Generator, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=int(rng.integers(0, (last - first).days + 1)))


def _plan_for_theme(plans: list[Plan], theme: str, rng: np.random.Generator) -> Plan:
    """A project working on `theme` (any project when none does)."""
    candidates = [plan for plan in plans if theme in plan.project.themes.split(";")] or plans
    return candidates[int(rng.integers(len(candidates)))]


class OutcomeTemplate(NamedTuple):
    theme: str
    actor_type: str
    social_actor: str
    description: str
    polarity: str
    intention: str


OUTCOME_TEMPLATES = (
    OutcomeTemplate("capacity", "union", "Sindicato independiente de trabajadores de autopartes",
                    "El sindicato independiente eligió a su comité ejecutivo por voto libre, personal y secreto; tres "
                    "de los siete cargos quedaron en manos de mujeres.", "positive", "intended"),
    OutcomeTemplate("capacity", "worker_group", "Comité de mujeres del turno nocturno",
                    "Las trabajadoras del turno nocturno formaron un comité propio y presentaron al sindicato un pliego "
                    "sobre acoso y horarios.", "positive", "unintended"),
    OutcomeTemplate("awareness", "worker_group", "Trabajadores de línea de ensamble",
                    "Un grupo de trabajadores de línea solicitó ante el CFCRL una consulta sobre su contrato colectivo "
                    "después de participar en los talleres sobre la reforma.", "positive", "intended"),
    OutcomeTemplate("awareness", "civil_society", "Centro de derechos laborales local",
                    "Un centro de derechos laborales adaptó los materiales del proyecto y los usa en su línea de "
                    "orientación telefónica.", "positive", "unintended"),
    OutcomeTemplate("enforcement", "government", "Oficina de representación federal del trabajo",
                    "La oficina federal del trabajo adoptó la lista de verificación electrónica en las visitas de "
                    "inspección al sector autopartes.", "positive", "intended"),
    OutcomeTemplate("enforcement", "government", "Inspectores federales del trabajo",
                    "Los inspectores dan seguimiento en menos de 60 días a las visitas con violaciones, con apoyo del "
                    "sistema electrónico de gestión de casos.", "positive", "intended"),
    OutcomeTemplate("compliance", "employer", "Proveedor automotriz de nivel 2",
                    "La empresa publicó y difundió entre su personal una política contra la discriminación y las "
                    "represalias sindicales.", "positive", "intended"),
    OutcomeTemplate("compliance", "employer", "Cámara empresarial regional",
                    "La cámara empresarial incorporó un módulo sobre legitimación de contratos colectivos en su "
                    "programa de capacitación para pymes.", "positive", "unintended"),
    OutcomeTemplate("compliance", "worker_group", "Trabajadores de una planta de arneses",
                    "Los trabajadores rechazaron en consulta el contrato de protección y la empresa firmó uno nuevo con "
                    "un aumento salarial negociado.", "positive", "intended"),
    OutcomeTemplate("capacity", "worker_group", "Activistas sindicales de la planta",
                    "Dos activistas fueron despedidos después de organizar una reunión informativa sobre la consulta "
                    "de legitimación.", "negative", "unintended"),
    OutcomeTemplate("compliance", "employer", "Gerencia de recursos humanos de una planta",
                    "La gerencia condicionó el acceso a los talleres a la presencia de personal de recursos humanos, "
                    "lo que inhibió la participación.", "negative", "unintended"),
    OutcomeTemplate("enforcement", "government", "Autoridad laboral estatal",
                    "La autoridad estatal suspendió por un semestre las inspecciones programadas por recortes "
                    "presupuestales.", "negative", "unintended"),
    OutcomeTemplate("cla", "civil_society", "Red de organizaciones aliadas",
                    "Las organizaciones aliadas acordaron un calendario común de talleres para no saturar a los mismos "
                    "centros de trabajo.", "positive", "unintended"),
    OutcomeTemplate("cla", "other", "Comité consultivo tripartito",
                    "El comité consultivo incorporó la retroalimentación de trabajadoras en la priorización de temas "
                    "del siguiente semestre.", "positive", "intended"),
    OutcomeTemplate("awareness", "union", "Sindicato de una planta armadora",
                    "El sindicato reenvió por WhatsApp las cápsulas sobre el voto secreto a más de 2,000 agremiados.",
                    "positive", "unintended"),
)
SPANISH_CODES = {
    "theme": {"awareness": "conciencia", "capacity": "capacidad", "enforcement": "aplicación",
              "compliance": "promoción del cumplimiento", "cla": "aprendizaje"},
    "actor_type": {"union": "sindicato", "worker_group": "grupo de trabajadores", "employer": "empresa",
                   "government": "gobierno", "civil_society": "sociedad civil", "other": "otro"},
    "significance": {"high": "alta", "medium": "media", "low": "baja"},
    "contribution": {"direct": "directa", "partial": "parcial", "indirect": "indirecta"},
    "polarity": {"positive": "positivo", "negative": "negativo"},
    "intention": {"intended": "intencionado", "unintended": "no intencionado"},
    "substantiation": {"confirmed": "confirmado", "partially_confirmed": "parcialmente confirmado",
                       "not_confirmed": "no confirmado", "pending": "pendiente"},
}
SUBSTANTIATORS = ("Evaluador externo", "Dirigente sindical entrevistada", "Funcionaria de la oficina federal del trabajo",
                  "Investigadora universitaria", "Representante de la cámara empresarial")
OUTCOME_SOURCES = ("Informe semestral del proyecto", "Taller de cosecha de alcances", "Entrevista a actores clave",
                   "Nota de prensa local")
OUTCOME_COLUMNS = ("outcome_id", "project_code", "theme", "description", "social_actor", "actor_type", "change_agent",
                   "outcome_date", "state", "significance", "contribution", "polarity", "intention", "source",
                   "substantiator", "substantiation")


def _write_outcomes(folder: Path, plans: list[Plan], scale: float, seed: int, sample: bool) -> int:
    """round(40 x scale) outcome-harvest records with Spanish spellings of the codes."""
    rng = _rng(seed, "outcomes")
    count = round(OUTCOMES_PER_SCALE * scale)
    rows = []
    for number in range(1, count + 1):
        template = OUTCOME_TEMPLATES[(number - 1) % len(OUTCOME_TEMPLATES)]
        plan = _plan_for_theme(plans, template.theme, rng)
        significance = str(rng.choice(["high", "medium", "low"], p=(0.3, 0.5, 0.2)))
        contribution = str(rng.choice(["direct", "partial", "indirect"], p=(0.35, 0.45, 0.2)))
        substantiation = str(rng.choice(list(SPANISH_CODES["substantiation"]), p=(0.5, 0.25, 0.1, 0.15)))
        state = plan.states[int(rng.integers(len(plan.states)))] if rng.random() < 0.85 else "Nacional"
        rows.append([
            f"OH-{number:04d}", plan.code, SPANISH_CODES["theme"][template.theme], template.description,
            template.social_actor, SPANISH_CODES["actor_type"][template.actor_type],
            f"{plan.project.grantee} ({plan.code})", _random_date(rng, *_window(plan)), state,
            SPANISH_CODES["significance"][significance], SPANISH_CODES["contribution"][contribution],
            SPANISH_CODES["polarity"][template.polarity], SPANISH_CODES["intention"][template.intention],
            OUTCOME_SOURCES[int(rng.integers(len(OUTCOME_SOURCES)))],
            None if substantiation == "pending" else SUBSTANTIATORS[int(rng.integers(len(SUBSTANTIATORS)))],
            SPANISH_CODES["substantiation"][substantiation],
        ])
    if sample and len(rows) > 6:
        rows[6][OUTCOME_COLUMNS.index("significance")] = "muy alta"
    return _write_csv(folder / "outcomes.csv", OUTCOME_COLUMNS, rows)


class StoryTemplate(NamedTuple):
    domain: str
    storyteller_type: str
    title: str
    story: str
    why_significant: str


STORY_TEMPLATES = (
    StoryTemplate("awareness", "worker", "Ahora sé leer mi recibo de nómina",
                  "Después del taller revisé mi recibo con mis compañeras y descubrimos que no nos pagaban el tiempo "
                  "extra. Lo reclamamos juntas y la empresa lo corrigió al mes siguiente.",
                  "Muestra que el conocimiento se convierte en acción colectiva."),
    StoryTemplate("capacity", "union", "Nuestra primera elección con boleta secreta",
                  "Durante años la directiva se eligió a mano alzada frente a los supervisores. Este año organizamos "
                  "una votación con boleta secreta y participó casi toda la planta.",
                  "Es el cambio de práctica que la reforma buscaba."),
    StoryTemplate("capacity", "worker", "Una mujer en la secretaría general",
                  "Nunca pensé que una operadora pudiera dirigir el sindicato. Después de la escuela sindical me "
                  "postulé y gané; ahora negociamos lactarios y horarios.",
                  "Rompe la barrera de género en la dirigencia sindical."),
    StoryTemplate("enforcement", "government", "La inspección ya no se queda en papel",
                  "Con el sistema electrónico podemos ver qué visitas tienen violaciones pendientes y regresar a "
                  "tiempo. Antes los expedientes se perdían entre oficinas.",
                  "El seguimiento oportuno da credibilidad a la inspección."),
    StoryTemplate("enforcement", "civil_society", "La queja que sí avanzó",
                  "Acompañamos a un grupo de trabajadores despedidos; por primera vez la autoridad citó a la empresa "
                  "y hubo reinstalación con salarios caídos.",
                  "Demuestra que el mecanismo de quejas puede funcionar."),
    StoryTemplate("compliance", "employer", "Pasamos de la simulación al diálogo",
                  "Como pyme proveedora creíamos que la legitimación era un trámite. En las mesas del proyecto "
                  "entendimos que era una conversación con nuestra gente y cambiamos la forma de negociar.",
                  "Cambio de actitud en el eslabón más débil de la cadena."),
    StoryTemplate("compliance", "worker", "El contrato que votamos nosotros",
                  "Por primera vez leímos el contrato antes de votar. Lo rechazamos y el nuevo incluyó un aumento que "
                  "sí discutimos en asamblea.",
                  "La consulta tuvo consecuencias reales para los trabajadores."),
    StoryTemplate("cla", "project_staff", "Cambiamos el horario por lo que nos dijeron",
                  "Las trabajadoras del turno nocturno nos dijeron que no podían asistir. Movimos los talleres al "
                  "cambio de turno y la asistencia de mujeres se duplicó.",
                  "La retroalimentación cambió una decisión del proyecto."),
    StoryTemplate("cla", "academia", "Datos compartidos entre proyectos",
                  "Propusimos un tablero común de indicadores entre los proyectos del portafolio y ahora las "
                  "reuniones de reflexión parten de la misma información.",
                  "Mejora el aprendizaje conjunto del portafolio."),
    StoryTemplate("awareness", "union", "Las cápsulas llegaron a otra planta",
                  "Compartimos los videos sobre voto secreto con un sindicato de otra ciudad que no participaba en el "
                  "proyecto; ellos organizaron su propia asamblea informativa.",
                  "Difusión no prevista más allá de la población objetivo."),
)
SELECTION_REASONS = ("Ilustra un cambio de práctica sostenido.", "Muestra un efecto no previsto del proyecto.",
                     "Representa la voz de las trabajadoras.", "Aporta evidencia para ajustar la estrategia.")
COLLECTORS = ("Lucía Ramírez", "Jorge Medina", "Ana Sofía Torres", "Ricardo Luna", "Mariana Ortiz")
MSC_COLUMNS = ("story_id", "project_code", "domain", "story_date", "storyteller_type", "storyteller_sex", "collector",
               "title", "story", "why_significant", "selection_level", "selection_reason", "feedback_given")


def _selection_levels(count: int, rng: np.random.Generator) -> list[str]:
    """How far each story went: a funnel from many collected stories to a few chosen by the donor."""
    donor, portfolio, project = max(1, count // 15), count // 10, count // 4
    levels = (["donor"] * donor + ["portfolio"] * portfolio + ["project"] * project
              + ["collected"] * (count - donor - portfolio - project))
    return [levels[index] for index in rng.permutation(count)]


def _write_msc_stories(folder: Path, plans: list[Plan], scale: float, seed: int) -> int:
    """round(30 x scale) Most Significant Change stories."""
    rng = _rng(seed, "msc")
    count = round(MSC_STORIES_PER_SCALE * scale)
    rows = []
    for number, level in enumerate(_selection_levels(count, rng), start=1):
        template = STORY_TEMPLATES[(number - 1) % len(STORY_TEMPLATES)]
        plan = _plan_for_theme(plans, template.domain, rng)
        selected = level != "collected"
        rows.append([
            f"MSC-{number:04d}", plan.code, template.domain, _random_date(rng, *_window(plan)),
            template.storyteller_type, str(rng.choice(["female", "male"], p=(0.55, 0.45))),
            COLLECTORS[int(rng.integers(len(COLLECTORS)))], template.title, template.story, template.why_significant,
            level, SELECTION_REASONS[int(rng.integers(len(SELECTION_REASONS)))] if selected else None,
            "true" if rng.random() < (0.8 if selected else 0.3) else "false",
        ])
    return _write_csv(folder / "msc_stories.csv", MSC_COLUMNS, rows)


# Entry templates per entry type: (theme, stakeholder group / evidence type / step kind, description).
CLA_TEMPLATES = {
    "feedback_item": (
        ("awareness", "worker", "Piden materiales en audio para compañeras con baja escolaridad."),
        ("awareness", "worker", "El horario de los talleres coincide con el cambio de turno."),
        ("capacity", "union", "Solicitan acompañamiento jurídico para registrar sus nuevos estatutos."),
        ("compliance", "employer", "Piden una guía breve sobre el procedimiento de legitimación para pymes."),
        ("enforcement", "government", "La oficina federal solicita capacitación adicional en el sistema de casos."),
        ("enforcement", "civil_society", "Reportan represalias tras una consulta y piden canalizar la queja."),
        ("cla", "academia", "Proponen compartir la base de datos anonimizada de encuestas."),
        ("compliance", "worker", "Denuncian que la empresa no entregó copia del contrato antes de la votación."),
    ),
    "reflection_decision": (
        ("awareness", "stakeholder_feedback", "Trasladar los talleres al horario de cambio de turno."),
        ("awareness", "monitoring_data", "Reforzar la difusión digital donde la asistencia presencial bajó."),
        ("capacity", "msc", "Ampliar la escuela sindical para mujeres a dos estados más."),
        ("enforcement", "context_monitoring", "Priorizar el acompañamiento de casos del mecanismo de respuesta rápida."),
        ("compliance", "evaluation", "Concentrar la asistencia técnica en pymes de nivel 2 y 3."),
        ("cla", "outcome_harvest", "Incorporar los alcances negativos a la reunión trimestral de reflexión."),
    ),
    "process_step": (
        ("awareness", "expected", "Trabajadoras capacitadas replican la información en su línea de producción."),
        ("capacity", "expected", "El sindicato apoyado convoca a elección de directiva con voto secreto."),
        ("compliance", "expected", "La empresa capacitada actualiza su reglamento interior de trabajo."),
        ("enforcement", "expected", "La inspección registra el seguimiento de la visita en el sistema de casos."),
        ("capacity", "emergent", "Un sindicato no apoyado solicita acompañamiento para su consulta de legitimación."),
        ("awareness", "emergent", "Un centro de trabajadores reutiliza los materiales en su línea de atención."),
    ),
}
CLA_COLUMNS = ("entry_id", "project_code", "entry_type", "entry_date", "stakeholder_group", "theme", "description",
               "evidence_type", "step_kind", "status", "service_window_days", "resolved_on")
SERVICE_WINDOW_DAYS = 30


def _cla_status(kind: str, entry_date: dt.date, rng: np.random.Generator) -> tuple[str, dt.date | None]:
    """Status and closing date: most feedback answered within the window, some late, some still open;
    decisions implemented, dropped or in progress; steps completed, in progress or open."""
    draw = rng.random()
    if kind == "feedback_item":
        if draw >= 0.88:
            return "open", None
        delay = int(rng.integers(1, SERVICE_WINDOW_DAYS + 1)) if draw < 0.7 else int(rng.integers(31, 81))
        closed, unfinished = "answered", "open"
    elif kind == "reflection_decision":
        if draw >= 0.6:
            return ("dropped" if draw < 0.75 else "in_progress"), None
        delay, closed, unfinished = int(rng.integers(20, 150)), "implemented", "in_progress"
    else:
        if draw >= 0.55:
            return ("in_progress" if draw < 0.8 else "open"), None
        delay, closed, unfinished = int(rng.integers(15, 200)), "completed", "in_progress"
    resolved = entry_date + dt.timedelta(days=delay)
    return (unfinished, None) if resolved > LATEST_DATE else (closed, resolved)


def _cla_entry(number: int, kind: str, plans: list[Plan], rng: np.random.Generator) -> list[object]:
    """One CLA log row, for a project working on the entry's theme."""
    theme, detail, text = CLA_TEMPLATES[kind][int(rng.integers(len(CLA_TEMPLATES[kind])))]
    plan = _plan_for_theme(plans, theme, rng)
    entry_date = _random_date(rng, *_window(plan))
    status, resolved = _cla_status(kind, entry_date, rng)
    return [
        f"CLA-{number:04d}", plan.code, kind, entry_date, detail if kind == "feedback_item" else None, theme, text,
        detail if kind == "reflection_decision" else None, detail if kind == "process_step" else None, status,
        SERVICE_WINDOW_DAYS if kind == "feedback_item" else None, resolved,
    ]


def _write_cla_log(folder: Path, plans: list[Plan], scale: float, seed: int) -> int:
    """The CLA log workbook: round(120 x scale) feedback items, reflection decisions and process steps."""
    rng = _rng(seed, "cla")
    count = round(CLA_ENTRIES_PER_SCALE * scale)
    kinds = rng.permutation(["feedback_item"] * (count // 2) + ["reflection_decision"] * (count // 4)
                            + ["process_step"] * (count - count // 2 - count // 4)).tolist()
    rows = [_cla_entry(number, kind, plans, rng) for number, kind in enumerate(kinds, start=1)]
    workbook = Workbook()
    _sheet_with_table(workbook, "registro", CLA_COLUMNS, rows)
    _save_workbook(workbook, folder / "cla_log.xlsx")
    return len(rows)


# --------------------------------------------------------------------------------------------
# Sentinel series
# --------------------------------------------------------------------------------------------

# Base rate of rights inquiries per 1,000 covered workers and covered workers, by state.
INQUIRY_STATES = {
    "Guanajuato": (4.2, 180_000), "Coahuila": (3.1, 150_000), "Nuevo León": (2.6, 210_000),
    "Querétaro": (3.4, 90_000), "Puebla": (2.2, 110_000), "Estado de México": (2.9, 160_000),
    "Aguascalientes": (3.7, 70_000), "Tamaulipas": (2.4, 80_000),
}
# The GM Silao union election (February 2022) drove a burst of inquiries in Guanajuato.
INQUIRY_SPIKE = ("Guanajuato", dt.date(2022, 2, 1), 3.0)


def _rights_inquiry_rows(seed: int) -> list[public_data.SentinelRow]:
    """Monthly inquiries per 1,000 covered workers, 2021-01 to 2025-06, for 8 states and their total.

    Noise is bounded (uniform within 6% of the level) so that only the planted spike leaves the
    normal range by a robust z-score.
    """
    rng = _rng(seed, "sentinel", "rights_inquiries")
    months = [dt.date(2021 + index // 12, index % 12 + 1, 1) for index in range(54)]
    source = "synthetic: mel_pipeline.sample.synthetic (rights-inquiries model)"
    unit = "inquiries per 1,000 covered workers"
    label = "Consultas sobre derechos laborales por cada 1,000 trabajadores cubiertos"
    rows = []
    totals = np.zeros(len(months))
    covered = sum(workers for _, workers in INQUIRY_STATES.values())
    for state, (base, workers) in INQUIRY_STATES.items():
        month_index = np.arange(len(months))
        level = base * (1 + 0.08 * month_index / len(months)) * (1 + 0.04 * np.sin(2 * np.pi * month_index / 12))
        values = level * (1 + rng.uniform(-0.06, 0.06, len(months)))
        if state == INQUIRY_SPIKE[0]:
            values[months.index(INQUIRY_SPIKE[1])] *= INQUIRY_SPIKE[2]
        values = np.round(values, 2)
        totals += values * workers / covered
        rows += [public_data.SentinelRow("rights_inquiries_per_1000", month, state, float(value), unit, label, source)
                 for month, value in zip(months, values)]
    rows += [public_data.SentinelRow("rights_inquiries_per_1000", month, "total", float(round(value, 2)), unit, label,
                                   source) for month, value in zip(months, totals)]
    return rows


def _write_sentinel(folder: Path, seed: int, reference_dir: Path | None) -> int:
    files = {"rights_inquiries.csv": _rights_inquiry_rows(seed)}
    if reference_dir is not None:
        files["reference_rrm.csv"] = public_data.rrm_sentinel_rows(reference_dir / public_data.RRM_CASES_FILE)
        files["reference_labor_stats.csv"] = public_data.labor_stats_sentinel_rows(
            reference_dir / public_data.LABOR_STATS_FILE)
    return sum(_write_csv(folder / name, public_data.SENTINEL_COLUMNS, rows) for name, rows in files.items())
