"""The job, schedule and sensors evaluated as the daemon would, and a snapshot of the asset graph."""

import datetime as dt
import json
import re
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
from dagster._utils.schedules import schedule_execution_time_iterator

from mel_pipeline.cli import main
from mel_pipeline.defs.automation import (
    RUN_FAILURES_KEY,
    files_digest,
    files_seen,
    nightly_refresh,
    raw_files_sensor,
    record_run_failure,
)
from mel_pipeline.defs.definitions import defs
from mel_pipeline.defs.operations import RUN_SUMMARY_KEY, run_tags
from mel_pipeline.outputs.run_summary import (
    CHECK_TITLES,
    SourceSummary,
    check_title,
    failures_by_check,
    failures_by_check_markdown,
    files_not_loaded_markdown,
    files_out_of_balance,
    headline,
    rejection_messages,
    rejection_messages_markdown,
    summarise_sources,
    summary_markdown,
    summary_table,
    summary_text,
)
from mel_pipeline.reference.catalogue import load_registry
from mel_pipeline.reference.codes import THEMES
from mel_pipeline.settings import REPO_ROOT, Settings
from mel_pipeline.staging.contract import SOURCES
from mel_pipeline.staging.ingest import RESUBMISSION
from mel_pipeline.warehouse import AUDIT_TABLES_SQL

# The published tables (README, "Querying the marts"); one asset each.
MART_TABLES = ["indicator_values", "theme_scorecard", "sentinel_signals", "outcome_harvest_summary", "msc_summary",
               "stakeholder_divergence", "indicator_catalog", "load_audit", "rejected_rows"]
STAGING_CHECKS = {"files_readable", "rows_accounted_for", "no_rejected_rows"}


def asset_names(keys) -> set[str]:
    return {key.to_user_string() for key in keys}


def downstream_of(*sources: str) -> set[str]:
    """Names of the staging assets of `sources` and of everything downstream of them."""
    selection = dg.AssetSelection.assets(*(f"stg_{source}" for source in sources)).downstream()
    return asset_names(selection.resolve(defs.resolve_asset_graph()))


# --- the asset graph -------------------------------------------------------------------------


def test_asset_keys_and_groups_match_the_contract_and_the_registry():
    sheets = load_registry(REPO_ROOT / "indicators", SOURCES)
    expected = {f"stg_{source}": "staging" for source in SOURCES}
    expected |= {sheet.asset_name: sheet.theme for sheet in sheets}
    expected |= {"indicator_catalog": "catalogue", "indicator_values": "indicators", "sentinel_signals": "indicators"}
    expected |= {f"mart_{table}": "marts" for table in MART_TABLES}
    expected |= {"run_failures": "operations", "run_summary": "operations"}
    graph = defs.resolve_asset_graph()
    actual = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert actual == expected
    assert {sheet.theme for sheet in sheets} <= set(THEMES)


def test_every_staging_asset_carries_its_three_checks_and_every_asset_a_description():
    graph = defs.resolve_asset_graph()
    checks = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    for source in SOURCES:
        assert {name for asset, name in checks if asset == f"stg_{source}"} == STAGING_CHECKS, source
    assert {name for asset, name in checks if asset == "indicator_values"} == {
        "disaggregations_add_up", "every_indicator_has_values"}
    assert {name for asset, name in checks if asset == "run_summary"} == {"everything_loaded"}
    assert [key.to_user_string() for key in graph.get_all_asset_keys() if not graph.get(key).description] == []


def test_full_refresh_selects_every_materializable_asset():
    graph = defs.resolve_asset_graph()
    job = defs.resolve_job_def("full_refresh")
    assert job.asset_layer.selected_asset_keys == graph.get_all_asset_keys() - {RUN_FAILURES_KEY}
    assert job.description


# --- nightly_refresh -------------------------------------------------------------------------


