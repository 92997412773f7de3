"""Tests of the synthetic data generator and of the conversion of the real reference data.

Expected values in the reference tests are computed by hand from rows of
`../shared/reference-data/*.csv` (the arithmetic is in the comments).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import re
from collections import Counter, defaultdict
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import openpyxl
import pytest

from mel_pipeline.reference import codes
from mel_pipeline.reference import public_data as reference
from mel_pipeline.sample import synthetic
from mel_pipeline.settings import REPO_ROOT
from mel_pipeline.staging import contract

REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference-data"
needs_reference = pytest.mark.skipif(not REFERENCE_DIR.is_dir(), reason="../shared/reference-data is not present")
AS_OF = dt.date(2025, 8, 31)


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    synthetic.generate(out, scale=1, sample=True, reference_dir=REFERENCE_DIR if REFERENCE_DIR.is_dir() else None)
    return out


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("benchmark")
    synthetic.generate(out, scale=1, sample=False)
    return out


def file_hashes(root: Path) -> dict[str, str]:
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


def read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV (either encoding we write, ',' or ';') or of an .xlsx's first sheet."""
    if path.suffix == ".xlsx":
        sheet = openpyxl.load_workbook(path, data_only=True).worksheets[0]
        rows = [["" if value is None else str(value) for value in row] for row in sheet.iter_rows(values_only=True)]
        header_index = next(index for index, row in enumerate(rows) if sum(bool(cell) for cell in row) >= 3)
        return rows[header_index], rows[header_index + 1:]
    raw = path.read_bytes()
    text = raw.decode("cp1252") if path.name.endswith("_latin1.csv") else raw.decode("utf-8")
    delimiter = ";" if path.name.startswith("kobo") else ","
    header, *rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    return header, rows


def records(path: Path) -> list[dict[str, str]]:
    header, rows = read_table(path)
    return [dict(zip(header, row)) for row in rows]


@functools.cache
def contract_spellings(source_name: str) -> dict[str, str]:
    """Every accepted header spelling (normalised) of a source, mapped to its canonical column."""
    spellings = {}
    for name, column in contract.SOURCES[source_name].schema(AS_OF).columns.items():
        for spelling in (name, *column.metadata["aliases"]):
            spellings[codes.normalise_token(spelling)] = name
    return spellings


def canonical_header(source: contract.Source, header: str) -> str | None:
    """The contract column a header names, by its canonical name or an alias; survey group paths stripped."""
    spellings = contract_spellings(source.name)
    candidates = [header]
    if source.reader == "survey":
        candidates += [header.split("/")[-1], header.split("-")[-1]]
    return next((spellings[codes.normalise_token(c)] for c in candidates if codes.normalise_token(c) in spellings),
                None)


# ---- determinism and scale ------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path: Path, sample_dir: Path) -> None:
    again = tmp_path / "again"
    synthetic.generate(again, scale=1, sample=True, reference_dir=REFERENCE_DIR if REFERENCE_DIR.is_dir() else None)
    first, second = file_hashes(sample_dir), file_hashes(again)
    assert len(first) > 30
    assert first == second

    other_seed = tmp_path / "other-seed"
    synthetic.generate(other_seed, scale=1, sample=True, seed=7)
    assert file_hashes(other_seed)["participants/MAP_2022.csv"] != first["participants/MAP_2022.csv"]


def count_rows(folder: Path) -> int:
    return sum(len(read_table(path)[1]) for path in folder.iterdir())


@pytest.mark.parametrize("scale", [0.5, 1, 2.5])
def test_every_scaled_source_grows_exactly_with_scale(tmp_path: Path, scale: float) -> None:
    written = synthetic.generate(tmp_path, scale=scale)
    for source, rows_at_scale_1 in (("participants", 6000), ("feedback", 400), ("outcomes", 40), ("msc_stories", 30),
                                    ("cla_log", 120)):
        assert written[source] == count_rows(tmp_path / source) == round(rows_at_scale_1 * scale), source


@pytest.fixture(scope="module")
def doubled_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("doubled")
    synthetic.generate(out, scale=2, sample=False)
    return out


