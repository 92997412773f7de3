"""The baseline a typical analyst would write: pandas, with the contract's pandera schemas.

Every file is read whole with pandas (`read_csv`, `read_excel`; the IATI XML through the pipeline's
reader), its headers renamed from the contract's aliases, its cells cleaned and parsed into the
schema's dtypes, its identifiers turned into pseudonyms with Python's `hmac`, and the result
validated by the contract's own pandera schema on pandera's pandas backend (`lazy=True`), file by
file as the contract's keys require. Cross-source rules (known projects and indicators, dates
within the project, percentages with their parts) are pandas filters. The indicators that read
person-level rows (those whose sheet lists `participants`) are pandas groupbys; the others, which
read a few thousand rows, run their SQL on the staged frames. The engine's roll-ups and the marts
are then written to a DuckDB file, as the pipeline's are.

Usage: python benchmarks/pandas_baseline.py --raw DIR --out DIR
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import hmac
import shutil
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import openpyxl
import pandas as pd
import pandera.pandas as pa
from person_keys import linked_person_keys

from mel_pipeline.indicators.engine import (
    RESULTS_TABLE_SQL,
    build_indicator_values,
    build_sentinel_signals,
    sheet_sql_parameters,
)
from mel_pipeline.marts.publish import MARTS_FILE, export_parquet, write_marts
from mel_pipeline.raw.iati import read_iati
from mel_pipeline.reference.catalogue import (
    RESULT_COLUMNS,
    IndicatorSheet,
    load_registry,
    shared_views_sql,
    write_catalog,
)
from mel_pipeline.reference.codes import normalise_token, spelling_map
from mel_pipeline.settings import Settings
from mel_pipeline.staging.contract import LOAD_ORDER, SOURCES, Source
from mel_pipeline.warehouse import configure
from mel_pipeline.warehouse import quote_literal as ql

MISSING = {"", "n/a", "na", "n.a.", "n/d", "nd", "-", "--", "null", "none", "s/d", "sin dato", "sin datos"}
TRUE_WORDS = {"yes", "y", "si", "s", "true", "verdadero", "1", "x"}
FALSE_WORDS = {"no", "n", "false", "falso", "0"}
ISO_DATE = r"^\d{4}-\d{2}-\d{2}(?:[ T].*)?$"
DAY_FIRST_DATE = r"^\d{1,2}/\d{1,2}/\d{4}$"
THOUSANDS = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
# Survey tools' meta columns, by the name the contract knows them by.
SURVEY_META = {"_uuid": "uuid", "_submission_time": "submission_time", "meta-instanceID": "instanceID"}
SQL_TYPES = {"integer": "BIGINT", "number": "DOUBLE", "date": "DATE", "datetime": "TIMESTAMP", "boolean": "BOOLEAN"}


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------

def canonical_names(schema: pa.DataFrameSchema) -> dict[str, str]:
    """Every accepted header spelling (normalised) mapped to the contract's column name."""
    names = {}
    for name, column in schema.columns.items():
        for spelling in [name, *column.metadata.get("aliases", [])]:
            names[normalise_token(spelling)] = name
    return names


def survey_column(header: str) -> str:
    """A KoboToolbox or ODK question path shortened to the question's name ('datos/estado' -> 'estado')."""
    if header in SURVEY_META:
        return SURVEY_META[header]
    return header.replace("/", "-").rsplit("-", 1)[-1]