def test_nightly_refresh_runs_the_full_refresh_at_two_in_mexico_city_by_default():
    assert nightly_refresh.cron_schedule == "0 2 * * *"
    assert nightly_refresh.execution_timezone == "America/Mexico_City"
    assert nightly_refresh.default_status == dg.DefaultScheduleStatus.RUNNING
    assert nightly_refresh.job_name == "full_refresh"
    assert nightly_refresh.description

    tick = dt.datetime(2025, 3, 4, 2, 0, tzinfo=ZoneInfo("America/Mexico_City"))
    result = nightly_refresh.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=tick))
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.tags["mel/trigger"] == "schedule"
    assert request.asset_selection is None  # the whole job


def test_nightly_refresh_fires_at_two_mexico_city_time_which_is_eight_utc():
    """The iterator the scheduler daemon uses (private API: this is what decides the tick times)."""
    start = dt.datetime(2025, 3, 4, 12, 0, tzinfo=dt.timezone.utc)
    ticks = schedule_execution_time_iterator(start.timestamp(), nightly_refresh.cron_schedule,
                                             nightly_refresh.execution_timezone)
    first, second = next(ticks), next(ticks)
    assert first.astimezone(dt.timezone.utc) == dt.datetime(2025, 3, 5, 8, 0, tzinfo=dt.timezone.utc)
    assert (first.hour, first.minute) == (2, 0)
    assert second - first == dt.timedelta(days=1)
    july = next(schedule_execution_time_iterator(dt.datetime(2025, 7, 1, tzinfo=dt.timezone.utc).timestamp(),
                                                 nightly_refresh.cron_schedule, nightly_refresh.execution_timezone))
    assert july.astimezone(dt.timezone.utc).hour == 8  # Mexico keeps no daylight saving time since 2022


# --- raw_files_sensor ------------------------------------------------------------------------


@pytest.fixture
def raw_dir(tmp_path: Path, monkeypatch) -> Path:
    """Two sources' folders from the sample, in a raw folder the sensor is pointed at."""
    raw = tmp_path / "raw"
    for source in ("projects", "participants"):
        shutil.copytree(REPO_ROOT / "data" / "raw" / source, raw / source)
    monkeypatch.setenv("MEL_RAW_DIR", str(raw))
    monkeypatch.setenv("MEL_WAREHOUSE", str(tmp_path / "warehouse" / "mel.duckdb"))  # where the hash cache goes
    return raw


def evaluate(cursor: str | None) -> tuple[list[dg.RunRequest], str | None, str | None]:
    """One sensor tick: (run requests, new cursor, skip message)."""
    context = dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), cursor=cursor, definitions=defs)
    result = raw_files_sensor.evaluate_tick(context)
    return result.run_requests or [], result.cursor, result.skip_message


def seen(cursor: str) -> dict[str, str]:
    """The files, with their hashes, that a cursor names."""
    return files_seen(Settings.from_env(), cursor)


def test_the_first_look_at_the_raw_files_refreshes_everything(raw_dir):
    requests, cursor, _ = evaluate(None)
    assert len(requests) == 1
    assert requests[0].asset_selection is None  # the whole full_refresh: the warehouse may be empty
    assert requests[0].tags.items() >= {"mel/trigger": "raw_files", "mel/sources": "participants,projects"}.items()
    files = sorted(path.relative_to(raw_dir).as_posix() for path in raw_dir.glob("*/*"))
    assert sorted(seen(cursor)) == files
    assert all(len(digest) == 64 for digest in seen(cursor).values())
    # The cursor the sensor page shows is a count and a digest, not every file's hash.
    assert json.loads(cursor) == {"files": len(files), "digest": files_digest(seen(cursor))}


def test_a_cursor_whose_file_list_is_lost_refreshes_everything(raw_dir):
    _, cursor, _ = evaluate(None)
    Settings.from_env().sensor_files_path.unlink()
    requests, again, _ = evaluate(cursor)
    assert len(requests) == 1 and requests[0].asset_selection is None
    assert again == cursor


def test_the_same_files_again_start_nothing(raw_dir):
    _, cursor, _ = evaluate(None)
    for path in raw_dir.glob("participants/*"):
        path.write_bytes(path.read_bytes())  # saved again with the same content: a newer mtime, same hash

    requests, again, skip = evaluate(cursor)
    assert requests == []
    assert again == cursor
    assert "No new, changed or removed files" in skip