def report_cells(folder: Path) -> dict[tuple, dict[str, str]]:
    """Indicator-report rows by project, indicator, period start and disaggregation categories."""
    dimensions = list(codes.DISAGGREGATIONS)
    return {(row["project_code"], row["indicator_code"], row["period_start"][:10], *(row[name] for name in dimensions)):
            row for row in indicator_rows(folder / "indicator_reports")}


def test_scale_2_doubles_the_reported_counts_and_keeps_what_cannot_scale(clean_dir: Path, doubled_dir: Path) -> None:
    for source in ("projects", "targets", "sentinel"):
        assert count_rows(doubled_dir / source) == count_rows(clean_dir / source), source
    single, double = report_cells(clean_dir), report_cells(doubled_dir)
    compared = Counter()
    for key, row in single.items():
        indicator = key[1]
        if indicator == "CMP-02":
            # round(2x) is within 1 of 2 round(x).
            assert abs(float(double[key]["value"]) - 2 * float(row["value"])) <= 1, key
        elif indicator == "CMP-03":
            # Its denominator is CMP-02's count of the same period.
            assert abs(float(double[key]["denominator"]) - 2 * float(row["denominator"])) <= 1, key
        elif row["denominator"]:
            # A rate's denominators are drawn at scale 1 and doubled, so exactly twice.
            assert float(double[key]["denominator"]) == 2 * float(row["denominator"]), key
        else:
            continue
        compared[indicator] += 1
    assert set(compared) == {"CMP-01", "CMP-02", "CMP-03", "CMP-04", "CAP-01", "CAP-02", "ENF-01", "ENF-02", "ENF-04"}

    # AWR-01 is counted from the attendance records (next test), and each project's records double exactly:
    # 6,000 rows split 0.5 / 0.3 / 0.2 is 3,000 / 1,800 / 1,200 at scale 1 and twice that at scale 2.
    per_project = {folder: Counter(row["project_code"] for row in participant_rows(folder / "participants"))
                   for folder in (clean_dir, doubled_dir)}
    assert per_project[clean_dir] == {"MAP": 3000, "SC-WORKERS": 1800, "PADF-EMP": 1200}
    assert per_project[doubled_dir] == {"MAP": 6000, "SC-WORKERS": 3600, "PADF-EMP": 2400}


def test_every_25_units_of_scale_add_a_synthetic_project(tmp_path: Path) -> None:
    written = synthetic.generate(tmp_path, scale=50)
    codes_in_register = [row["codigo_proyecto"] for row in records(tmp_path / "projects" / "projects.csv")]
    assert codes_in_register == ["CALLE", "PADF-EMP", "SC-WORKERS", "MAP", "P-0001", "P-0002"]
    assert written["projects"] == 6
    assert {path.name.split("_")[0] for path in (tmp_path / "indicator_reports").iterdir()} >= {"P-0001", "P-0002"}
    assert written["participants"] == 300_000


# ---- real reference data --------------------------------------------------------------------


@needs_reference
def test_rrm_days_to_resolution_match_hand_computed_values() -> None:
    rows = reference.rrm_sentinel_rows(REFERENCE_DIR / reference.RRM_CASES_FILE)
    days = {row.label: row for row in rows if row.series_code == "rrm_days_to_resolution"}
    # GM Silao: no petition date, so from the US request 2021-05-12 to the vote 2021-08-18: 19 + 30 + 31 + 18 = 98.
    assert (days["GM Silao"].observed_on, days["GM Silao"].value) == (dt.date(2021, 5, 12), 98)
    assert days["GM Silao"].geography == "Guanajuato"
    # Tridonex: petition 2021-05-10 to 2021-08-10: 21 + 30 + 31 + 10 = 92.
    assert (days["Tridonex"].observed_on, days["Tridonex"].value) == (dt.date(2021, 5, 10), 92)
    # Goodyear SLP: petition 2023-04-20 to 2024-02-05: 10 + 31+30+31+31+30+31+30+31 + 31 + 5 = 291.
    assert (days["Goodyear SLP"].observed_on, days["Goodyear SLP"].value) == (dt.date(2023, 4, 20), 291)
    assert days["Goodyear SLP"].geography == "San Luis Potosí"
    # Panasonic Reynosa: month-only dates, petition 2022-04 -> 04-01, resolution 2022-06 -> 06-30: 30 + 31 + 29 = 90.
    assert days["Panasonic Reynosa"].value == 90
    # Cases without a resolution date (Draxton Irapuato, Atento Servicios, ...) are in rrm_cases_open instead.
    assert "Draxton Irapuato" not in days and len(days) == 12
    assert (days["Goodyear SLP"].sector, days["Teksid Hierro"].sector) == ("rubber/tires", "automotive parts")
    assert days["Grupo Mexico San Martin mine"].sector == "mining"
    assert days["Tridonex"].source.split(" ")[0] == "https://porgeslaw.com/rta-ds-usmca-labor-rrm/2023/9/16/us-mexico-rrm-1-tridonex"


