"""When the pipeline runs, and what happens when a run fails: the `full_refresh` job, the
`nightly_refresh` schedule, the `raw_files_sensor` and the `record_run_failure` sensor.

Only wiring belongs here; what a refresh does lives in the assets.

Where an officer sees a failed run: Dagster itself marks the assets of the failed step as failed
in the catalogue and the asset graph, and `record_run_failure` adds the failure to the
`run_failures` asset (group `operations`), a log kept in Dagster's own event store. Each failure is
one entry in that asset's history, dated when it was recorded, whose description reads as a
sentence (which job, when in Mexico City time, which step, the first line of the error) and whose
metadata links to the run and tabulates the last ten failed runs. So every failure, nightly, from
the sensor or launched from the UI, is in one place an officer can open without reading run logs.
(`mel run` executes in its own process, outside any code location, so no sensor sees its runs; it
prints its own failures.)
Nothing is written to files: the warehouse folder is for the pipeline only, and a log file there
is not somewhere anyone looks.

Every step that writes the warehouse runs in the pool `duckdb_warehouse` (see defs/staging.py),
which the instance's dagster.yaml limits to one step at a time, with one run at a time; so the
nightly run, a run the sensor starts and a run launched from the UI queue behind each other.
"""


import datetime as dt
import hashlib
import inspect
import json
from zoneinfo import ZoneInfo

import dagster as dg

from mel_pipeline.defs.staging import staging_key
from mel_pipeline.raw.files import HashCache, discover, write_whole
from mel_pipeline.settings import Settings
from mel_pipeline.staging.contract import SOURCES
from mel_pipeline.staging.ingest import recently_modified
from mel_pipeline.summaries import markdown_table

OFFICE_TIMEZONE = "America/Mexico_City"
RUN_FAILURES_KEY = dg.AssetKey("run_failures")
RECENT_FAILURES = 10

full_refresh = dg.define_asset_job(
    name="full_refresh",
    selection=dg.AssetSelection.all(),
    description="Refresh everything: stage every raw source (unchanged files are not read again), "
                "compute every indicator, run every check and publish the marts.",
)

nightly_refresh = dg.ScheduleDefinition(
    name="nightly_refresh",
    job=full_refresh,
    cron_schedule="0 2 * * *",
    execution_timezone=OFFICE_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    tags={"mel/trigger": "schedule"},
    description="Runs `full_refresh` every night at 02:00 Mexico City time, so the marts and the report "
                "reflect whatever grantees delivered during the day.",
)

run_failures = dg.AssetSpec(
    key=RUN_FAILURES_KEY,
    group_name="operations",
    kinds={"dagster"},
    description="The log of failed pipeline runs, kept by the `record_run_failure` sensor. Each entry in this "
                "asset's history is one failed run: which job, when (Mexico City time), which step failed and the "
                "first line of the error, with a link to the run and a table of the last ten failures. No entry "
                "since the last refresh means nothing has failed since.",
)


def raw_file_hashes(settings: Settings, previous: dict[str, str] | None = None) -> dict[str, str]:
    """Content hash of every file the staging assets would read, by path relative to the raw folder.

    Uses the readers' own discovery, so hidden files and Excel's `~$` lock files never start a run,
    and their hash cache, so a tick reads only files that may have changed. A file modified within
    the last `settings.settling_seconds` keeps its hash in `previous` (or is left out when new): staging would
    only defer it, so it becomes a change on the first tick after it has settled, and that tick's run
    stages it.
    """
    hashes = HashCache(settings.file_hashes_path)
    found = {}
    for source in SOURCES.values():
        for file in discover(settings.raw_dir / source.name, settings.raw_dir, source.formats, hashes):
            if not recently_modified(file.path, settings.settling_seconds):
                found[file.relative_path] = file.sha256
            elif previous and file.relative_path in previous:
                found[file.relative_path] = previous[file.relative_path]
    hashes.save()
    return found


def files_digest(files: dict[str, str]) -> str:
    """A short name for one set of files and their content hashes."""
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]


def remember_files(settings: Settings, files: dict[str, str]) -> str:
    """Keep the files the sensor saw beside the warehouse; returns the compact cursor that names them.

    The cursor shows on the sensor's page: a count and a digest read better there than every file's hash.
    """
    cursor = json.dumps({"files": len(files), "digest": files_digest(files)})
    write_whole(settings.sensor_files_path, json.dumps({"cursor": cursor, "files": files}, sort_keys=True))
    return cursor