def test_a_changed_file_refreshes_its_source_and_everything_downstream(raw_dir):
    _, cursor, _ = evaluate(None)
    changed = sorted(raw_dir.glob("participants/*"))[0]
    hash_before = seen(cursor)[changed.relative_to(raw_dir).as_posix()]
    changed.write_bytes(changed.read_bytes() + b"\n")

    requests, new_cursor, _ = evaluate(cursor)
    assert len(requests) == 1
    selected = asset_names(requests[0].asset_selection)
    assert selected == downstream_of("participants")
    assert "stg_participants" in selected and "stg_projects" not in selected
    assert "mart_indicator_values" in selected
    assert requests[0].tags["mel/sources"] == "participants"
    assert seen(new_cursor)[changed.relative_to(raw_dir).as_posix()] != hash_before
    assert seen(cursor) == {}  # the list kept is the new cursor's
    assert evaluate(new_cursor)[0] == []


def test_a_new_file_in_another_source_refreshes_that_source(raw_dir):
    _, cursor, _ = evaluate(None)
    (raw_dir / "outcomes").mkdir()
    shutil.copy(REPO_ROOT / "data" / "raw" / "outcomes" / "outcomes.csv", raw_dir / "outcomes" / "outcomes.csv")

    requests, _, _ = evaluate(cursor)
    assert len(requests) == 1
    assert asset_names(requests[0].asset_selection) == downstream_of("outcomes")
    assert "stg_participants" not in asset_names(requests[0].asset_selection)


def test_a_removed_file_refreshes_its_source(raw_dir):
    _, cursor, _ = evaluate(None)
    removed = sorted(raw_dir.glob("participants/*"))[-1]
    removed.unlink()

    requests, new_cursor, _ = evaluate(cursor)
    assert asset_names(requests[0].asset_selection) == downstream_of("participants")
    assert removed.relative_to(raw_dir).as_posix() not in seen(new_cursor)


def test_hidden_files_and_excel_lock_files_start_nothing(raw_dir):
    _, cursor, _ = evaluate(None)
    (raw_dir / "participants" / "~$MAP_2024.xlsx").write_bytes(b"lock")
    (raw_dir / "participants" / ".DS_Store").write_bytes(b"finder")

    assert evaluate(cursor)[0] == []


def test_run_keys_name_the_change_so_a_repeated_tick_cannot_launch_twice(raw_dir):
    first, _, _ = evaluate(None)
    repeated, _, _ = evaluate(None)
    assert first[0].run_key == repeated[0].run_key

    _, cursor, _ = evaluate(None)
    path = sorted(raw_dir.glob("participants/*"))[0]
    original = path.read_bytes()
    path.write_bytes(original + b"\n")
    changed, changed_cursor, _ = evaluate(cursor)
    path.write_bytes(original)
    reverted, _, _ = evaluate(changed_cursor)
    assert len({first[0].run_key, changed[0].run_key, reverted[0].run_key}) == 3


def test_the_sensor_is_on_by_default_and_described():
    assert raw_files_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert record_run_failure.default_status == dg.DefaultSensorStatus.RUNNING
    assert raw_files_sensor.job_name == "full_refresh"
    assert raw_files_sensor.description.startswith("Refreshes what depends on")
    assert "run_failures" in record_run_failure.description


# --- record_run_failure ----------------------------------------------------------------------