@needs_reference
def test_open_rrm_cases_are_one_row_each_dated_at_their_start() -> None:
    rows = reference.rrm_sentinel_rows(REFERENCE_DIR / reference.RRM_CASES_FILE)
    open_cases = {row.label: (row.observed_on, row.geography, row.value, row.sector)
                  for row in rows if row.series_code == "rrm_cases_open"}
    # A start and no resolution date: Manufacturas VU's second petition (2022-12-29), Draxton (no petition;
    # US request 2023-05-31), Atento (US request 2024-01-18) and RV Fresh Foods
    # (petition 2024-01-17). Servicios Industriales Gonzalez, Minera Tizapa and Impro have no date that
    # parses ("2024-03/04 (announced ...)", "2024 (25th invocation ...)"), so they are in no series.
    assert open_cases == {
        "Manufacturas VU (2nd)": (dt.date(2022, 12, 29), "Coahuila", 1.0, "automotive parts"),
        "Draxton Irapuato": (dt.date(2023, 5, 31), "Guanajuato", 1.0, "automotive parts"),
        "Atento Servicios": (dt.date(2024, 1, 18), "Hidalgo", 1.0, "services"),
        "RV Fresh Foods": (dt.date(2024, 1, 17), "Michoacán", 1.0, "processed food"),
    }
    assert all(row.sector == "" for row in rows if row.series_code == "rrm_cases_requested")


@needs_reference
def test_rrm_requests_per_quarter_and_labor_stats() -> None:
    rows = reference.rrm_sentinel_rows(REFERENCE_DIR / reference.RRM_CASES_FILE)
    per_quarter = {row.observed_on: row.value for row in rows if row.series_code == "rrm_cases_requested"}
    # 2023 Q2 US requests: Goodyear 05-22, San Martin 06-16, Draxton 05-31, INISA 06-12.
    assert per_quarter[dt.date(2023, 4, 1)] == 4
    assert per_quarter[dt.date(2021, 7, 1)] == 0
    assert min(per_quarter) == dt.date(2021, 4, 1) and max(per_quarter) == dt.date(2024, 1, 1)

    stats = reference.labor_stats_sentinel_rows(REFERENCE_DIR / reference.LABOR_STATS_FILE)
    by_key = {(row.series_code, row.observed_on): row for row in stats}
    assert by_key["cbas_legitimated_final_after_2023_07_31_deadline", dt.date(2023, 7, 31)].value == 27336
    # "to 2022-05 (article 2022-05-18)" ends on 2022-05-31; "2019 to 2022-03" on 2022-03-31.
    assert by_key["cbas_rejected_by_workers_in_legitimation_votes_cumulative", dt.date(2022, 5, 31)].value == 35
    assert by_key["cbas_legitimated_cumulative_since_2019", dt.date(2022, 3, 31)].value == 3939
    assert not any(row.label == "CBAs legitimated (cumulative)" and row.value == 3300 for row in stats)  # "~2022"
    assert all(re.fullmatch(r"[a-z0-9_]{3,64}", row.series_code) for row in stats)
    assert len({(row.series_code, row.observed_on, row.label) for row in stats}) == len(stats)


