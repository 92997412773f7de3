"""The benchmark's floor: the pipeline's work as one hand-written DuckDB script, without the framework.

`benchmarks/floor.sql` validates, pseudonymises and stages every source, file by file as the
contract requires (row numbers, keys and counts per file), in a handful of set-based statements.
This module only feeds it what SQL cannot get by itself, then times each of its steps:

- the file lists, with their SHA-256 (for `load_audit`), as one relation per source: CSV files are
  scanned by the script's own `csv_rows`; the few Excel and IATI XML files are read to text cells by
  the pipeline's readers, since DuckDB has no built-in reader for either format;
- the controlled vocabularies of `mel_pipeline.reference.codes` (spelling -> code) as a table, and the
  indicator catalogue written from the reference sheets;
- the as-of date and the pseudonym key's HMAC pads.

After staging it runs the indicator SQL files as they are (plain SQL), then the engine's roll-up
statement and the mart statements, and writes the marts to a DuckDB file and Parquet like the pipeline.
It does not run the Great Expectations suites, nor build the officers' report or the Excel
workbook, and it does not handle what generated data never contains (unreadable files, rows with
the wrong number of cells, blank rows). Memory and thread limits are the pipeline's
(MEL_DUCKDB_MEMORY_LIMIT, MEL_DUCKDB_THREADS).

Usage: python benchmarks/floor.py --raw DIR --out DIR [--timings FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
from person_keys import linked_person_keys

from mel_pipeline.indicators.engine import (
    RESULTS_TABLE_SQL,
    build_indicator_values,
    build_sentinel_signals,
    sheet_sql_parameters,
)
from mel_pipeline.marts.publish import MARTS_FILE, export_parquet, write_marts
from mel_pipeline.raw.files import discover
from mel_pipeline.raw.iati import read_iati
from mel_pipeline.raw.tabular import read_xlsx
from mel_pipeline.reference import codes
from mel_pipeline.reference.catalogue import load_registry, shared_views_sql, write_catalog
from mel_pipeline.settings import Settings
from mel_pipeline.staging.contract import LOAD_ORDER, SOURCES
from mel_pipeline.staging.validation import hmac_pads
from mel_pipeline.warehouse import configure
from mel_pipeline.warehouse import quote_literal as ql

SCRIPT = Path(__file__).with_name("floor.sql")
SECTION = re.compile(r"^-- step: (\S+)\s*$", re.MULTILINE)
MARKER = re.compile(r"\{\{(\w+)\}\}")

# The vocabulary each coded column is normalised against, as named in floor.sql.
VOCABULARIES = {
    "sex": {code: spellings for code, spellings in codes.SEX.items() if code != "total"},
    "sex_or_total": codes.SEX,
    "state": codes.STATES,
    "state_or_total": codes.STATE_OR_TOTAL,
    "employer_size": codes.EMPLOYER_SIZES,
    "supply_chain_tier": codes.SUPPLY_CHAIN_TIERS,
    "participant_type": {code: spellings for code, spellings in codes.PARTICIPANT_TYPES.items() if code != "total"},
    "participant_type_or_total": codes.PARTICIPANT_TYPES,
    "channel": codes.CHANNELS,
    "theme": codes.THEMES,
    "actor_type": codes.ACTOR_TYPES,
    "significance": codes.SIGNIFICANCE,
    "contribution": codes.CONTRIBUTION,
    "polarity": codes.POLARITY,
    "intention": codes.INTENTION,
    "substantiation": codes.SUBSTANTIATION,
    "msc_storyteller_type": codes.MSC_STORYTELLER_TYPES,
    "msc_selection_level": codes.MSC_SELECTION_LEVELS,
    "stakeholder_group": codes.STAKEHOLDER_GROUPS,
    "cla_entry_type": codes.CLA_ENTRY_TYPES,
    "cla_status": codes.CLA_STATUSES,
    "evidence_type": codes.EVIDENCE_TYPES,
    "step_kind": codes.STEP_KINDS,
    "iati_result_type": {"1": ["output"], "2": ["outcome"], "3": ["impact"], "9": ["other"]},
    "iati_measure": {"1": ["unit"], "2": ["percentage"], "3": ["nominal"], "4": ["ordinal"], "5": ["qualitative"]},
    "iati_element": codes.IATI_ROW_TYPES,
}


def sections(script: str) -> list[tuple[str, str]]:
    """(name, body) of every `-- step:` section of the script, in order."""
    parts = SECTION.split(script)
    return [(parts[index], parts[index + 1]) for index in range(1, len(parts), 2)]


def vocabulary_table() -> pa.Table:
    """Every accepted spelling of every vocabulary, normalised as the script's `norm` does."""
    rows = [(domain, spelling, code) for domain, vocabulary in VOCABULARIES.items()
            for spelling, code in codes.spelling_map(vocabulary).items()]
    return pa.table({name: [row[index] for row in rows] for index, name in enumerate(("domain", "spelling", "code"))})