def test_a_failed_run_is_recorded_on_run_failures_with_step_and_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MEL_WAREHOUSE", str(tmp_path / "warehouse" / "mel.duckdb"))
    monkeypatch.setenv("MEL_MARTS_DIR", str(tmp_path / "marts"))
    monkeypatch.setenv("MEL_DUCKDB_MEMORY_LIMIT", "plenty")  # a real misconfiguration: the first step fails
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("full_refresh").execute_in_process(
        instance=instance, raise_on_error=False, asset_selection=[dg.AssetKey("stg_projects")])
    assert not result.success

    context = dg.build_run_status_sensor_context(
        sensor_name="record_run_failure", dagster_event=result.get_run_failure_event(),
        dagster_instance=instance, dagster_run=result.dagster_run,
    ).for_run_failure()
    record_run_failure(context)

    records = instance.fetch_materializations(RUN_FAILURES_KEY, limit=5).records
    assert len(records) == 1
    event = records[0].asset_materialization
    metadata = {name: value.value for name, value in event.metadata.items()}
    assert metadata["job"] == "full_refresh"
    assert metadata["failed_step"] == "stg_projects"
    assert metadata["error"].startswith("ValueError: MEL_DUCKDB_MEMORY_LIMIT must look like '1GB'")
    assert metadata["failed_at"].endswith("CST")
    assert event.metadata["run"].run_id == result.run_id
    assert result.run_id in metadata["recent_failures"]
    assert event.description.startswith(f"Run {result.run_id[:8]} of `full_refresh` failed at ")
    assert "in stg_projects: ValueError: MEL_DUCKDB_MEMORY_LIMIT" in event.description


def test_mel_run_is_a_full_refresh_run_by_name(tmp_path, monkeypatch, capsys):
    """`mel run` shows in the UI under the schedule's job name, not Dagster's implicit `__ASSET_JOB`."""
    raw = tmp_path / "raw"
    shutil.copytree(REPO_ROOT / "data" / "raw" / "projects", raw / "projects")
    home = tmp_path / "dagster_home"
    home.mkdir()
    for name, value in {"MEL_RAW_DIR": raw, "MEL_WAREHOUSE": tmp_path / "warehouse" / "mel.duckdb",
                        "MEL_MARTS_DIR": tmp_path / "marts", "MEL_AS_OF": "2025-12-31", "DAGSTER_HOME": home}.items():
        monkeypatch.setenv(name, str(value))
    main(["run"])  # with one source the marts fail their quality suites: the run is recorded all the same
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
    assert [(run.job_name, run.tags["mel/trigger"]) for run in runs] == [("full_refresh", "cli")]


def test_the_ui_port_is_chosen_by_flag_else_mel_ui_port_else_3000(monkeypatch, tmp_path):
    """`mel ui` hands dagster dev the port of --port, else of MEL_UI_PORT, else 3000 (execv is caught, not run)."""
    started = []
    monkeypatch.setattr("os.execv", lambda program, arguments: started.append(arguments))
    monkeypatch.setattr("signal.signal", lambda *handler: None)  # the test's own Ctrl-C handling stays
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.delenv("MEL_UI_PORT", raising=False)
    main(["ui"])
    monkeypatch.setenv("MEL_UI_PORT", "3100")
    main(["ui"])
    main(["ui", "--port", "3200"])
    assert [arguments[arguments.index("--port") + 1] for arguments in started] == ["3000", "3100", "3200"]
    assert Settings.from_env().ui_port == 3100


# --- run_summary and the staging checks --------------------------------------------------------


def test_every_check_code_the_validator_and_ingest_can_emit_has_a_plain_title():
    """The codes are read from the contract's pandera checks and from the code that writes rejected_rows."""
    schemas = [source.schema(dt.date(2025, 12, 31)) for source in SOURCES.values()]
    emitted = {check.name for schema in schemas for column in schema.columns.values() for check in column.checks}
    emitted |= {check.name for schema in schemas for check in schema.checks}
    package = REPO_ROOT / "mel_pipeline" / "staging"
    emitted |= set(re.findall(r'_failure\([^,]+, "(\w+)"', (package / "validation.py").read_text()))
    emitted |= set(re.findall(r"INSERT INTO rejected_rows VALUES \([^']*'(\w+)'", (package / "ingest.py").read_text()))
    emitted.add(RESUBMISSION)
    assert emitted == {
        "not_nullable", "dtype", "isin", "greater_than_or_equal_to", "less_than_or_equal_to", "in_range",
        "str_matches", "str_length", "column_compare", "any_present", "unique", "reference", "rate_parts",
        "within_project_dates", "malformed_row", "file_unreadable", "ambiguous_number", "whole_number",
        "count_is_whole", "percent_in_range", "resubmission"}
    # The validator translates two bounds no contract uses yet.
    assert set(CHECK_TITLES) - emitted == {"greater_than", "less_than"}
    assert check_title("isin") == "value not in the allowed list (isin)"
    assert check_title("a_new_code") == "a_new_code"


