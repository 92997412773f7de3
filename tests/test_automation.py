"""The job, schedule and sensors evaluated as the daemon would, and a snapshot of the asset graph."""

import datetime as dt
import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._utils.schedules import schedule_execution_time_iterator

from mel_pipeline.codes import THEMES
from mel_pipeline.contract import SOURCES
from mel_pipeline.defs.automation import (
    RUN_FAILURES_KEY, files_digest, files_seen, nightly_refresh, raw_files_sensor, record_run_failure,
)
from mel_pipeline.cli import main
from mel_pipeline.defs.definitions import defs
from mel_pipeline.indicator_registry import load_registry
from mel_pipeline.settings import REPO_ROOT, Settings

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
    sheets = load_registry(REPO_ROOT / "indicators")
    expected = {f"stg_{source}": "staging" for source in SOURCES}
    expected |= {sheet.asset_name: sheet.theme for sheet in sheets}
    expected |= {"indicator_catalog": "catalogue", "indicator_values": "indicators", "sentinel_signals": "indicators"}
    expected |= {f"mart_{table}": "marts" for table in MART_TABLES}
    expected["run_failures"] = "operations"
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