@needs_reference
def test_register_reads_the_four_evaluated_projects() -> None:
    register = reference.portfolio_register(REFERENCE_DIR / reference.ILAB_PROJECTS_FILE)
    assert register == list(reference.FALLBACK_REGISTER)
    by_code = {project.project_code: project for project in register}
    # PADF: "2020-11" to "2024-10", funding unknown.
    assert (by_code["PADF-EMP"].start_date, by_code["PADF-EMP"].end_date) == (dt.date(2020, 11, 1), dt.date(2024, 10, 31))
    assert by_code["PADF-EMP"].budget_usd is None
    assert by_code["SC-WORKERS"].start_date == dt.date(2020, 10, 1)  # assumed: blank in the reference file
    assert by_code["CALLE"].budget_usd == 6_250_000
    assert by_code["MAP"].source_url.startswith("https://www.partners.net/mexico-awareness-raising-project")


# ---- shape of what is written ---------------------------------------------------------------


def test_every_file_parses_and_uses_contract_column_names(sample_dir: Path) -> None:
    tables = [path for path in sorted(sample_dir.rglob("*")) if path.suffix in (".csv", ".xlsx")]
    assert {path.parent.name for path in tables} | {"iati"} == set(contract.SOURCES)
    for path in tables:
        source = contract.SOURCES[path.parent.name]
        header, rows = read_table(path)
        assert rows, path
        assert all(len(row) == len(header) for row in rows), path
        named = {column: canonical_header(source, column) for column in header}
        if source.reader != "survey":
            assert None not in named.values(), (path, [column for column, name in named.items() if name is None])
        required = {name for name, column in source.schema(AS_OF).columns.items()
                    if not column.metadata["optional_column"]}
        assert required <= set(named.values()), (path, required - set(named.values()))