def audit_connection() -> duckdb.DuckDBPyConnection:
    """A warehouse's audit tables holding superseded rows and a file `still_being_written` besides quarantine;
    and rejections: in projects/a.csv, row 3 fails two checks
    and rows 4 and 5 the same one (one with a CURP in its message); projects/b.csv is refused whole with 6 rows."""
    connection = duckdb.connect()
    connection.execute(AUDIT_TABLES_SQL)
    audit = [("projects", "projects/a.csv", "loaded", 10, 7, 3, 0, None),
             ("projects", "projects/b.csv", "quarantined", 6, 0, 6, 0, "projects/b.csv: not valid UTF-8"),
             ("outcomes", "outcomes/new.csv", "still_being_written", 0, 0, 0, 0, "changed 2 s ago: read next run"),
             ("outcomes", "outcomes/old.csv", "loaded", 5, 3, 0, 2, None)]
    connection.executemany(
        "INSERT INTO load_audit (source, file, status, rows_read, rows_loaded, rows_rejected, rows_superseded, notes, "
        "sha256, contract_version, loaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'x', 'v', now())", audit)
    rejected = [
        ("projects/a.csv", 3, "end_date", "column_compare", "start_date (2023-01-01) must be <= end_date (2022-01-01)"),
        ("projects/a.csv", 3, "report_due_days", "in_range", "400 is outside the range 0 to 365"),
        ("projects/a.csv", 4, "themes", "isin", "'x' is not an allowed themes: use one of awareness, cla"),
        ("projects/a.csv", 5, "themes", "isin",
         "'GOMC800101HDFRRL09' is not an allowed themes: use one of awareness, cla"),
    ]
    connection.executemany("INSERT INTO rejected_rows VALUES ('projects', ?, ?, ?, ?, NULL, ?, 'row')", rejected)
    connection.execute("INSERT INTO rejected_rows VALUES ('projects', 'projects/b.csv', NULL, NULL, 'file_unreadable', "
                       "NULL, 'projects/b.csv: not valid UTF-8', 'error')")
    return connection


def test_the_summary_lists_every_status_and_row_figure_load_audit_holds():
    connection = audit_connection()
    summaries = summarise_sources(connection)
    by_source = {summary.source: summary for summary in summaries}
    assert by_source["projects"] == SourceSummary(
        "projects", 2, {"rows_read": 16, "rows_loaded": 7, "rows_rejected": 9, "rows_superseded": 0},
        {"quarantined": ["projects/b.csv"]})
    assert by_source["outcomes"] == SourceSummary(
        "outcomes", 2, {"rows_read": 5, "rows_loaded": 3, "rows_rejected": 0, "rows_superseded": 2},
        {"still_being_written": ["outcomes/new.csv"]})
    assert by_source["targets"] == SourceSummary(
        "targets", 0, {"rows_read": 0, "rows_loaded": 0, "rows_rejected": 0, "rows_superseded": 0}, {})
    headings, rows = summary_table(summaries)
    assert headings == ["source", "files", "rows read", "rows loaded", "rows rejected", "rows superseded",
                        "files quarantined", "files still being written"]
    assert rows[:2] == [("projects", 2, 16, 7, 9, 0, 1, 0), ("indicator_reports", 0, 0, 0, 0, 0, 0, 0)]
    assert ("outcomes", 2, 5, 3, 0, 2, 0, 1) in rows
    assert headline(summaries) == "10 rows loaded, 9 rejected; 1 file quarantined, 1 file still being written."
    text = summary_text(summaries).splitlines()
    assert text[0] == ("source            files rows read rows loaded rows rejected rows superseded files quarantined "
                       "files still being written")
    assert text[1] == ("projects              2        16           7             9               0                 1 "
                       "                        0")
    assert text[-2:] == ["quarantined: projects/b.csv (projects)", "still being written: outcomes/new.csv (outcomes)"]
    assert summary_markdown(summaries).endswith(
        "| source | status | file |\n|---|---|---|\n| projects | quarantined | projects/b.csv |\n"
        "| outcomes | still_being_written | outcomes/new.csv |")
    assert run_tags(summaries) == {"mel/rows_rejected": "9", "mel/files_quarantined": "1",
                                   "mel/files_still_being_written": "1"}
    # Rows read = loaded + rejected + superseded, whichever figures load_audit has.
    assert files_out_of_balance(connection, "outcomes") == []
    connection.execute("UPDATE load_audit SET rows_superseded = 0 WHERE file = 'outcomes/old.csv'")
    assert files_out_of_balance(connection, "outcomes") == ["outcomes/old.csv"]


