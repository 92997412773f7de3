"""Small read-outs of the warehouse for people: counts, previews and samples as Markdown.

Used for Dagster metadata and for the command line; nothing here writes.
"""

from __future__ import annotations

import duckdb

from mel_pipeline.warehouse import quote_identifier as qi

PREVIEW_ROWS = 5


def markdown_table(columns: list[str], rows: list[tuple], shorten: bool = True) -> str:
    """A GitHub-flavoured Markdown table; pipes escaped, and cells shortened to 80 characters unless
    `shorten` is false (for messages whose end says how to fix the row)."""
    def cell(value) -> str:
        text = "" if value is None else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= 80 or not shorten else text[:77] + "..."

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def query_markdown(connection: duckdb.DuckDBPyConnection, sql: str, parameters: list | None = None) -> str:
    """The result of a query as a Markdown table."""
    result = connection.execute(sql, parameters or [])
    return markdown_table([column[0] for column in result.description], result.fetchall())


def table_preview(connection: duckdb.DuckDBPyConnection, table: str, limit: int = PREVIEW_ROWS,
                  leave_out: tuple[str, ...] = ()) -> str:
    """The first rows of a table as Markdown, provenance columns and those in `leave_out` left out."""
    columns = [name for (name,) in connection.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table]).fetchall() if not name.startswith("_") and name not in leave_out]
    return query_markdown(connection, f"SELECT {', '.join(qi(c) for c in columns)} FROM {qi(table)} LIMIT {int(limit)}")