def register_files(connection: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, str]:
    """Register `raw_files` and the non-CSV files' text; return each source's relation for the script."""
    listed = []
    relations = {}
    for name in LOAD_ORDER:
        source = SOURCES[name]
        schema = source.schema(settings.as_of)
        parts = [f"SELECT * FROM {name}_columns"]
        for index, raw in enumerate(discover(settings.raw_dir / name, settings.raw_dir, source.formats)):
            listed.append((name, raw.relative_path, raw.sha256))
            if raw.format == "csv":
                parts.append(f"SELECT * FROM csv_rows({ql(str(raw.path.resolve()))}, {ql(raw.relative_path)})")
                continue
            if raw.format == "xlsx":
                workbook = read_xlsx(raw, schema)
                [header] = [sheet.header for sheet in workbook.sheets]  # the benchmark's workbooks have one sheet
                table = workbook.table.select(["_row_number", *(f"c{position}" for position in header.positions.values())])
                table = table.rename_columns(["_row_number", *header.positions])
            else:
                table = read_iati(raw.path, raw.relative_path)
            table = table.append_column("_source_file", pa.array([raw.relative_path] * table.num_rows, pa.string()))
            view = f"{name}_file_{index}"
            connection.register(view, table)
            parts.append(f"SELECT * FROM {view}")
        relations[name] = "(" + " UNION ALL BY NAME ".join(parts) + ")"
    connection.register("raw_file_list", pa.table({
        "source": [row[0] for row in listed], "file": [row[1] for row in listed], "sha256": [row[2] for row in listed]}))
    connection.execute("CREATE TABLE raw_files AS SELECT * FROM raw_file_list")
    return relations


def run(settings: Settings, out_dir: Path) -> dict[str, float]:
    """Rebuild the warehouse and marts under `out_dir` from `settings.raw_dir`; seconds per step."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    shutil.rmtree(out_dir, ignore_errors=True)
    (out_dir / "marts").mkdir(parents=True)
    connection = duckdb.connect(str(out_dir / "warehouse.duckdb"))
    configure(connection, settings)
    connection.register("vocabulary_rows", vocabulary_table())
    connection.execute("CREATE TABLE vocabulary AS SELECT * FROM vocabulary_rows")
    sheets = load_registry(settings.indicators_dir, SOURCES)
    write_catalog(connection, sheets)
    relations = register_files(connection, settings)
    inner, outer = hmac_pads(settings.pseudonym_key)
    values = {"as_of": settings.as_of.isoformat(), "hmac_inner": inner.hex(), "hmac_outer": outer.hex(), **relations}
    timings["read files, hashes and vocabularies"] = time.perf_counter() - started

    for name, body in sections(SCRIPT.read_text(encoding="utf-8")):
        started = time.perf_counter()
        connection.execute(MARKER.sub(lambda match: values[match.group(1)], body))
        timings[f"stage {name}" if name in SOURCES else name] = time.perf_counter() - started

    started = time.perf_counter()
    link_people(connection)
    timings["link people"] = time.perf_counter() - started

    started = time.perf_counter()
    connection.execute(shared_views_sql(settings.indicators_dir))
    connection.execute(RESULTS_TABLE_SQL)
    for sheet in sheets:
        parameters = sheet_sql_parameters(sheet, settings)
        connection.execute(
            f"INSERT INTO indicator_results SELECT {ql(sheet.code)}, project_code, period_start, period_end, "
            f"disaggregation, disaggregation_value, numerator, denominator, value FROM ({sheet.sql})", parameters)
        timings[f"indicator {sheet.code}"] = time.perf_counter() - started
        started = time.perf_counter()

    build_indicator_values(connection, sheets, settings.as_of)
    build_sentinel_signals(connection, settings.indicators_dir)
    timings["indicator_values and sentinel_signals"] = time.perf_counter() - started
    started = time.perf_counter()
    marts_path = out_dir / "marts" / MARTS_FILE
    write_marts(connection, marts_path, settings.suppression_threshold)
    connection.close()
    export_parquet(marts_path, out_dir / "marts" / "parquet")
    timings["marts and Parquet"] = time.perf_counter() - started
    return timings


def link_people(connection: duckdb.DuckDBPyConnection) -> None:
    """Give every staged participant their linked person key, and drop the per-identifier pseudonyms."""
    records = connection.execute(
        "SELECT _source_file, _row_number, person_id, curp_id, email_id, phone_id FROM stg_participants").df()
    records["person_id"] = linked_person_keys(records)
    connection.register("linked_keys", records[["_source_file", "_row_number", "person_id"]])
    connection.execute("""CREATE OR REPLACE TABLE stg_participants AS
                          SELECT s.* EXCLUDE (person_id, curp_id, email_id, phone_id), k.person_id
                          FROM stg_participants s JOIN linked_keys k USING (_source_file, _row_number)""")
    connection.unregister("linked_keys")


def main(argv: list[str] | None = None) -> int:
    """Run the floor on a raw folder; print the total and optionally write per-step seconds as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", required=True, type=Path, help="the raw folder (one sub-folder per source)")
    parser.add_argument("--out", required=True, type=Path, help="folder for the warehouse and marts (replaced)")
    parser.add_argument("--timings", type=Path, help="write seconds per step to this JSON file")
    args = parser.parse_args(argv)
    settings = Settings.from_env(raw_dir=args.raw)
    timings = run(settings, args.out)
    if args.timings:
        args.timings.write_text(json.dumps(timings, indent=1), encoding="utf-8")
    print(f"floor: {sum(timings.values()):.1f} s in {len(timings)} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