def test_failures_by_check_counts_rows_as_rows_rejected_does_and_messages_are_whole_and_masked():
    connection = audit_connection()
    assert failures_by_check(connection, "projects") == [
        ("file that could not be read (quarantined) (file_unreadable)", "(whole file)", 6, 1),
        ("value not in the allowed list (isin)", "themes", 2, 1),
        ("two values in the wrong order (e.g. a start after its end) (column_compare)", "end_date", 1, 1),
        ("value outside the allowed range (in_range)", "report_due_days", 1, 1),
    ]
    assert failures_by_check_markdown(connection, "projects").endswith(
        "\n\n9 rows rejected in all; a row that failed several checks is counted under each.")
    assert failures_by_check_markdown(connection, "outcomes") == "none"
    shown, distinct = rejection_messages(connection, "projects")
    assert distinct == 5
    assert shown == [
        ("file that could not be read (quarantined) (file_unreadable)", "(whole file)",
         "projects/b.csv: not valid UTF-8", 6, 1, "projects/b.csv"),
        ("two values in the wrong order (e.g. a start after its end) (column_compare)", "end_date",
         "start_date (2023-01-01) must be <= end_date (2022-01-01)", 1, 1, "projects/a.csv, row 3"),
        ("value outside the allowed range (in_range)", "report_due_days", "400 is outside the range 0 to 365",
         1, 1, "projects/a.csv, row 3"),
        ("value not in the allowed list (isin)", "themes", "'x' is not an allowed themes: use one of awareness, cla",
         1, 1, "projects/a.csv, row 4"),
        ("value not in the allowed list (isin)", "themes", "'***' is not an allowed themes: use one of awareness, cla",
         1, 1, "projects/a.csv, row 5"),
    ]
    assert rejection_messages_markdown(connection, "projects", limit=2).endswith(
        "| two values in the wrong order (e.g. a start after its end) (column_compare) | end_date | start_date "
        "(2023-01-01) must be <= end_date (2022-01-01) | 1 | 1 | projects/a.csv, row 3 |\n\n"
        "3 more distinct messages: see the table rejected_rows.")
    assert files_not_loaded_markdown(connection, "outcomes") == (
        "| file | status | why |\n|---|---|---|\n"
        "| outcomes/new.csv | still_being_written | changed 2 s ago: read next run |")


@pytest.fixture
def broken_projects(tmp_path: Path, monkeypatch) -> Path:
    """A projects folder of two good rows and one row failing two checks, and a PDF that is quarantined."""
    folder = tmp_path / "raw" / "projects"
    folder.mkdir(parents=True)
    header = ("codigo_proyecto,titulo,nombre_corto,organizacion,fecha_inicio,fecha_fin,presupuesto_usd,temas,"
              "dias_entrega,fuente")
    (folder / "projects.csv").write_text("\n".join([
        header, "CALLE,Working conditions,CALLE,AIR,2019-12-15,2024-03-30,6250000,enforcement;cla,30,x",
        "MAP,Awareness raising,MAP,Partners,2021-01-01,2025-06-30,10000000,awareness;cla,30,x",
        "BAD,Some title,,Org,2023-01-01,2022-01-01,100,awareness,400,x"]) + "\n")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    for name, value in {"MEL_RAW_DIR": tmp_path / "raw", "MEL_WAREHOUSE": tmp_path / "warehouse" / "mel.duckdb",
                        "MEL_MARTS_DIR": tmp_path / "marts", "MEL_AS_OF": "2025-12-31"}.items():
        monkeypatch.setenv(name, str(value))
    return folder