def test_latin1_file_is_windows_1252(sample_dir: Path) -> None:
    raw = (sample_dir / "indicator_reports" / "SC-WORKERS_2021_latin1.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "Querétaro" in raw.decode("cp1252") or "Ciudad de México" in raw.decode("cp1252")
    assert not (sample_dir / "indicator_reports" / "SC-WORKERS_2021.csv").exists()


def test_iati_file_has_results_with_sex_disaggregated_actuals(sample_dir: Path) -> None:
    root = ElementTree.parse(sample_dir / "iati" / "portfolio_results.xml").getroot()
    assert root.get("version") == "2.03"
    identifiers = [activity.findtext("iati-identifier") for activity in root]
    assert identifiers == [f"{synthetic.IATI_REPORTING_ORG}-{code}" for code in ("CALLE", "PADF-EMP", "SC-WORKERS", "MAP")]
    assert {element.get("code") for element in root.iter("reference")} == set(synthetic.INDICATORS)
    assert any(dimension.get("name") == "sex" and dimension.get("value") == "female" for dimension in root.iter("dimension"))


# ---- the data says what it should ----------------------------------------------------------


def indicator_rows(folder: Path) -> list[dict[str, str]]:
    source = contract.SOURCES["indicator_reports"]
    return [{canonical_header(source, column): value for column, value in record.items()}
            for path in sorted(folder.iterdir()) for record in records(path)]


def test_disaggregations_add_up_and_rates_match_their_parts(clean_dir: Path) -> None:
    dimensions = list(codes.DISAGGREGATIONS)
    totals: dict[tuple, dict[str, float]] = {}
    parts: dict[tuple, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in indicator_rows(clean_dir / "indicator_reports"):
        key = (row["project_code"], row["indicator_code"], row["period_start"])
        measures = {name: float(row[name]) for name in ("numerator", "denominator", "value") if row[name]}
        if "numerator" in measures:
            assert measures["numerator"] <= measures["denominator"]
            assert measures["value"] == round(100 * measures["numerator"] / measures["denominator"], 1)
        breakdown = [name for name in dimensions if row[name]]
        if not breakdown:
            totals[key] = measures
            continue
        for name, number in measures.items():
            if name != "value" or "numerator" not in measures:
                parts[(*key, breakdown[0])][name] += number
    assert len(parts) > 50
    for (*key, dimension), sums in parts.items():
        assert {name: totals[tuple(key)][name] for name in sums} == sums, (key, dimension)


def test_calle_2023_h2_report_is_missing(clean_dir: Path) -> None:
    periods = {row["period_start"] for row in indicator_rows(clean_dir / "indicator_reports")
               if row["project_code"] == "CALLE"}
    assert "2023-01-01" in periods and "2023-07-01" not in periods and "2024-01-01" in periods


def participant_rows(folder: Path) -> list[dict[str, str]]:
    source = contract.SOURCES["participants"]
    return [{canonical_header(source, column): value for column, value in record.items()}
            for path in sorted(folder.iterdir()) for record in records(path)]


def test_participants_are_realistic_people_who_come_back(clean_dir: Path) -> None:
    rows = participant_rows(clean_dir / "participants")
    assert len({row["state"] for row in rows}) == 32
    curps = [row["curp"] for row in rows if row["curp"]]
    assert all(curp[10] in "HMX" for curp in curps)
    seen_in_event = Counter((row["event_id"], row["curp"] or row["email"] or row["phone"] or row["full_name"])
                            for row in rows)
    assert max(seen_in_event.values()) == 1
    repeat_share = 1 - len(set(curps)) / len(curps)
    assert 0.15 < repeat_share < 0.4
    assert any(row["phone"] and not row["curp"] and not row["email"] and not row["full_name"] for row in rows)
    phones = [row["phone"] for row in rows if row["phone"]]
    assert all(re.fullmatch(r"\+52 (\d{2} \d{4}|\d{3} \d{3}) \d{4}", phone) for phone in phones)
    assert len(set(phones)) < len(phones)  # the same people's numbers come back


CURP_CHARACTERS = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"


def curp_check_digit(curp: str) -> str:
    """RENAPO's check digit: each of the first 17 characters valued by its place in CURP_CHARACTERS,
    weighted 18 down to 2; the digit brings the sum up to a multiple of 10."""
    total = sum(CURP_CHARACTERS.index(character) * weight for character, weight in zip(curp[:17], range(18, 1, -1)))
    return str((10 - total % 10) % 10)


def test_without_sample_every_curp_is_valid_and_the_bad_rows_are_scores(clean_dir: Path) -> None:
    # A = 10 and H = 17: 10 x (18 + 17 + 16 + 15) + 17 x 8 + 10 x (7 + 6 + 5 + 4 + 3) = 660 + 136 + 250 = 1046,
    # and 1046 + 4 is a multiple of 10.
    assert curp_check_digit("AAAA000000HAAAAA0") == "4"
    rows = participant_rows(clean_dir / "participants")
    curps = [row["curp"] for row in rows if row["curp"]]
    assert len(curps) > 3000
    assert [curp for curp in curps if not re.fullmatch(contract.CURP_PATTERN, curp)] == []
    assert [curp for curp in curps if curp[17] != curp_check_digit(curp)] == []
    bad_scores = sum(row["post_score"] == "130" for row in rows)
    assert 0 < bad_scores <= 15  # the benchmark's ~0.1% bad rows: 6 expected in 6,000


def semester_start(date_text: str) -> str:
    return f"{date_text[:4]}-{'01' if int(date_text[5:7]) <= 6 else '07'}-01"


def test_reported_awr01_agrees_with_the_attendance_records(sample_dir: Path) -> None:
    records = Counter((row["project_code"], semester_start(row["event_date"]))
                      for row in participant_rows(sample_dir / "participants"))
    reported = {(key[0], key[2]): int(float(row["value"])) for key, row in report_cells(sample_dir).items()
                if key[1] == "AWR-01" and not any(key[3:])}
    assert set(reported) == set(records) and len(records) == 25
    # The documented discrepancies: 255 x 1.35 = 344.25 and 101 x 0.75 = 75.75.
    assert (records["MAP", "2023-07-01"], reported["MAP", "2023-07-01"]) == (255, 344)
    assert (records["SC-WORKERS", "2022-01-01"], reported["SC-WORKERS", "2022-01-01"]) == (101, 76)
    # Every other project-period is within 3% of its records, plus half a person of rounding.
    departures = {key: reported[key] - count for key, count in records.items()
                  if key not in {("MAP", "2023-07-01"), ("SC-WORKERS", "2022-01-01")}}
    assert {key: departure for key, departure in departures.items()
            if abs(departure) > 0.03 * records[key] + 0.5} == {}
    assert any(departures.values())


def test_feedback_shows_the_divergence_between_groups(clean_dir: Path) -> None:
    ratings: dict[str, list[int]] = defaultdict(list)
    coercion: dict[str, list[int]] = defaultdict(list)
    groups = codes.spelling_map(codes.STAKEHOLDER_GROUPS)
    for path in (clean_dir / "feedback").iterdir():
        for record in records(path):
            fields = {re.split(r"[/-]", column)[-1]: value for column, value in record.items()}
            group = groups[codes.normalise_token(fields["grupo_actor"])]
            if fields["mejora_inspeccion"]:
                ratings[group].append(int(fields["mejora_inspeccion"]))
            if fields["coercion_observada"]:
                coercion[group].append(int(fields["coercion_observada"]))
    mean = {group: np.mean(values) for group, values in ratings.items()}
    assert min(mean["government"], mean["employer"]) > 4 > 3 > max(mean["worker"], mean["civil_society"])
    assert np.mean(coercion["worker"]) > 3 > np.mean(coercion["employer"])


def test_rights_inquiry_spike_is_the_only_robust_outlier_in_states(clean_dir: Path) -> None:
    series: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for record in records(clean_dir / "sentinel" / "rights_inquiries.csv"):
        series[record["geography"]].append((record["observed_on"], float(record["value"])))
    assert len(series) == 9 and all(len(points) == 54 for points in series.values())
    flagged = set()
    for geography, points in series.items():
        values = np.array([value for _, value in points])
        median = np.median(values)
        modified_z = 0.6745 * (values - median) / np.median(np.abs(values - median))
        flagged |= {(geography, points[index][0]) for index in np.flatnonzero(np.abs(modified_z) > 3.5)}
    assert ("Guanajuato", "2022-02-01") in flagged
    assert flagged <= {("Guanajuato", "2022-02-01"), ("total", "2022-02-01")}


def test_sample_plants_each_documented_defect(sample_dir: Path, clean_dir: Path) -> None:
    reports = sample_dir / "indicator_reports"
    calle_2022 = [row for row in records(reports / "CALLE_2022.csv") if row["numerator"]]
    assert any(float(row["numerator"]) > float(row["denominator"]) for row in calle_2022)
    assert any(row["period_end"] == "2031-12-31" for row in records(reports / "CALLE_2021.csv"))
    assert any(row["estado"] == "Nuevo Leon x" for row in records(reports / "MAP_2022.csv"))
    _, map_2023 = read_table(reports / "MAP_2023.csv")
    assert len(map_2023) - len({tuple(row) for row in map_2023}) == 1
    padf_2023 = records(reports / "PADF-EMP_2023.xlsx")
    assert any(row["numerator"] == "N/A" and not row["value"] for row in padf_2023)

    people = participant_rows(sample_dir / "participants")
    assert sum(row["age"] == "7" for row in people) == 1
    assert sum(not (row["curp"] or row["email"] or row["phone"] or row["full_name"]) for row in people) == 1
    assert sum(bool(row["curp"]) and not re.fullmatch(contract.CURP_PATTERN, row["curp"]) for row in people) == 1
    assert [row["significance"] for row in records(sample_dir / "outcomes" / "outcomes.csv")].count("muy alta") == 1

    assert not (clean_dir / "indicator_reports" / "SC-WORKERS_2021_latin1.csv").exists()
    assert "muy alta" not in (clean_dir / "outcomes" / "outcomes.csv").read_text(encoding="utf-8")
