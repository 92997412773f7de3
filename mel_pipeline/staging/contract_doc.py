"""Render the data contract (docs/data-contract.md) from the pandera schemas in `contract`.

The document is generated so it cannot drift from what the validator enforces; a test fails
when the committed file differs from a fresh rendering.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from mel_pipeline.staging.contract import PATTERN_HINTS, SOURCES, Source
from mel_pipeline.staging.validation import KIND_NAMES, MISSING_MARKERS, staged_columns

# The document shows date bounds that depend on the run's as-of date symbolically.
DOCUMENT_AS_OF = dt.date(2200, 1, 1)

PREAMBLE = f"""# Data contract

Generated from `mel_pipeline/staging/contract.py` by `mel contract` (or `make contract`); do not edit by hand.

Each source has a folder under `data/raw/`. Every file in it is read on every refresh (files whose
content has not changed since their last load are skipped). For every file the pipeline records one row
in `load_audit` (rows read = rows loaded + rows rejected), stages valid rows in `stg_<source>`, and writes
every problem to `rejected_rows` with the file, the row, the column, the check and a message.

## Rules for every source
- **Row numbers** are those a spreadsheet shows: the header is row 1, the first data row is row 2. In an
  Excel workbook they are the sheet's own row numbers (title rows above the header are skipped). Every
  visible sheet whose header has the source's required columns is read; other sheets are named in
  `load_audit.notes`, and with several sheets read a message names its sheet.
- **Headers** are matched ignoring case, accents, spaces, `_` and `-`, in English or Spanish (the aliases
  below). Unknown columns are ignored and noted in `load_audit.notes`. A column marked *optional column* may be
  left out of the file altogether.
- **Empty cells**: blank, {", ".join(f"`{m}`" for m in MISSING_MARKERS if m)} count as empty.
- **Numbers**: `1234.5`, with thousands grouped by commas (`1,234.5`) or by dots with a decimal comma
  (`1.234,5`, `12,5`); no currency or percent signs. A number with one separator followed by exactly three
  digits (`1.927`, `50,000`) could be read either way: it is read only where one reading is impossible (a
  count takes no fraction, so `1.927` people are 1927; a percentage is at most 100, so `50,000` % is 50), or
  where the column says how its numbers are written; otherwise it is rejected as `ambiguous_number`, naming
  both readings. **Dates**: `YYYY-MM-DD` or `DD/MM/YYYY` (day first, as Mexican files write dates; a date
  that contradicts its period names the order it was read in). **Yes/no**: yes/no, sí/no, true/false, 1/0.
- **Codes** are matched ignoring case and accents, in English or Spanish (e.g. `Mujer` = `female`,
  `CDMX` = `Ciudad de México`, INEGI state codes `01`-`32`).