def read_table(path: Path, source: Source, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """One file as text cells under the contract's column names, with `_row_number` as in a spreadsheet."""
    names = canonical_names(schema)
    if path.suffix == ".xml":
        return read_iati(path, path.name).to_pandas()
    if path.suffix == ".xlsx":
        workbook = openpyxl.load_workbook(path, read_only=True)
        sheet = next(sheet.title for sheet in workbook.worksheets if sheet.sheet_state == "visible")
        workbook.close()
        cells = pd.read_excel(path, sheet_name=sheet, header=None, dtype=str)
        matches = [sum(normalise_token(str(cell)) in names for cell in row) for row in cells.head(20).itertuples(index=False)]
        header_row = int(np.argmax(matches))
        frame = cells.iloc[header_row + 1:].set_axis([str(cell) for cell in cells.iloc[header_row]], axis=1)
        frame = frame.dropna(how="all")
        frame.insert(0, "_row_number", frame.index + 1)
    else:
        with path.open(encoding="utf-8-sig") as handle:
            delimiter = csv.Sniffer().sniff(handle.readline(), delimiters=",;\t|").delimiter
        frame = pd.read_csv(path, dtype=str, sep=delimiter, keep_default_na=False, na_values=[""])
        if source.reader == "survey":
            options = [column for column in frame.columns if column.count("/") > 1]
            frame = frame.drop(columns=options).rename(columns=survey_column)
        frame.insert(0, "_row_number", np.arange(2, len(frame) + 2))
    renamed = {column: names[normalise_token(column)] for column in frame.columns if normalise_token(column) in names}
    frame = frame.rename(columns=renamed)
    return frame[["_row_number", *[column for column in frame.columns if column in schema.columns]]]


# ----------------------------------------------------------------------------------------------
# Parsing into the schema's dtypes
# ----------------------------------------------------------------------------------------------

def clean(values: pd.Series) -> pd.Series:
    """Trimmed text, with the contract's missing-value markers as missing."""
    text = values.astype("object").where(values.notna(), None).str.strip()
    return text.where(~text.str.lower().isin(MISSING) & text.notna(), None)


def to_code(values: pd.Series, vocabulary: dict[str, list[str]]) -> pd.Series:
    """Spellings mapped to their code; unknown spellings kept, so the schema's isin check names them."""
    spellings = spelling_map(vocabulary)
    known = {value: spellings.get(normalise_token(value), value) for value in values.dropna().unique()}
    return values.map(known)


def to_date(values: pd.Series) -> pd.Series:
    """ISO dates (a time part ignored) or day-first dates; anything else missing."""
    iso = pd.to_datetime(values.where(values.str.match(ISO_DATE, na=False)).str[:10], format="%Y-%m-%d", errors="coerce")
    day_first = pd.to_datetime(values.where(values.str.match(DAY_FIRST_DATE, na=False)), format="%d/%m/%Y", errors="coerce")
    return iso.fillna(day_first)


def to_number(values: pd.Series) -> pd.Series:
    """Numbers, with thousands separators allowed; infinities and text missing."""
    plain = values.where(~values.str.match(THOUSANDS, na=False), values.str.replace(",", "", regex=False))
    numbers = pd.to_numeric(plain, errors="coerce")
    return pd.Series(np.where(np.isfinite(numbers), numbers, np.nan), index=values.index).astype("Float64")


def to_integer(values: pd.Series, counts_selections: bool) -> pd.Series:
    """Whole numbers; a survey's select-multiple answer counts the options chosen."""
    if counts_selections:
        words = values.str.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*( +[A-Za-z_][A-Za-z0-9_]*)*", na=False)
        digits = values.str.fullmatch(r"[0-9]+", na=False)
        counted = values.where(words).str.split().str.len()
        return pd.to_numeric(values.where(digits), errors="coerce").fillna(counted).astype("Int64")
    plain = values.where(~values.str.match(THOUSANDS, na=False), values.str.replace(",", "", regex=False))
    whole = plain.str.fullmatch(r"[+-]?[0-9]+(\.0+)?", na=False)
    return pd.to_numeric(plain.where(whole), errors="coerce").astype("Int64")


def to_boolean(values: pd.Series) -> pd.Series:
    """Yes/no words in English or Spanish."""
    words = values.dropna().unique()
    known = {word: True if normalise_token(word) in TRUE_WORDS else False if normalise_token(word) in FALSE_WORDS else None
             for word in words}
    return values.map(known).astype("boolean")


def parse(text: pd.DataFrame, schema: pa.DataFrameSchema) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """The frame in the schema's dtypes, and the cells that could not be parsed (dtype failures)."""
    typed = pd.DataFrame({"_row_number": text["_row_number"].to_numpy()}, index=text.index)
    failures = []
    for name, column in schema.columns.items():
        meta = column.metadata
        raw = clean(text[name]) if name in text else pd.Series(None, index=text.index, dtype="object")
        if meta.get("default") is not None:
            raw = raw.fillna(meta["default"])
        kind = meta["kind"]
        if kind == "code" and meta.get("vocabulary"):
            value = to_code(raw, meta["vocabulary"])
        elif kind == "code":
            value = {"upper": raw.str.upper(), "lower": raw.str.lower()}.get(meta.get("case"), raw)
        elif kind == "date":
            value = to_date(raw)
        elif kind == "datetime":
            value = pd.to_datetime(raw, format="ISO8601", utc=True, errors="coerce")
            # The survey tools' submission time is UTC and is published as Mexico City time (bare dates excepted).
            local = name == "submitted_at" and raw.str.len() > len("2024-01-01")
            value = value.where(~local, value.dt.tz_convert("America/Mexico_City").dt.tz_localize(None).dt.tz_localize("UTC"))
            value = value.dt.tz_localize(None)
        elif kind == "number":
            value = to_number(raw)
        elif kind == "integer":
            value = to_integer(raw, meta.get("counts_selections", False))
        elif kind == "boolean":
            value = to_boolean(raw)
        else:
            value = raw
        typed[name] = value
        if kind in SQL_TYPES:
            unparsed = raw.notna() & value.isna()
            failures.append(pd.DataFrame({"row_number": typed.loc[unparsed, "_row_number"], "column": name,
                                          "check": "dtype", "value": raw[unparsed]}))
    return typed, failures


# ----------------------------------------------------------------------------------------------
# Pseudonyms and validation
# ----------------------------------------------------------------------------------------------

def pseudonyms(typed: pd.DataFrame, identifiers: tuple[str, ...], key: bytes) -> pd.Series:
    """HMAC-SHA256 of 'kind:normalised identifier' (the first identifier given), 32 hex characters."""
    chosen = pd.Series(None, index=typed.index, dtype="object")
    for name in identifiers:
        kind = name.rsplit("_", 1)[-1]
        values = typed[name].astype("object")
        if kind == "curp":
            normalised = values.str.upper()
        elif kind == "email":
            normalised = values.str.lower()
        elif kind == "phone":
            normalised = values.str.replace(r"[^0-9]", "", regex=True).str[-10:]
        else:
            normalised = values.map({value: normalise_token(value) for value in values.dropna().unique()})
        chosen = chosen.mask(chosen.isna(), kind + ":" + normalised.astype("object"))
    return chosen.map(lambda message: hmac.new(key, message.encode(), hashlib.sha256).hexdigest()[:32],
                      na_action="ignore")


def schema_failures(schema: pa.DataFrameSchema, typed: pd.DataFrame) -> pd.DataFrame:
    """Every failure pandera's pandas backend finds, as (row_number, column, check, value)."""
    try:
        schema.validate(typed, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases.dropna(subset=["index"])
        checks = cases["check"].astype(str).str.split("(").str[0]
        frame_level = cases["column"].isna()
        columns = cases["column"].astype("object").copy()
        for position in cases.index[frame_level]:
            number, check = cases.at[position, "check_number"], checks[position]
            if check == "multiple_fields_uniqueness":
                columns[position] = schema.unique[0]
            else:
                statistics = schema.checks[int(number)].statistics
                columns[position] = statistics.get("left") or statistics["columns"][0]
        return pd.DataFrame({
            "row_number": typed.loc[cases["index"].astype(int), "_row_number"].to_numpy(),
            "column": columns.to_numpy(),
            "check": checks.replace({"multiple_fields_uniqueness": "unique"}).to_numpy(),
            "value": cases["failure_case"].astype(str).to_numpy(),
        })
    return pd.DataFrame(columns=["row_number", "column", "check", "value"])


def register_failures(source: Source, typed: pd.DataFrame, registers: dict[str, pd.DataFrame]) -> list[pd.DataFrame]:
    """The cross-source rules: known projects and indicators, dates within the project, rates with parts."""
    failures = []

    def failed(mask: pd.Series, column: str, check: str) -> None:
        failures.append(pd.DataFrame({"row_number": typed.loc[mask, "_row_number"], "column": column, "check": check,
                                      "value": typed.loc[mask, column].astype(str)}))

    projects, catalog = registers["projects"], registers["catalog"]
    for reference in source.references:
        values = typed[reference.column]
        if reference.table == "stg_projects":
            known = projects["project_code"]
        elif reference.where:
            known = catalog.loc[catalog["reported_by_grantees"], "code"]
        else:
            known = catalog["code"]
        failed(values.notna() & ~values.isin(known), reference.column, "reference")
    if source.within_project_dates:
        first, last = source.within_project_dates[0], source.within_project_dates[-1]
        dates = typed[list(dict.fromkeys(["project_code", first, last]))].merge(projects[["project_code", "start_date", "end_date"]],
                                                          on="project_code", how="left").set_index(typed.index)
        failed((dates[last] < dates["start_date"]) | (dates[first] > dates["end_date"]), first, "within_project_dates")
    if source.rates_need_parts:
        percent = catalog.loc[catalog["unit"] == "percent", "code"]
        failed(typed["indicator_code"].isin(percent) & (typed["numerator"].isna() | typed["denominator"].isna()),
               "numerator", "rate_parts")
    return failures


def linking_identifiers(source: Source) -> tuple[str, ...]:
    """The identifiers a person-level source links its records on (CURP, then email and phone), or none."""
    return source.linking.identifiers if source.linking else ()


def load_source(name: str, settings: Settings, registers: dict[str, pd.DataFrame],
                key: bytes) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read, parse, pseudonymise and validate every file of a source: (staged rows, rejections, audit rows)."""
    source = SOURCES[name]
    schema = source.schema(settings.as_of)
    staged, rejected, audit = [], [], []
    for path in sorted(p for p in (settings.raw_dir / name).iterdir() if not p.name.startswith((".", "~$"))):
        relative = f"{name}/{path.name}"
        typed, failures = parse(read_table(path, source, schema), schema)
        if source.pseudonym:
            typed[source.pseudonym[0]] = pseudonyms(typed, source.pseudonym[1], key)
        failures.append(schema_failures(schema, typed))
        failures.extend(register_failures(source, typed, registers))
        found = pd.concat(failures, ignore_index=True).assign(source=name, file=relative)
        bad_rows = typed["_row_number"].isin(found["row_number"])
        kept = typed.loc[~bad_rows].drop(columns=[column for column, spec in schema.columns.items()
                                                  if spec.metadata["kind"] == "identifier"])
        for identifier in linking_identifiers(source):
            kept[f"{identifier}_id"] = pseudonyms(typed.loc[~bad_rows], (identifier,), key)
        staged.append(kept.assign(_source_file=relative))
        rejected.append(found)
        audit.append({"source": name, "file": relative, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                      "status": "loaded", "rows_read": len(typed), "rows_loaded": len(kept),
                      "rows_rejected": int(bad_rows.sum())})
    frame = pd.concat(staged, ignore_index=True) if staged else pd.DataFrame()
    if linking_identifiers(source) and len(frame):
        frame[source.pseudonym[0]] = linked_person_keys(frame)
        frame = frame.drop(columns=[f"{identifier}_id" for identifier in linking_identifiers(source)])
    columns = [column for column in frame.columns if column not in ("_source_file", "_row_number")]
    return frame[[*columns, "_source_file", "_row_number"]], pd.concat(rejected, ignore_index=True), pd.DataFrame(audit)


# ----------------------------------------------------------------------------------------------
# Person-level indicators as groupbys
# ----------------------------------------------------------------------------------------------

def semester_start(dates: pd.Series) -> pd.Series:
    """January 1 or July 1 of each date's year."""
    return pd.to_datetime(pd.DataFrame({"year": dates.dt.year, "month": np.where(dates.dt.month <= 6, 1, 7), "day": 1}))


def semester_end(starts: pd.Series) -> pd.Series:
    """June 30 or December 31."""
    return starts + pd.DateOffset(months=6) - pd.Timedelta(days=1)


def result_rows(frame: pd.DataFrame, disaggregation: str, value_column: str | None) -> pd.DataFrame:
    """Grouped figures in the shape indicator SQL returns."""
    out = frame.rename(columns={value_column: "disaggregation_value"}) if value_column else \
        frame.assign(disaggregation_value="total")
    return out.assign(disaggregation=disaggregation)


def knowledge_gain(participants: pd.DataFrame, projects: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """AWR-02: tested attendances with a post-test of 70 or more and a gain of 15 points or more."""
    tested = participants[participants["pre_score"].notna() & participants["post_score"].notna()].copy()
    tested["period_start"] = semester_start(tested["event_date"])
    tested["period_end"] = semester_end(tested["period_start"])
    tested["gain"] = ((tested["post_score"] >= 70) & (tested["post_score"] - tested["pre_score"] >= 15)).astype(int)
    keys = ["project_code", "period_start", "period_end"]
    parts = []
    for disaggregation in (None, "sex", "state", "participant_type"):
        grouped = tested.groupby(keys + ([disaggregation] if disaggregation else []), observed=True)["gain"]
        figures = grouped.agg(numerator="sum", denominator="count").reset_index()
        parts.append(result_rows(figures, disaggregation or "total", disaggregation))
    return pd.concat(parts, ignore_index=True).assign(value=np.nan)


def people_reached(participants: pd.DataFrame, projects: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """AWR-03: unique people reached to date per semester, in total, by latest sex and by channel."""
    contacts = participants.loc[participants["person_id"].notna(),
                                ["project_code", "person_id", "event_date", "channel", "sex"]].copy()
    contacts["semester"] = semester_start(contacts["event_date"])
    ends = projects.groupby("project_code")["end_date"].max()
    spans = contacts.groupby("project_code")["event_date"].agg(["min", "max"])
    last = pd.concat([spans["max"], ends.reindex(spans.index)], axis=1).max(axis=1).clip(upper=pd.Timestamp(as_of))
    semesters = [(project, start) for project, first, final in zip(spans.index, semester_start(spans["min"]), semester_start(last))
                 for start in pd.date_range(first, final, freq="6MS")]
    scopes = pd.DataFrame(semesters, columns=["project_code", "period_start"])
    scopes = pd.concat([scopes, scopes[["period_start"]].drop_duplicates().assign(project_code="PORTFOLIO")])
    everywhere = pd.concat([contacts, contacts.assign(project_code="PORTFOLIO")], ignore_index=True)
    # Each person's sex on their latest record of each semester (earliest sex on a tie), then the semester
    # they are next seen in, when that sex may change.
    latest = (everywhere.sort_values(["event_date", "sex"], ascending=[False, True])
              .drop_duplicates(["project_code", "person_id", "semester"])
              .sort_values(["project_code", "person_id", "semester"]))
    latest["next_semester"] = latest.groupby(["project_code", "person_id"])["semester"].shift(-1)
    sex_changes = pd.concat([
        latest[["project_code", "semester", "sex"]].assign(change=1),
        latest.loc[latest["next_semester"].notna(), ["project_code", "next_semester", "sex"]]
        .rename(columns={"next_semester": "semester"}).assign(change=-1)])
    firsts = everywhere.groupby(["project_code", "person_id", "channel"], observed=True)["semester"].min().reset_index()
    channel_changes = firsts.assign(change=1)

    def counted_to_date(changes: pd.DataFrame, column: str) -> pd.DataFrame:
        # Each scope's semester counts every change up to its start.
        deltas = changes.groupby(["project_code", "semester", column], observed=True)["change"].sum().reset_index()
        joined = scopes.merge(deltas, on="project_code")
        joined = joined[joined["semester"] <= joined["period_start"]]
        return joined.groupby(["project_code", "period_start", column], observed=True)["change"].sum().reset_index()

    by_sex = counted_to_date(sex_changes, "sex")
    by_sex = by_sex[by_sex["change"] > 0]
    by_channel = counted_to_date(channel_changes, "channel")
    total = by_sex.groupby(["project_code", "period_start"])["change"].sum().reset_index()
    rows = pd.concat([result_rows(total, "total", None), result_rows(by_sex, "sex", "sex"),
                      result_rows(by_channel, "channel", "channel")], ignore_index=True)
    rows["period_end"] = semester_end(rows["period_start"])
    return rows.rename(columns={"change": "value"}).assign(numerator=np.nan, denominator=np.nan)


# The indicators that read person-level rows, each computed from (participants, projects, as-of date).
PERSON_LEVEL_INDICATORS = {"AWR-02": knowledge_gain, "AWR-03": people_reached}


# ----------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------

def stage_all(settings: Settings, sheets: list[IndicatorSheet], timings: dict[str, float]):
    """Every source staged in load order: staged frames by source, all rejections, the audit."""
    catalog = pd.DataFrame([{"code": sheet.code, "unit": sheet.unit, "reported_by_grantees": sheet.reported_by_grantees}
                            for sheet in sheets])
    registers = {"catalog": catalog, "projects": pd.DataFrame(columns=["project_code", "start_date", "end_date"])}
    key = settings.pseudonym_key.encode()
    staged, rejected, audit = {}, [], []
    for name in LOAD_ORDER:
        started = time.perf_counter()
        staged[name], failures, files = load_source(name, settings, registers, key)
        rejected.append(failures)
        audit.append(files)
        if name == "projects":
            registers["projects"] = staged[name]
        timings[f"stage {name}"] = time.perf_counter() - started
    return staged, pd.concat(rejected, ignore_index=True), pd.concat(audit, ignore_index=True)


def publish(settings: Settings, out_dir: Path, sheets: list[IndicatorSheet], staged: dict[str, pd.DataFrame],
            rejected: pd.DataFrame, audit: pd.DataFrame, timings: dict[str, float]) -> None:
    """Indicators, roll-ups and marts, written to a DuckDB file and Parquet under `out_dir/marts`."""
    started = time.perf_counter()
    connection = duckdb.connect()
    configure(connection, settings)
    for name, frame in staged.items():
        schema = SOURCES[name].schema(settings.as_of)
        connection.register(f"{name}_frame", frame)
        casts = ", ".join(f"CAST({column} AS {SQL_TYPES[spec.metadata['kind']]}) AS {column}"
                          for column, spec in schema.columns.items()
                          if spec.metadata["kind"] in SQL_TYPES and column in frame)
        replace = f" REPLACE ({casts})" if casts else ""
        connection.execute(f"CREATE VIEW stg_{name} AS SELECT *{replace} FROM {name}_frame")
    connection.register("rejected_frame", rejected.assign(severity="row")[
        ["source", "file", "row_number", "column", "check", "value"]])
    connection.execute("""CREATE TABLE rejected_rows AS SELECT source, file, CAST(row_number AS BIGINT) AS row_number,
                          "column", "check", left(value, 200) AS value, "check" AS message, 'row' AS severity
                          FROM rejected_frame""")
    connection.register("audit_frame", audit)
    connection.execute("CREATE TABLE load_audit AS SELECT *, 'pandas' AS contract_version, now()::TIMESTAMP AS loaded_at, "
                       "NULL::VARCHAR AS notes FROM audit_frame")
    write_catalog(connection, sheets)
    connection.execute(shared_views_sql(settings.indicators_dir))
    connection.execute(RESULTS_TABLE_SQL)
    timings["load frames into DuckDB"] = time.perf_counter() - started
    for sheet in sheets:
        started = time.perf_counter()
        compute = PERSON_LEVEL_INDICATORS.get(sheet.code) if "participants" in sheet.data_sources else None
        if compute:
            rows = compute(staged["participants"], staged["projects"], settings.as_of)
            connection.register("person_level_rows", rows[list(RESULT_COLUMNS)])
            sql = "SELECT * FROM person_level_rows"
        else:
            sql = sheet.sql
        parameters = {} if compute else sheet_sql_parameters(sheet, settings)
        connection.execute(
            f"INSERT INTO indicator_results SELECT {ql(sheet.code)}, project_code, CAST(period_start AS DATE), "
            f"CAST(period_end AS DATE), disaggregation, disaggregation_value, numerator, denominator, value "
            f"FROM ({sql})", parameters)
        timings[f"indicator {sheet.code}" + (" (pandas)" if compute else " (SQL)")] = time.perf_counter() - started
    started = time.perf_counter()
    build_indicator_values(connection, sheets, settings.as_of)
    build_sentinel_signals(connection, settings.indicators_dir)
    marts_path = out_dir / "marts" / MARTS_FILE
    write_marts(connection, marts_path, settings.suppression_threshold)
    connection.close()
    export_parquet(marts_path, out_dir / "marts" / "parquet")
    timings["indicator_values, marts and Parquet"] = time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Run the pandas baseline on a raw folder and write its marts under --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", required=True, type=Path, help="the raw folder (one sub-folder per source)")
    parser.add_argument("--out", required=True, type=Path, help="folder for the marts (replaced)")
    args = parser.parse_args(argv)
    settings = Settings.from_env(raw_dir=args.raw)
    shutil.rmtree(args.out, ignore_errors=True)
    (args.out / "marts").mkdir(parents=True)
    sheets = load_registry(settings.indicators_dir, SOURCES)
    timings: dict[str, float] = {}
    staged, rejected, audit = stage_all(settings, sheets, timings)
    publish(settings, args.out, sheets, staged, rejected, audit, timings)
    print(f"pandas baseline: {sum(timings.values()):.1f} s")
    for step, seconds in timings.items():
        if seconds >= 0.5:
            print(f"  {step:<40} {seconds:8.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
