"""Acceptance: an officer's session in the Dagster UI, driven through Debian's Chromium.

`make ui` is started against a private Dagster instance (a copy of .dagster_home/dagster.yaml in a
temporary folder), private data folders and a port nothing listens on (through MEL_UI_PORT), so the
test never touches the developer's instance, data/ or `make ui`, and two runs of it never wait for each
other. Screenshots of every step, the server's log and the timings go to test-artifacts/browser/.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from mel_pipeline.settings import REPO_ROOT

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
SERVER_TIMEOUT_S = 90
RUN_TIMEOUT_MS = 240_000
STEP_TIMEOUT_MS = 30_000


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_answers(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/server_info", timeout=2):
            return True
    except OSError:
        return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def stop(process: subprocess.Popen, grace_s: float = 30) -> None:
    """SIGINT to the whole group (dagster dev ignores SIGTERM), then SIGKILL whatever is left."""
    pgid = process.pid
    if group_alive(pgid):
        os.killpg(pgid, signal.SIGINT)
        deadline = time.monotonic() + grace_s
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture
def dagster_ui(tmp_path: Path):
    """`make ui` on a free port of 127.0.0.1 with everything it writes under tmp_path; yields the settings'
    folders and the UI's address."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (.ci/run does) to run the browser test")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    shutil.copytree(REPO_ROOT / "data" / "raw", tmp_path / "raw")
    folders = {"raw": tmp_path / "raw", "marts": tmp_path / "marts", "base_url": base_url}
    # PORT unset: make would take it from the environment and prefer it to MEL_UI_PORT.
    environment = {**{name: value for name, value in os.environ.items() if name != "PORT"},
                   "DAGSTER_HOME": str(home), "MEL_UI_PORT": str(port), "MEL_RAW_DIR": str(folders["raw"]),
                   "MEL_WAREHOUSE": str(tmp_path / "warehouse" / "mel.duckdb"), "MEL_MARTS_DIR": str(folders["marts"])}
    started = time.monotonic()
    with (ARTIFACTS / "make_ui.log").open("w") as log:
        # `-o .venv/.installed`: drive the environment as installed (`make test` has just set it up)
        # rather than let a newer pyproject.toml send `make ui` into pip halfway through a test.
        process = subprocess.Popen(
            ["make", "-o", ".venv/.installed", "ui"], cwd=REPO_ROOT, env=environment, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
            # A background parent may have left SIGINT ignored; dagster dev stops cleanly only on SIGINT.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            while not server_answers(base_url):
                assert process.poll() is None, f"`make ui` exited with {process.returncode}; see {log.name}"
                assert time.monotonic() - started < SERVER_TIMEOUT_S, f"no answer on {base_url} after " \
                                                                      f"{SERVER_TIMEOUT_S} s; see {log.name}"
                time.sleep(0.5)
            folders["server_ready_s"] = round(time.monotonic() - started, 1)
            yield folders
        finally:
            stop(process)
    assert not server_answers(base_url), "the UI still answers after it was stopped"


def test_an_officer_refreshes_everything_from_the_ui_and_reads_the_results(dagster_ui):
    from playwright.sync_api import expect, sync_playwright

    timings = {"server_ready_s": dagster_ui["server_ready_s"]}
    base_url = dagster_ui["base_url"]
    step = iter(range(1, 100))

    def screenshot(page, name: str) -> None:
        page.screenshot(path=ARTIFACTS / f"{next(step):02d}_{name}.png", animations="disabled")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        try:
            page.set_default_timeout(STEP_TIMEOUT_MS)
            expect.set_options(timeout=STEP_TIMEOUT_MS)
            # On a first visit this dialog covers the page until "Skip" is clicked; it may appear late.
            page.add_locator_handler(page.get_by_text("Join the Dagster community"),
                                     lambda: page.get_by_role("button", name="Skip").click())

            page.goto(base_url)
            page.get_by_role("navigation").get_by_role("link", name="Lineage").click()
            expect(page.get_by_text("Global asset lineage")).to_be_visible()
            for group in ("staging", "catalogue", "indicators", "marts", "operations"):
                expect(page.get_by_text(group, exact=True).first).to_be_visible()
            expect(page.get_by_role("button", name=re.compile(r"Materialize all \(\d+\)"))).to_be_visible()
            screenshot(page, "asset_graph")

            page.get_by_role("navigation").get_by_role("link", name="Jobs").click()
            page.get_by_role("link", name="full_refresh").click()
            expect(page.get_by_text("Refresh everything: stage every raw source")).to_be_visible()
            screenshot(page, "full_refresh_job")
            launched = time.monotonic()
            page.get_by_role("button", name="Materialize all").click()
            toast = page.get_by_text(re.compile(r"^Launched run [0-9a-f]{8}$"))
            expect(toast).to_be_visible()
            run_id = toast.inner_text().split()[-1]
            screenshot(page, "run_launched")

            page.locator(f"a[href^='/runs/{run_id}']", has_text="View").click()
            page.wait_for_url(re.compile(rf"/runs/{run_id}"))
            outcome = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$")).first
            expect(outcome).to_be_visible(timeout=RUN_TIMEOUT_MS)
            timings["run_launch_to_finish_s"] = round(time.monotonic() - launched, 1)
            screenshot(page, "run_finished")
            assert outcome.inner_text() == "Success", f"run {run_id} ended in {outcome.inner_text()}"

            # The run succeeds, since the sample's bad rows are rejected and the rest published; its page says
            # so: run_summary's line in the log names the rejections, and the run's tags count them.
            page.reload()
            page.get_by_placeholder("Filter…").fill("Run summary")
            expect(page.get_by_text(re.compile(
                r"Run summary: [\d,]+ rows loaded, 9 rejected in 3 sources\.")).first).to_be_visible()
            screenshot(page, "run_summary")
            page.get_by_role("button", name="View tags and config").click()
            expect(page.get_by_role("dialog")).to_contain_text("mel/rows_rejected: 9")
            screenshot(page, "run_tags")
            page.get_by_role("dialog").get_by_role("button", name="OK").click()
            expect(page.get_by_role("dialog")).to_be_hidden()

            page.goto(f"{base_url}/assets/stg_participants?view=checks")
            for check in ("files_readable", "rows_accounted_for", "no_rejected_rows"):
                expect(page.get_by_text(check, exact=True).first).to_be_visible()
            page.get_by_text("no_rejected_rows", exact=True).first.click()
            expect(page.get_by_text("Evaluation result")).to_be_visible()
            # A WARN shows as "Failed" beside an orange warning sign (an ERROR's sign is red), with its description.
            expect(page.get_by_text("Failed", exact=True).first).to_be_visible()
            expect(page.get_by_text("3 rows rejected", exact=True)).to_be_visible()
            for evidence in ("rows_rejected", "failures_by_check", "sample"):
                expect(page.get_by_text(evidence, exact=True).first).to_be_visible()
            screenshot(page, "check_result")
            page.locator("tr", has_text="sample").get_by_text("[Show Markdown]").click()
            expect(page.get_by_role("dialog")).to_contain_text("participants/")  # each rejection names its file
            expect(page.get_by_role("dialog")).to_contain_text("value outside the allowed range (in_range)")
            screenshot(page, "check_evidence")
            page.keyboard.press("Escape")
            expect(page.get_by_role("dialog")).to_be_hidden()

            page.get_by_role("tab", name="Overview").first.click()
            expect(page.get_by_text("Row count")).to_be_visible()
            for key in ("rows_loaded", "rows_rejected", "files_read_this_run", "preview"):
                expect(page.get_by_text(key, exact=True).first).to_be_visible()
            expect(page.get_by_text("person_id", exact=True).first).to_be_visible()  # pseudonymised column
            screenshot(page, "materialization_metadata")

            report = dagster_ui["marts"] / "report" / "index.html"
            assert report.is_file(), f"the refresh published no officer report at {report}"
            page.goto(report.as_uri())
            expect(page.locator("h1").first).to_be_visible()
            screenshot(page, "report")
        except Exception:
            screenshot(page, "failed_here")
            raise
        finally:
            browser.close()
            (ARTIFACTS / "timings.json").write_text(json.dumps(timings, indent=2))