- **Dates in the future** (after the run's as-of date, `MEL_AS_OF`, default today) are rejected where noted.
- **Whole-file errors** quarantine the file (one `file_unreadable` error, nothing staged from it, the other
  files load): an empty file, text in none of UTF-8, UTF-16 and Windows-1252 (which are read, and the
  encoding noted), binary content, a spreadsheet renamed `.csv`, a workbook with no sheet holding the
  required columns, unparseable XML. A CSV row with more or fewer cells than the header is rejected as
  `malformed_row`, the rest of the file loads.
- **Messages** show the value found, except identifiers (masked as `***`) and, in files about people,
  anything shaped like an email, phone or CURP, or several words that could be a name.
- **Direct identifiers** (names, CURP, phone numbers, emails) are checked, replaced at ingest by a keyed
  pseudonym (HMAC-SHA256 with `MEL_PSEUDONYM_KEY`) and never stored; their values are masked as `***`
  in `rejected_rows`.
"""


def _checks_text(column) -> str:
    parts = []
    for check in column.checks:
        stats = check.statistics
        if check.name == "isin":
            continue
        if check.name == "str_matches":
            parts.append(PATTERN_HINTS.get(stats["pattern"], f"matches `{stats['pattern']}`"))
        elif check.name == "str_length":
            parts.append(f"{stats['min_value']} to {stats['max_value']} characters")
        elif check.name == "in_range":
            parts.append(f"{stats['min_value']} to {stats['max_value']}")
        elif check.name == "whole_number":
            parts.append("a whole number")
        else:
            bound = next(iter(stats.values()))
            shown = "the as-of date" if isinstance(bound, pd.Timestamp) and bound.year >= DOCUMENT_AS_OF.year else (
                bound.date().isoformat() if isinstance(bound, pd.Timestamp) else bound)
            symbol = {"greater_than_or_equal_to": ">=", "less_than_or_equal_to": "<=",
                      "greater_than": ">", "less_than": "<"}[check.name]
            parts.append(f"{symbol} {shown}")
    vocabulary = (column.metadata or {}).get("vocabulary")
    if vocabulary:
        parts.insert(0, "one of: " + ", ".join(f"`{code}`" for code in vocabulary))
    return "; ".join(parts)


def render_source(source: Source) -> str:
    """One source's section: folder, formats, key, rules and a table of columns."""
    schema = source.schema(DOCUMENT_AS_OF)
    lines = [f"## {source.name}", "", source.description, "",
             f"- Folder: `data/raw/{source.name}/`; formats: {', '.join(source.formats)}",
             f"- Staged as `stg_{source.name}`: " + ", ".join(f"`{name}`" for name, _ in staged_columns(source, schema))]
    if schema.unique:
        lines.append(f"- Key (unique within a file): {', '.join(schema.unique)}")
    for check in schema.checks:
        stats = check.statistics
        if check.name == "column_compare":
            lines.append(f"- Rule: {stats['left']} {stats['operator']} {stats['right']} (when both are given)")
        elif check.name == "any_present":
            lines.append(f"- Rule: at least one of {', '.join(stats['columns'])}")
    for reference in source.references:
        lines.append(f"- Rule: `{reference.column}` must be in the {reference.register} "
                     f"(`{reference.table}.{reference.key}`)")
    if source.rates_need_parts:
        lines.append("- Rule: a row of a percent indicator must give numerator and denominator, and a value of at "
                     "most 100; a count indicator's value is a whole number")
    if source.within_project_dates:
        lines.append(f"- Rule: {' to '.join(source.within_project_dates)} must overlap the project's dates")
    if source.pseudonym:
        output, identifiers = source.pseudonym
        lines.append(f"- Pseudonym: `{output}` = keyed hash of the first of {', '.join(identifiers)} that is given "
                     f"(HMAC-SHA256, its first 32 hex digits)")
    lines += ["", "| column | type | value required | optional column | Spanish / other names | allowed values | description |",
              "|---|---|---|---|---|---|---|"]
    for name, column in schema.columns.items():
        meta = column.metadata or {}
        kind = meta["kind"] + (" (pseudonymised)" if meta["kind"] == "identifier" else "")
        aliases = ", ".join(f"`{alias}`" for alias in meta.get("aliases", []))
        default = f" Blank means `{meta['default']}`." if meta.get("default") else ""
        lines.append(f"| `{name}` | {kind} | {'no' if column.nullable else 'yes'} | "
                     f"{'yes' if meta.get('optional_column') else 'no'} | {aliases} | {_checks_text(column)} | "
                     f"{(column.description or '') + default} |")
    return "\n".join(lines)


def render_contract() -> str:
    """The whole contract document."""
    kinds = "\n".join(f"- `{kind}`: {text}" for kind, text in KIND_NAMES.items())
    sections = "\n\n".join(render_source(source) for source in SOURCES.values())
    return f"{PREAMBLE}\n## Value types\n{kinds}\n- `text`, `code`: text; codes are normalised as above\n\n{sections}\n"