def test_a_run_with_rejections_and_a_quarantined_file_warns_and_says_so_on_the_run(broken_projects):
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("full_refresh").execute_in_process(
        instance=instance, raise_on_error=False, asset_selection=[dg.AssetKey("stg_projects"), RUN_SUMMARY_KEY])
    assert result.success
    checks = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
    assert {name: (check.passed, check.severity) for name, check in checks.items()} == {
        "files_readable": (False, dg.AssetCheckSeverity.WARN),
        "rows_accounted_for": (True, dg.AssetCheckSeverity.ERROR),
        "no_rejected_rows": (False, dg.AssetCheckSeverity.WARN),
        "everything_loaded": (False, dg.AssetCheckSeverity.WARN)}
    metadata = {name: {key: value.value for key, value in check.metadata.items()} for name, check in checks.items()}
    assert checks["files_readable"].description == "1 of 2 files not loaded"
    assert metadata["files_readable"]["files_not_loaded"] == {"quarantined": ["projects/notes.pdf"]}
    assert metadata["files_readable"]["files"] == (
        "| file | status | why |\n|---|---|---|\n| projects/notes.pdf | quarantined | projects/notes.pdf: '.pdf' files "
        "are not accepted here; save it as one of: csv, xlsx |")
    assert metadata["rows_accounted_for"] == {"rows_read": 3, "rows_loaded": 2, "rows_rejected": 1,
                                              "rows_superseded": 0, "files_out_of_balance": []}
    assert checks["no_rejected_rows"].description == "1 row rejected"
    assert metadata["no_rejected_rows"]["failures_by_check"] == (
        "| what failed (check) | column | rows | files |\n|---|---|---|---|\n"
        "| two values in the wrong order (e.g. a start after its end) (column_compare) | start_date | 1 | 1 |\n"
        "| value outside the allowed range (in_range) | report_due_days | 1 | 1 |\n"
        "| file that could not be read (quarantined) (file_unreadable) | (whole file) | 0 | 1 |\n\n"
        "1 row rejected in all; a row that failed several checks is counted under each.")
    assert metadata["no_rejected_rows"]["sample"].splitlines()[2:] == [
        "| file that could not be read (quarantined) (file_unreadable) | (whole file) | projects/notes.pdf: '.pdf' "
        "files are not accepted here; save it as one of: csv, xlsx | 0 | 1 | projects/notes.pdf |",
        "| two values in the wrong order (e.g. a start after its end) (column_compare) | start_date | start_date "
        "(2023-01-01) must be <= end_date (2022-01-01) | 1 | 1 | projects/projects.csv, row 4 |",
        "| value outside the allowed range (in_range) | report_due_days | 400 is outside the range 0 to 365 | 1 | 1 "
        "| projects/projects.csv, row 4 |"]
    summary = instance.get_latest_materialization_event(RUN_SUMMARY_KEY).asset_materialization
    shown = {key: value.value for key, value in summary.metadata.items()}
    assert shown["summary"] == "2 rows loaded, 1 rejected; 1 file quarantined."
    assert shown["by_source"].splitlines()[:3] == [
        "| source | files | rows read | rows loaded | rows rejected | rows superseded | files quarantined |",
        "|---|---|---|---|---|---|---|", "| projects | 2 | 3 | 2 | 1 | 0 | 1 |"]
    assert (shown["rows_rejected"], shown["files_not_loaded"]) == (1, 1)
    assert metadata["everything_loaded"]["files_not_loaded"] == ["projects/notes.pdf (quarantined)"]
    tags = instance.get_run_by_id(result.run_id).tags
    assert (tags["mel/rows_rejected"], tags["mel/files_quarantined"]) == ("1", "1")
