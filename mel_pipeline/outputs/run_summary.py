"""What a refresh left in the warehouse, for people: per source, the files and rows loaded, rejected and set
aside, and why rows were rejected, in plain words.

`mel run` prints it when a refresh ends, and the Dagster UI shows the same figures: the `run_summary` asset
(group `operations`) and each staging asset's checks are built from the functions here, so the command line
and the UI cannot tell two stories.

Everything is read from `load_audit` and `rejected_rows` without assuming which statuses or row counts they
hold: a file status other than `loaded` (quarantined, or any other a loader records) is listed by name with
its files, and every `rows_*` column of `load_audit` is a figure. Messages are shown whole, since their end
says how to fix the row, with anything shaped like a direct identifier masked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import duckdb

from mel_pipeline.marts.build import masked_identifiers_sql
from mel_pipeline.settings import Settings
from mel_pipeline.staging.contract import LOAD_ORDER
from mel_pipeline.summaries import markdown_table
from mel_pipeline.warehouse import open_warehouse
from mel_pipeline.warehouse import quote_identifier as qi

LOADED = "loaded"
ROWS_READ = "rows_read"
QUARANTINED = "quarantined"
# The evidence of a check lists this many distinct messages; rejected_rows holds every one.
MAX_DISTINCT_MESSAGES = 50

# The `check` codes of rejected_rows in plain words: the validator's pandera checks and row rules
# (validation.py), its key, reference, rate and project-date rules, and ingest's whole-file and record errors.
CHECK_TITLES = {
    "not_nullable": "required value missing",
    "dtype": "value of the wrong type",
    "ambiguous_number": "number whose separator could mean thousands or decimals",
    "whole_number": "count with a fraction",
    "isin": "value not in the allowed list",
    "greater_than_or_equal_to": "value below the minimum, or date too early",
    "greater_than": "value not above the minimum",
    "less_than_or_equal_to": "value above the maximum, or date in the future",
    "less_than": "value not below the maximum",
    "in_range": "value outside the allowed range",
    "str_matches": "value not in the expected format",
    "str_length": "text too short or too long",
    "column_compare": "two values in the wrong order (e.g. a start after its end)",
    "any_present": "none of the alternative values given",
    "unique": "the same record twice in a file",
    "resubmission": "a record sent again in another file with other values, neither dated later",
    "reference": "code not found in its register",
    "rate_parts": "percentage without its numerator and denominator",
    "count_is_whole": "count indicator with a fraction",
    "percent_in_range": "percentage above 100",
    "within_project_dates": "dates outside the project's dates",
    "malformed_row": "line that does not split into the file's columns",
    "file_unreadable": "file that could not be read (quarantined)",
}


def counted(number: int, thing: str) -> str:
    """`1 row`, `2 rows`, `1,200 rows`."""
    return f"{number:,} {thing}" + ("" if number == 1 else "s")


def check_title(code: str) -> str:
    """A check's plain title with its code beside it, e.g. `value not in the allowed list (isin)`."""
    return f"{CHECK_TITLES[code]} ({code})" if code in CHECK_TITLES else code


def status_title(status: str) -> str:
    """A load_audit status as a column heading: `still_being_written` -> `files still being written`."""
    return f"files {status.replace('_', ' ')}"


def row_figures(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """load_audit's row counts, `rows_read` first: the rows read and where each went (loaded, rejected, ...)."""
    names = [name for (name,) in connection.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'load_audit' "
        "AND column_name LIKE 'rows\\_%' ESCAPE '\\' ORDER BY ordinal_position").fetchall()]
    return [ROWS_READ, *(name for name in names if name != ROWS_READ)]


@dataclass(frozen=True)
class SourceSummary:
    """One source as the warehouse holds it: its files, its row counts by figure (`rows_read`, `rows_loaded`,
    ...), and the files of every status other than `loaded`."""

    source: str
    files: int
    rows: dict[str, int]
    files_by_status: dict[str, list[str]]

    @property
    def rows_rejected(self) -> int:
        return self.rows.get("rows_rejected", 0)

    @property
    def files_left_out(self) -> int:
        return sum(len(files) for files in self.files_by_status.values())


def summarise_sources(connection: duckdb.DuckDBPyConnection, sources: list[str] = LOAD_ORDER) -> list[SourceSummary]:
    """The sources (every one by default) in order, from load_audit; a source without files shows zeros."""
    figures = row_figures(connection)
    audit = connection.execute(
        f"SELECT source, file, status, {', '.join(qi(name) for name in figures)} FROM load_audit "
        "ORDER BY source, file").fetchall()
    summaries = []
    for source in sources:
        rows = [row for row in audit if row[0] == source]
        by_status: dict[str, list[str]] = {}
        for _, file, status, *_counts in rows:
            if status != LOADED:
                by_status.setdefault(status, []).append(file)
        summaries.append(SourceSummary(
            source, len(rows), {name: sum(row[3 + index] or 0 for row in rows) for index, name in enumerate(figures)},
            by_status))
    return summaries


