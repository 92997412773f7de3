"""What `mel run` prints when a refresh ends: per source, files, rows loaded and rows rejected, and files
left for the next run because they were still being written."""

from __future__ import annotations

from mel_pipeline.contract import LOAD_ORDER
from mel_pipeline.settings import Settings
from mel_pipeline.warehouse import open_warehouse


def source_summary(settings: Settings) -> list[tuple]:
    """(source, files, quarantined, still being written, rows loaded, rows rejected) for every source, in load order."""
    with open_warehouse(settings) as connection:
        rows = {row[0]: row[1:] for row in connection.execute(
            "SELECT source, count(*), count(*) FILTER (WHERE status = 'quarantined'), "
            "count(*) FILTER (WHERE status = 'still_being_written'), sum(rows_loaded), "
            "sum(rows_rejected) FROM load_audit GROUP BY source").fetchall()}
    return [(source, *rows.get(source, (0, 0, 0, 0, 0))) for source in LOAD_ORDER]


def print_run_summary(settings: Settings, result) -> None:
    """Print the per-source table, then any failed step with its error."""
    print(f"\n{'source':<18} {'files':>6} {'quarantined':>12} {'still writing':>14} {'rows loaded':>13} "
          f"{'rows rejected':>14}")
    summary = source_summary(settings)
    for source, files, quarantined, deferred, loaded, rejected in summary:
        print(f"{source:<18} {files:>6} {quarantined:>12} {deferred:>14} {loaded or 0:>13,} {rejected or 0:>14,}")
    if deferred_files := sum(deferred for _, _, _, deferred, _, _ in summary):
        print(f"\n{deferred_files} file(s) still being written were not staged; the next run stages them "
              "(load_audit: status 'still_being_written')")
    failures = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    for event in failures:
        error = event.step_failure_data.error
        print(f"\nFAILED {event.step_key}: {error.message.strip() if error else 'unknown error'}")
    print(f"\nwarehouse: {settings.warehouse_path}")
    print(f"details: `make ui`, then open http://127.0.0.1:{settings.ui_port} ; rejected rows: table rejected_rows")
    print("run " + ("succeeded" if result.success else "FAILED"))
