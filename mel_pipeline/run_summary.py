"""What `mel run` prints when a refresh ends: per source, files, rows loaded and rows rejected."""

from __future__ import annotations

from mel_pipeline.contract import LOAD_ORDER
from mel_pipeline.settings import Settings
from mel_pipeline.warehouse import open_warehouse


def source_summary(settings: Settings) -> list[tuple]:
    """(source, files, quarantined, rows loaded, rows rejected) for every source, in load order."""
    with open_warehouse(settings) as connection:
        rows = {row[0]: row[1:] for row in connection.execute(
            "SELECT source, count(*), count(*) FILTER (WHERE status = 'quarantined'), sum(rows_loaded), "
            "sum(rows_rejected) FROM load_audit GROUP BY source").fetchall()}
    return [(source, *rows.get(source, (0, 0, 0, 0))) for source in LOAD_ORDER]


def print_run_summary(settings: Settings, result) -> None:
    """Print the per-source table, then any failed step with its error."""
    print(f"\n{'source':<18} {'files':>6} {'quarantined':>12} {'rows loaded':>13} {'rows rejected':>14}")
    for source, files, quarantined, loaded, rejected in source_summary(settings):
        print(f"{source:<18} {files:>6} {quarantined:>12} {loaded or 0:>13,} {rejected or 0:>14,}")
    failures = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    for event in failures:
        error = event.step_failure_data.error
        print(f"\nFAILED {event.step_key}: {error.message.strip() if error else 'unknown error'}")
    print(f"\nwarehouse: {settings.warehouse_path}")
    print(f"details: `make ui`, then open http://127.0.0.1:{settings.ui_port} ; rejected rows: table rejected_rows")
    print("run " + ("succeeded" if result.success else "FAILED"))