def source_summary(settings: Settings) -> list[SourceSummary]:
    """summarise_sources of the working warehouse."""
    with open_warehouse(settings) as connection:
        return summarise_sources(connection)


def summary_table(summaries: list[SourceSummary]) -> tuple[list[str], list[tuple]]:
    """(headings, one row per source): files, each row figure, and a count per status other than `loaded`."""
    figures = list(summaries[0].rows) if summaries else [ROWS_READ]
    statuses = sorted({status for summary in summaries for status in summary.files_by_status},
                      key=lambda status: (status != QUARANTINED, status))
    headings = ["source", "files", *(name.replace("_", " ") for name in figures), *map(status_title, statuses)]
    rows = [(summary.source, summary.files, *(summary.rows[name] for name in figures),
             *(len(summary.files_by_status.get(status, [])) for status in statuses)) for summary in summaries]
    return headings, rows


def files_not_loaded(summaries: list[SourceSummary]) -> list[tuple[str, str, str]]:
    """(source, status, file) of every file not loaded."""
    return [(summary.source, status, file) for summary in summaries
            for status, files in summary.files_by_status.items() for file in files]


def statuses_not_loaded(summaries: list[SourceSummary]) -> Counter:
    """How many files of each status other than `loaded`, over every source."""
    return Counter(status for _, status, _ in files_not_loaded(summaries))


def headline(summaries: list[SourceSummary]) -> str:
    """One sentence: the rows loaded and rejected, and the files not loaded by status."""
    loaded = sum(summary.rows.get("rows_loaded", 0) for summary in summaries)
    rejected = sum(summary.rows_rejected for summary in summaries)
    sources = sum(1 for summary in summaries if summary.rows_rejected)
    sentence = f"{counted(loaded, 'row')} loaded, {rejected:,} rejected" + (
        f" in {sources} sources" if sources > 1 else "")
    statuses = statuses_not_loaded(summaries)
    if statuses:
        sentence += "; " + ", ".join(f"{counted(count, 'file')} {status.replace('_', ' ')}"
                                     for status, count in sorted(statuses.items()))
    return sentence + "."


def summary_markdown(summaries: list[SourceSummary]) -> str:
    """The per-source table, then every file not loaded with its status, as Markdown."""
    text = markdown_table(*summary_table(summaries))
    left_out = files_not_loaded(summaries)
    if left_out:
        text += "\n\n" + markdown_table(["source", "status", "file"], left_out, shorten=False)
    return text


def summary_text(summaries: list[SourceSummary]) -> str:
    """The per-source table as aligned text for a terminal, then every file not loaded with its status."""
    headings, rows = summary_table(summaries)
    widths = [max(len(heading), *(len(f"{row[index]:,}") if isinstance(row[index], int) else len(row[index])
                                 for row in rows)) for index, heading in enumerate(headings)]

    def line(cells) -> str:
        return " ".join((f"{cell:,}".rjust(width) if isinstance(cell, int) else f"{cell:<{width}}")
                        for cell, width in zip(cells, widths))

    lines = [line(headings), *map(line, rows)]
    lines += [f"{status.replace('_', ' ')}: {file} ({source})" for source, status, file in files_not_loaded(summaries)]
    return "\n".join(lines)


# A source's rejections, each with the rows of its file when the whole file was refused.
REJECTIONS_SQL = """
    SELECT r.*, a.rows_rejected AS file_rows FROM rejected_rows r
    LEFT JOIN load_audit a ON a.source = r.source AND a.file = r.file WHERE r.source = ?"""
# Rows as `rows_rejected` counts them: each row once, and a refused file for the rows load_audit gives it.
ROWS_AND_FILES_SQL = """
    count(DISTINCT (file, row_number)) FILTER (WHERE row_number IS NOT NULL)
    + coalesce(sum(file_rows) FILTER (WHERE row_number IS NULL), 0) AS rows, count(DISTINCT file) AS files"""
FAILURES_BY_CHECK_SQL = f"""
    SELECT "check", coalesce("column", '(whole file)') AS "column", {ROWS_AND_FILES_SQL}
    FROM ({REJECTIONS_SQL}) GROUP BY "check", "column" ORDER BY rows DESC, files DESC, 1, 2"""