def files_seen(settings: Settings, cursor: str | None) -> dict[str, str]:
    """The files the cursor names; none when there is no cursor or the kept list is not the one it names
    (lost, or from a tick whose cursor was never saved), so that the next run refreshes everything."""
    path = settings.sensor_files_path
    if not cursor or not path.exists():
        return {}
    kept = json.loads(path.read_text(encoding="utf-8"))
    return kept["files"] if kept.get("cursor") == cursor else {}


def raw_files_changed(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """Refreshes what depends on new, changed or removed files in data/raw/.

    Files are compared by content hash with the previous evaluation (kept beside the warehouse and named
    by the cursor: a file count and a digest), so saving the same file twice starts one run. The run
    stages only the sources whose folders changed, then everything downstream of them: their
    indicators, checks and the marts. The first evaluation that finds files
    runs the whole `full_refresh` instead, since nothing yet says what the warehouse already holds
    (the indicators also need the catalogue, which no raw file feeds).
    """
    settings = Settings.from_env()
    previous = files_seen(settings, context.cursor)
    current = raw_file_hashes(settings, previous)
    changes = sorted((path, previous.get(path), current.get(path))
                     for path in previous.keys() | current.keys() if previous.get(path) != current.get(path))
    if not changes:
        return dg.SkipReason(f"No new, changed or removed files among the {len(current)} in {settings.raw_dir}.")
    sources = sorted({path.split("/", 1)[0] for path, _, _ in changes})
    selection = dg.AssetSelection.assets(*(staging_key(source) for source in sources)).downstream()
    # The key covers each file's previous hash as well, so putting back an earlier version of a file
    # is a change of its own rather than a repeat of the change that first brought that version in.
    run_key = hashlib.sha256(json.dumps(changes).encode()).hexdigest()
    return dg.SensorResult(
        run_requests=[dg.RunRequest(
            run_key=run_key,
            asset_selection=(sorted(selection.resolve(context.repository_def.asset_graph))
                             if previous else None),
            tags={"mel/trigger": "raw_files", "mel/sources": ",".join(sources)},
        )],
        cursor=remember_files(settings, current),
    )


raw_files_sensor = dg.sensor(
    name="raw_files_sensor",
    job=full_refresh,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description=inspect.getdoc(raw_files_changed),
)(raw_files_changed)


def describe_failed_run(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """What an officer needs to know about one failed run: job, time, failed steps, first error line."""
    run = instance.get_run_record_by_id(run_id)
    ended = run.end_time or run.update_timestamp.timestamp()
    step_failures = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    if step_failures:
        error = step_failures[0].dagster_event.step_failure_data.error
        while error.cause is not None and error.cls_name.startswith("Dagster"):
            error = error.cause
        message = error.message
    else:
        run_failure_events = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        message = run_failure_events[-1].dagster_event.message if run_failure_events else ""
    lines = (message or "").strip().splitlines()
    return {
        "run_id": run_id,
        "job": run.dagster_run.job_name,
        "failed_at": dt.datetime.fromtimestamp(ended, ZoneInfo(OFFICE_TIMEZONE)).strftime("%Y-%m-%d %H:%M %Z"),
        "failed_step": ", ".join(sorted({event.step_key for event in step_failures})) or "(no step)",
        "error": lines[0] if lines else "(no error message)",
    }


def record_failure(context: dg.RunFailureSensorContext) -> None:
    """Records every failed run on the `run_failures` asset, where officers see it in the asset catalogue."""
    failure = describe_failed_run(context.instance, context.dagster_run.run_id)
    recent = context.instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]),
                                              limit=RECENT_FAILURES)
    history = [failure if record.dagster_run.run_id == failure["run_id"]
               else describe_failed_run(context.instance, record.dagster_run.run_id) for record in recent]
    columns = ["failed_at", "job", "run_id", "failed_step", "error"]
    context.instance.report_runless_asset_event(dg.AssetMaterialization(
        asset_key=RUN_FAILURES_KEY,
        description=f"Run {failure['run_id'][:8]} of `{failure['job']}` failed at {failure['failed_at']} "
                    f"in {failure['failed_step']}: {failure['error']}",
        metadata={
            "run": dg.MetadataValue.dagster_run(failure["run_id"]),
            "job": failure["job"],
            "failed_at": failure["failed_at"],
            "failed_step": failure["failed_step"],
            "error": failure["error"],
            "recent_failures": dg.MetadataValue.md(markdown_table(
                columns, [tuple(item[column].replace("_", "\\_") for column in columns) for item in history])),
        },
    ))


record_run_failure = dg.run_failure_sensor(
    name="record_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=inspect.getdoc(record_failure),
)(record_failure)