# Identifiers are masked in each distinct message rather than in every rejection, which may be millions.
MESSAGES_SQL = f"""
    SELECT "check", coalesce("column", '(whole file)') AS "column", {masked_identifiers_sql('message')},
           {ROWS_AND_FILES_SQL},
           arg_min(file || coalesce(', row ' || row_number, ''), (file, coalesce(row_number, 0))) AS first_seen
    FROM ({REJECTIONS_SQL}) GROUP BY "check", "column", message
    ORDER BY "check" <> 'file_unreadable', rows DESC, min((file, coalesce(row_number, 0))), 1, 3"""


def files_out_of_balance(connection: duckdb.DuckDBPyConnection, source: str) -> list[str]:
    """The files of a source whose rows read are not the sum of where their rows went (loaded, rejected, ...)."""
    figures = row_figures(connection)
    rows_placed = " + ".join(qi(name) for name in figures[1:]) or "0"
    return [file for (file,) in connection.execute(
        f"SELECT file FROM load_audit WHERE source = ? AND {qi(ROWS_READ)} <> {rows_placed} ORDER BY file",
        [source]).fetchall()]


def failures_by_check(connection: duckdb.DuckDBPyConnection, source: str) -> list[tuple]:
    """(check title, column, rows, files) per check and column that rejected something in a source, most rows
    first. Rows are rows of the files, as `rows_rejected` counts them: a row failing two checks counts once
    under each, and a quarantined file counts the rows load_audit gives it."""
    return [(check_title(check), column, rows, files)
            for check, column, rows, files in connection.execute(FAILURES_BY_CHECK_SQL, [source]).fetchall()]


def failures_by_check_markdown(connection: duckdb.DuckDBPyConnection, source: str) -> str:
    """failures_by_check as Markdown, with a last line of the rows rejected in all (each row once)."""
    rows = failures_by_check(connection, source)
    if not rows:
        return "none"
    total = connection.execute(
        "SELECT coalesce(sum(rows_rejected), 0) FROM load_audit WHERE source = ?", [source]).fetchone()[0]
    return (markdown_table(["what failed (check)", "column", "rows", "files"], rows, shorten=False)
            + f"\n\n{counted(total, 'row')} rejected in all; a row that failed several checks is counted under each.")


def rejection_messages(connection: duckdb.DuckDBPyConnection, source: str,
                       limit: int = MAX_DISTINCT_MESSAGES) -> tuple[list[tuple], int]:
    """(up to `limit` distinct messages of a source as (check title, column, message, rows, files, first file and
    row), whole-file errors first, then the most frequent; the number of distinct messages in all)."""
    rows = connection.execute(MESSAGES_SQL, [source]).fetchall()
    return [(check_title(check), *rest) for check, *rest in rows[:limit]], len(rows)


def rejection_messages_markdown(connection: duckdb.DuckDBPyConnection, source: str,
                                limit: int = MAX_DISTINCT_MESSAGES) -> str:
    """rejection_messages as Markdown, whole, with a line saying how many more are in rejected_rows."""
    shown, distinct = rejection_messages(connection, source, limit)
    if not shown:
        return "none"
    headings = ["what failed (check)", "column", "message (and how to fix it)", "rows", "files", "first seen in"]
    text = markdown_table(headings, shown, shorten=False)
    if distinct > len(shown):
        text += f"\n\n{distinct - len(shown):,} more distinct messages: see the table rejected_rows."
    return text


def files_not_loaded_markdown(connection: duckdb.DuckDBPyConnection, source: str) -> str:
    """Every file of a source whose status is not `loaded`, with its status and the note saying why."""
    rows = connection.execute(
        f"SELECT file, status, {masked_identifiers_sql('notes')} FROM load_audit "
        "WHERE source = ? AND status <> ? ORDER BY file", [source, LOADED]).fetchall()
    return markdown_table(["file", "status", "why"], rows, shorten=False) if rows else "none"


def print_run_summary(settings: Settings, result) -> None:
    """Print the per-source table, then any failed step with its error."""
    summaries = source_summary(settings)
    print("\n" + summary_text(summaries))
    print("\n" + headline(summaries))
    failures = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    for event in failures:
        error = event.step_failure_data.error
        print(f"\nFAILED {event.step_key}: {error.message.strip() if error else 'unknown error'}")
    print(f"\nwarehouse: {settings.warehouse_path}")
    print(f"details: `make ui`, then open http://127.0.0.1:{settings.ui_port} ; rejected rows: table rejected_rows")
    print("run " + ("succeeded" if result.success else "FAILED"))
