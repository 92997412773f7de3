"""`make bench`: the pipeline against a hand-written DuckDB floor and a pandas + pandera baseline.

For each size (participant rows, the largest person-level source; the other sources grow in
proportion) the driver generates data with `mel generate` into `bench-data/`, then runs, in
rounds that alternate the contenders so that none enjoys a warmer machine than the others:

1. the pipeline's full refresh: `mel run` on an empty warehouse;
2. its incremental refresh: one grantee file (an indicator_reports CSV) edited, `mel run` again on
   the warehouse the full refresh left, the file then put back;
3. the floor, `benchmarks/floor.py` (the same work as one hand-written DuckDB script);
4. the baseline, `benchmarks/pandas_baseline.py` (pandas with the contract's pandera schemas).

Every run is a separate process; its wall time and the peak resident memory of its whole process
tree (polled from /proc, and the kernel's own peak for the process itself) are recorded, and the
medians are reported. The shipped sample (`data/raw`) is timed with `mel run` as well. The report,
`docs/benchmarks.md`, gives the figures, the ratios and the targets, whether each contender's marts
match the pipeline's, the pipeline's time per step (from Dagster's event log) beside the floor's,
and the machine and versions.

A contender that fails at a size is not run again at that size. When the pipeline runs out of
DuckDB memory under its default limit, it is measured again with MEL_DUCKDB_MEMORY_LIMIT raised
(--fallback-memory-limit), so the other figures still exist; the report says so. A run whose memory
passes --memory-cap-gb is stopped. Rounds after the first at a size are skipped when they would
take the whole benchmark past --budget-minutes.

Usage: python benchmarks/run.py [--scales 100000,1000000,10000000] [--runs 3] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO_ROOT / "benchmarks"
# Measurements made by hand, outside `make bench`: copied into the report's Notes, so a re-run keeps them.
MEASURED_BY_HAND = BENCHMARKS / "notes.md"
BIN = Path(sys.executable).parent
AS_OF = "2025-12-31"  # after every generated date, so no run depends on the day it is run
PARTICIPANT_ROWS_PER_SCALE = 6000  # mel generate --scale 1 writes 6,000 participant rows
DEFAULT_SCALES = "100000,1000000,10000000"
CONTENDERS = ("pipeline", "incremental", "floor", "pandas")
LABELS = {"pipeline": "pipeline full refresh", "incremental": "incremental refresh (one grantee file)",
          "floor": "floor (hand-written DuckDB SQL)", "pandas": "pandas + pandera baseline", "sample": "shipped sample"}
POLL_SECONDS = 0.1
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
SHOWN_STEPS = 8
ERROR_LINE = re.compile(r"^\s*([\w.]*(?:Error|Exception)): (.+)$")


@dataclass
class Measurement:
    """One run of one contender."""

    contender: str
    rows: int
    run: int
    wall_s: float
    peak_rss_bytes: int
    ok: bool
    failure: str | None = None
    setting: str | None = None  # a non-default setting the run needed, e.g. a raised memory limit
    steps: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# Measuring one process
# ----------------------------------------------------------------------------------------------

def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def tree_rss_bytes(root: int) -> int:
    """Resident memory of a process and all its descendants, now."""
    children = _children_by_parent()
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        pending.extend(children.get(pid, []))
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
        except OSError:
            continue
    return total


def measure(command: list[str], env: dict[str, str], log: Path, memory_cap_bytes: int) -> tuple[float, int, int, bool]:
    """Run `command` to completion: (wall seconds, peak RSS of its process tree, exit code, stopped at the cap)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    peak = 0
    capped = threading.Event()
    finished = threading.Event()
    with log.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
                                   start_new_session=True)

        def poll() -> None:
            nonlocal peak
            while not finished.is_set():
                peak = max(peak, tree_rss_bytes(process.pid))
                if peak > memory_cap_bytes and not capped.is_set():
                    capped.set()
                    os.killpg(process.pid, signal.SIGKILL)
                finished.wait(POLL_SECONDS)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        finished.set()
        poller.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is the kernel's exact peak of the process itself, in KiB; polling catches the tree.
    return wall, max(peak, usage.ru_maxrss * 1024), process.returncode, capped.is_set()


def failure_reason(log: Path) -> str:
    """The most telling error line of a failed run's output (the underlying one, not a wrapper's)."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    step = next((line.split(":", 1)[0].removeprefix("FAILED ") for line in lines if line.startswith("FAILED ")), None)
    errors = [(match.group(1).rsplit(".", 1)[-1], match.group(2)) for match in map(ERROR_LINE.match, lines) if match]
    underlying = [error for error in errors if not error[0].startswith("Dagster")] or errors
    if not underlying:
        return (lines or ["(no output)"])[-1][:300]
    kind, message = underlying[-1]
    return f"{step + ': ' if step else ''}{kind}: {message}"[:300]


# ----------------------------------------------------------------------------------------------
# Data, environment and the incremental edit
# ----------------------------------------------------------------------------------------------

def generate(rows: int, data_dir: Path) -> Path:
    """Synthetic raw data with `rows` participant rows, regenerated only when missing or out of date."""
    folder = data_dir / f"raw-{rows}"
    scale = rows / PARTICIPANT_ROWS_PER_SCALE
    generator = hashlib.sha256((REPO_ROOT / "mel_pipeline" / "sample" / "synthetic.py").read_bytes()).hexdigest()[:16]
    stamp = f"scale={scale!r} generator={generator}\n"
    marker = folder / ".generated"
    if marker.is_file() and marker.read_text() == stamp:
        return folder
    print(f"generating {rows:,} participant rows (mel generate --scale {scale:g}) into {folder}", flush=True)
    subprocess.run([str(BIN / "mel"), "generate", "--out", str(folder), "--scale", repr(scale), "--overwrite"],
                   check=True, stdout=subprocess.DEVNULL, cwd=REPO_ROOT)
    marker.write_text(stamp)
    return folder


def pipeline_env(raw: Path, work: Path, extra: dict[str, str] | None = None, as_of: str | None = AS_OF) -> dict[str, str]:
    """The environment of a `mel run`: its folders under `work`, its own Dagster instance."""
    home = work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "MEL_RAW_DIR": str(raw), "MEL_WAREHOUSE": str(work / "warehouse" / "mel.duckdb"),
           "MEL_MARTS_DIR": str(work / "marts"), "DAGSTER_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "true",
           "GX_ANALYTICS_ENABLED": "false", **(extra or {})}
    env.pop("MEL_AS_OF", None)
    if as_of:
        env["MEL_AS_OF"] = as_of
    return env


def edit_grantee_file(raw: Path, run: int) -> tuple[Path, bytes]:
    """Change the notes of the last row of one grantee's indicator report; returns the file and its bytes."""
    path = sorted((raw / "indicator_reports").glob("*.csv"))[0]
    original = path.read_bytes()
    text = original.decode("utf-8")
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.rstrip("\r\n").split(newline)
    header = next(csv.reader([lines[0]]))
    cells = next(csv.reader([lines[-1]]))
    column = next(index for index, name in enumerate(header) if name.strip().lower() in ("notes", "notas"))
    cells[column] = f"benchmark edit {run}"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    lines[-1] = buffer.getvalue()
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    return path, original


def step_durations(dagster_home: Path) -> dict[str, float]:
    """Seconds per step of the latest run in a Dagster instance, from its event log."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        records = instance.get_run_records(limit=1)
        if not records:
            return {}
        starts, ends = {}, {}
        for event in instance.all_logs(records[0].dagster_run.run_id):
            kind = event.dagster_event.event_type_value if event.dagster_event else None
            if kind == "STEP_START":
                starts[event.step_key] = event.timestamp
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
                ends[event.step_key] = event.timestamp
        return {step: ends[step] - starts[step] for step in starts if step in ends}
    finally:
        instance.dispose()


# ----------------------------------------------------------------------------------------------
# Comparing outputs
# ----------------------------------------------------------------------------------------------

COMPARED = {
    "load_audit": "SELECT source, file, rows_read, rows_loaded, rows_rejected FROM {db}.load_audit",
    "rejected_rows": 'SELECT source, file, row_number, "column", "check" FROM {db}.rejected_rows',
    "indicator_values": "SELECT indicator_code, project_code, period_type, period_start, period_end, disaggregation, "
                        "disaggregation_value, round(numerator, 6), round(denominator, 6), round(value, 6), "
                        "suppressed, status FROM {db}.indicator_values",
}


def output_summary(marts: Path) -> dict[str, int]:
    """Row counts of the marts that matter for agreement, and rows read from all sources."""
    import duckdb

    connection = duckdb.connect(str(marts), read_only=True)
    try:
        summary = {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in COMPARED}
        summary["rows_read"] = int(connection.execute("SELECT coalesce(sum(rows_read), 0) FROM load_audit").fetchone()[0])
        summary["rows_rejected"] = int(connection.execute(
            "SELECT coalesce(sum(rows_rejected), 0) FROM load_audit").fetchone()[0])
        return summary
    finally:
        connection.close()


def differences(reference: Path, other: Path) -> dict[str, int]:
    """Rows of each compared mart present in one file and not the other (values rounded to 6 places)."""
    import duckdb

    connection = duckdb.connect()
    try:
        connection.execute(f"ATTACH '{reference}' AS reference (READ_ONLY)")
        connection.execute(f"ATTACH '{other}' AS other (READ_ONLY)")
        found = {}
        for table, query in COMPARED.items():
            left, right = query.format(db="reference"), query.format(db="other")
            found[table] = sum(connection.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone()[0]
                               for a, b in ((left, right), (right, left)))
        return found
    finally:
        connection.close()


# ----------------------------------------------------------------------------------------------
# The benchmark
# ----------------------------------------------------------------------------------------------

@dataclass
class Bench:
    """Settings of one benchmark and everything it measured."""

    data_dir: Path
    runs: int
    budget_s: float
    memory_cap_bytes: int
    fallback_memory_limit: str
    started: float = field(default_factory=time.perf_counter)
    measurements: list[Measurement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    agreement: dict[int, dict[str, str]] = field(default_factory=dict)
    summaries: dict[int, dict[str, int]] = field(default_factory=dict)

    def record(self, measurement: Measurement) -> Measurement:
        """Keep a measurement and print it."""
        self.measurements.append(measurement)
        state = "ok" if measurement.ok else f"FAILED ({measurement.failure})"
        if not measurement.ok:
            where = "the shipped sample" if measurement.contender == "sample" else f"{measurement.rows:,} rows"
            self.notes.append(f"{where}: {LABELS[measurement.contender]}, run {measurement.run}, failed: "
                              f"{measurement.failure}" + (f" (with {measurement.setting})" if measurement.setting else ""))
        print(f"  {measurement.rows:>12,} {measurement.contender:<12} run {measurement.run}: "
              f"{measurement.wall_s:8.1f} s {measurement.peak_rss_bytes / 2**30:6.2f} GB  {state}", flush=True)
        return measurement

    def run_one(self, contender: str, rows: int, run: int, command: list[str], env: dict[str, str], log: Path,
                setting: str | None = None) -> Measurement:
        """Measure one process; a failure keeps its reason."""
        wall, peak, code, capped = measure(command, env, log, self.memory_cap_bytes)
        failure = None
        if capped:
            failure = f"stopped: its memory passed the {self.memory_cap_bytes / 2**30:.0f} GB cap"
        elif code != 0:
            failure = failure_reason(log)
        return Measurement(contender, rows, run, wall, peak, failure is None, failure, setting)

    def sample(self) -> None:
        """`mel run` on the shipped sample, as after `make setup`, into an empty warehouse each time."""
        work = self.data_dir / "work-sample"
        for run in range(1, self.runs + 1):
            shutil.rmtree(work / "warehouse", ignore_errors=True)
            shutil.rmtree(work / "marts", ignore_errors=True)
            env = pipeline_env(REPO_ROOT / "data" / "raw", work, as_of=None)
            measurement = self.run_one("sample", 0, run, [str(BIN / "mel"), "run"], env, work / f"sample-{run}.log")
            self.record(measurement)

    def scale(self, rows: int) -> None:
        """Every contender at one size, in alternating rounds."""
        raw = generate(rows, self.data_dir)
        work = self.data_dir / f"work-{rows}"
        failed: set[str] = set()
        pipeline_extra: dict[str, str] = {}
        round_seconds = 0.0
        for run in range(1, self.runs + 1):
            elapsed = time.perf_counter() - self.started
            if run > 1 and elapsed + round_seconds > self.budget_s:
                self.notes.append(f"{rows:,} rows: {run - 1} round(s) instead of {self.runs}; another round "
                                  f"(~{round_seconds / 60:.0f} min) would have taken the benchmark past its "
                                  f"{self.budget_s / 60:.0f}-minute budget.")
                break
            round_started = time.perf_counter()
            if "pipeline" not in failed:
                pipeline_extra = self._pipeline_rounds(rows, run, raw, work, pipeline_extra, failed)
            for contender, command in (
                ("floor", [sys.executable, str(BENCHMARKS / "floor.py"), "--raw", str(raw), "--out", str(work / "floor"),
                           "--timings", str(work / "floor-timings.json")]),
                ("pandas", [sys.executable, str(BENCHMARKS / "pandas_baseline.py"), "--raw", str(raw),
                            "--out", str(work / "pandas")]),
            ):
                if contender in failed:
                    continue
                env = {**os.environ, "MEL_AS_OF": AS_OF}
                measurement = self.record(self.run_one(contender, rows, run, command, env, work / f"{contender}-{run}.log"))
                if contender == "floor" and measurement.ok:
                    measurement.steps = json.loads((work / "floor-timings.json").read_text())
                if not measurement.ok:
                    failed.add(contender)
            round_seconds = time.perf_counter() - round_started
        self._compare(rows, work, failed)

    def _pipeline_rounds(self, rows: int, run: int, raw: Path, work: Path, extra: dict[str, str],
                         failed: set[str]) -> dict[str, str]:
        """The full refresh, then the incremental one; returns the settings later rounds must use."""
        while True:
            shutil.rmtree(work / "warehouse", ignore_errors=True)
            env = pipeline_env(raw, work, extra)
            setting = ", ".join(f"{name}={value}" for name, value in extra.items()) or None
            measurement = self.run_one("pipeline", rows, run, [str(BIN / "mel"), "run"], env,
                                       work / f"pipeline-{run}.log", setting)
            measurement.steps = step_durations(work / "dagster_home")
            self.record(measurement)
            if measurement.ok:
                break
            if "Out of Memory" in (measurement.failure or "") and not extra and self.fallback_memory_limit:
                extra = {"MEL_DUCKDB_MEMORY_LIMIT": self.fallback_memory_limit}
                self.notes.append(f"{rows:,} rows: since the pipeline ran out of memory under its default DuckDB "
                                  f"memory limit, its figures at this size are with "
                                  f"MEL_DUCKDB_MEMORY_LIMIT={self.fallback_memory_limit}.")
                continue
            failed.update({"pipeline", "incremental"})
            self.notes.append(f"{rows:,} rows: no incremental refresh, since the full refresh failed.")
            return extra
        path, original = edit_grantee_file(raw, run)
        try:
            measurement = self.run_one("incremental", rows, run, [str(BIN / "mel"), "run"], env,
                                       work / f"incremental-{run}.log", setting)
        finally:
            path.write_bytes(original)
        measurement.steps = step_durations(work / "dagster_home")
        self.record(measurement)
        if not measurement.ok:
            failed.add("incremental")
        return extra

    def _compare(self, rows: int, work: Path, failed: set[str]) -> None:
        """Whether the floor's and the baseline's marts match the pipeline's (from the last runs)."""
        reference = work / "marts" / "mel.duckdb"
        outputs = {"floor": work / "floor" / "marts" / "mel.duckdb", "pandas": work / "pandas" / "marts" / "mel.duckdb"}
        available = {name: path for name, path in outputs.items() if name not in failed and path.is_file()}
        summary_source = reference if "pipeline" not in failed and reference.is_file() else next(iter(available.values()), None)
        if summary_source is not None:
            self.summaries[rows] = output_summary(summary_source)
        if "pipeline" in failed or not reference.is_file():
            return
        verdicts = {}
        for name, path in available.items():
            found = differences(reference, path)
            verdicts[name] = "identical" if not any(found.values()) else ", ".join(
                f"{count:,} {table} rows differ" for table, count in found.items() if count)
        self.agreement[rows] = verdicts


# ----------------------------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------------------------

def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f} s" if value < 100 else f"{value:,.0f} s"


def _gigabytes(value: float | None) -> str:
    return "–" if value is None else f"{value / 2**30:.2f} GB"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def machine_and_versions() -> list[tuple[str, str]]:
    """What the figures depend on besides the code."""
    from importlib.metadata import version

    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total_kib = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal")), 0)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, cwd=REPO_ROOT).stdout.strip()
    rows = [("CPU", f"{model}, {os.cpu_count()} cores"), ("Memory", f"{total_kib / 2**20:.1f} GiB"),
            ("OS", platform.platform()), ("Python", platform.python_version())]
    rows += [(name, version(package)) for name, package in (("DuckDB", "duckdb"), ("Dagster", "dagster"),
                                                            ("pandas", "pandas"), ("pandera", "pandera"),
                                                            ("NumPy", "numpy"), ("PyArrow", "pyarrow"))]
    rows.append(("Commit", (commit or "?") + (" with uncommitted changes" if dirty else "")))
    return rows


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def render(bench: Bench, scales: list[int], duration_s: float) -> str:
    """docs/benchmarks.md."""
    def runs_of(contender: str, rows: int) -> list[Measurement]:
        return [m for m in bench.measurements if m.contender == contender and m.rows == rows and m.ok]

    def wall(contender: str, rows: int) -> float | None:
        return _median([m.wall_s for m in runs_of(contender, rows)])

    def rss(contender: str, rows: int) -> float | None:
        return _median([m.peak_rss_bytes for m in runs_of(contender, rows)])

    def cell(contender: str, rows: int) -> str:
        good = runs_of(contender, rows)
        failures = [m for m in bench.measurements if m.contender == contender and m.rows == rows and not m.ok]
        if not good:
            return "failed" if failures else "–"
        times = [m.wall_s for m in good]
        spread = f" ({min(times):.1f}–{max(times):.1f})" if len(times) > 1 else ""
        flagged = " *" if any(m.setting for m in good) else ""
        return f"{_seconds(statistics.median(times))}{spread}, n={len(good)}{flagged}"

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    largest = max(scales)
    previous = max((rows for rows in scales if rows < largest), default=None)
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`benchmarks/run.py`) on {dt.date.today().isoformat()}, in {duration_s / 60:.0f} min; "
        "do not edit by hand.",
        "",
        "What is compared, on the same generated files (`mel generate`; sizes are participant rows, the largest "
        "person-level source, the other sources in proportion): the **pipeline**'s full refresh (`mel run` on an empty "
        "warehouse) and its **incremental** refresh after one grantee file (an indicator_reports CSV) changes; the "
        "**floor**, the same validations, pseudonyms, staging, indicators and marts as one hand-written DuckDB script "
        "(`benchmarks/floor.sql`); and the **pandas** baseline an analyst would write, with the contract's pandera "
        "schemas on pandera's pandas backend (`benchmarks/pandas_baseline.py`). Each run is its own process; the "
        f"contenders alternate round by round and the figures are medians. Every run uses MEL_AS_OF={AS_OF} and the "
        "pipeline's DuckDB limits (MEL_DUCKDB_MEMORY_LIMIT, default 1GB, and MEL_DUCKDB_THREADS). Peak RSS is the "
        "highest resident memory of the run's whole process tree.",
        "",
        "## Wall time",
        "",
        "Median (min–max), n = runs; * = measured with a non-default setting (see Notes).",
        "",
    ]
    header = ["participant rows", "rows read, all sources", *(LABELS[c] for c in CONTENDERS)]
    lines += _table(header, [[f"{rows:,}", f"{bench.summaries.get(rows, {}).get('rows_read', 0):,}",
                              *(cell(c, rows) for c in CONTENDERS)] for rows in scales])
    lines += ["", "## Peak RSS", ""]
    lines += _table(["participant rows", *(LABELS[c] for c in CONTENDERS)],
                    [[f"{rows:,}", *(_gigabytes(rss(c, rows)) for c in CONTENDERS)] for rows in scales])
    lines += ["", "## Ratios", ""]
    ratio_rows = []
    for index, rows in enumerate(scales):
        per_million = ratio(wall("pipeline", rows), rows / 1e6)
        earlier = scales[index - 1] if index else None
        growth = ratio(per_million, ratio(wall("pipeline", earlier), earlier / 1e6)) if earlier else None
        ratio_rows.append([f"{rows:,}", _ratio(ratio(wall("pipeline", rows), wall("floor", rows))),
                           _ratio(ratio(wall("pandas", rows), wall("pipeline", rows))),
                           "–" if ratio(wall("incremental", rows), wall("pipeline", rows)) is None
                           else f"{100 * ratio(wall('incremental', rows), wall('pipeline', rows)):.0f}%",
                           _seconds(per_million), _ratio(growth)])
    lines += _table(["participant rows", "pipeline/floor", "pandas/pipeline", "incremental/full",
                     "pipeline per 1M participant rows", "time per row vs previous size"], ratio_rows)

    sample = _median([m.wall_s for m in bench.measurements if m.contender == "sample" and m.ok])
    full, floor = wall("pipeline", largest), wall("floor", largest)
    pipeline_rss = rss("pipeline", largest)
    default_failed = any(m.contender == "pipeline" and m.rows == largest and not m.ok and not m.setting
                         for m in bench.measurements)
    per_row_growth = (ratio(ratio(full, largest), ratio(wall("pipeline", previous), previous))
                      if previous else None)
    incremental_share = ratio(wall("incremental", largest), full)

    def verdict(value: float | None, good: bool) -> str:
        if value is None:
            return "not measured"
        return ("met" if good else "**not met**") + (" (measured with a raised memory limit: the default fails)"
                                                     if default_failed else "")

    targets = [
        [f"pipeline/floor ≤ 1.5 at {largest:,}", _ratio(ratio(full, floor)),
         verdict(ratio(full, floor), (ratio(full, floor) or 99) <= 1.5)],
        [f"pandas/pipeline ≥ 10 at {largest:,}", _ratio(ratio(wall("pandas", largest), full)),
         verdict(ratio(wall("pandas", largest), full), (ratio(wall("pandas", largest), full) or 0) >= 10)],
        [f"pipeline peak RSS ≤ 2 GB at {largest:,}", _gigabytes(pipeline_rss),
         "**not met** (fails at the default memory limit)" if default_failed
         else verdict(pipeline_rss, (pipeline_rss or 2**40) <= 2 * 2**30)],
        [f"time per row at {largest:,} within 1.5× of {previous:,}" if previous else "near-linear growth",
         _ratio(per_row_growth), verdict(per_row_growth, (per_row_growth or 99) <= 1.5)],
        [f"incremental refresh ≤ 20% of full at {largest:,}",
         "–" if incremental_share is None else f"{100 * incremental_share:.0f}%",
         verdict(incremental_share, (incremental_share or 99) <= 0.2)],
        ["shipped sample: `mel run` < 20 s", _seconds(sample),
         "not measured" if sample is None else "met" if sample < 20 else "**not met**"],
    ]
    lines += ["", "## Targets", ""] + _table(["target", "measured", "verdict"], targets)

    lines += ["", "## Same outputs", "",
              "Each contender's marts compared with the pipeline's: rows per file in `load_audit` (read, loaded, "
              "rejected), every rejection in `rejected_rows` (file, row, column, check) and every row of "
              "`indicator_values` (figures rounded to 6 places, suppression and status).", ""]
    agreement_rows = []
    for rows in scales:
        summary = bench.summaries.get(rows, {})
        verdicts = bench.agreement.get(rows, {})
        agreement_rows.append([f"{rows:,}", f"{summary.get('load_audit', 0):,} files; {summary.get('rows_rejected', 0):,} "
                               f"rejected rows; {summary.get('indicator_values', 0):,} indicator values",
                               verdicts.get("floor", "not compared"), verdicts.get("pandas", "not compared")])
    lines += _table(["participant rows", "pipeline's marts", "floor", "pandas"], agreement_rows)

    lines += ["", f"## Where the time goes at {largest:,} participant rows", "",
              "Pipeline: median seconds per Dagster step, from the run's event log (steps run one after another in "
              "one process; the rest of the wall time is start-up, planning and the printed summary). Floor: median "
              "seconds per step of `floor.py`.", ""]
    for contender in ("pipeline", "incremental", "floor"):
        measured = runs_of(contender, largest)
        steps: dict[str, list[float]] = {}
        for measurement in measured:
            for step, seconds in measurement.steps.items():
                steps.setdefault(step, []).append(seconds)
        if not steps:
            continue
        medians = sorted(((statistics.median(values), step) for step, values in steps.items()), reverse=True)
        shown = [[step, _seconds(seconds)] for seconds, step in medians[:SHOWN_STEPS]]
        if len(medians) > SHOWN_STEPS:
            rest = sum(seconds for seconds, _ in medians[SHOWN_STEPS:])
            shown.append([f"{len(medians) - SHOWN_STEPS} other steps", _seconds(rest)])
        if contender != "floor" and wall(contender, largest) is not None:
            shown.append(["outside the steps", _seconds(wall(contender, largest) - sum(s for s, _ in medians))])
        lines += [f"**{LABELS[contender]}**", ""] + _table(["step", "median"], shown) + [""]

    lines += ["## Notes", ""]
    lines += [f"- {note}" for note in bench.notes] or ["- None: every run of every contender succeeded with its defaults."]
    settings = sorted({m.setting for m in bench.measurements if m.setting})
    if settings:
        lines.append(f"- * Runs marked * used: {'; '.join(settings)}.")
    if MEASURED_BY_HAND.is_file():
        lines += ["", MEASURED_BY_HAND.read_text(encoding="utf-8").strip()]

    lines += ["", "## All runs", ""]
    lines += _table(["participant rows", "contender", "run", "wall time", "peak RSS", "result"],
                    [["sample" if m.contender == "sample" else f"{m.rows:,}", LABELS[m.contender], str(m.run),
                      _seconds(m.wall_s), _gigabytes(m.peak_rss_bytes),
                      ("ok" if m.ok else f"failed: {m.failure}") + (f" ({m.setting})" if m.setting else "")]
                     for m in bench.measurements])
    lines += ["", "## Machine and versions", ""] + _table(["", ""], [[name, value] for name, value in machine_and_versions()])
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default=DEFAULT_SCALES,
                        help="participant rows per size, comma-separated (default %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="rounds per size (default %(default)s)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "benchmarks.md", help="the report to write")
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / "bench-data",
                        help="generated data and run folders (default bench-data/, git-ignored)")
    parser.add_argument("--budget-minutes", type=float, default=40,
                        help="skip rounds after the first at a size past this total (default %(default)s)")
    parser.add_argument("--memory-cap-gb", type=float, default=16, help="stop a run whose memory passes this")
    parser.add_argument("--fallback-memory-limit", default="8GB",
                        help="MEL_DUCKDB_MEMORY_LIMIT for the pipeline when it runs out of memory ('' for none)")
    args = parser.parse_args(argv)
    scales = sorted(int(float(value)) for value in args.scales.split(","))
    bench = Bench(args.data_dir.resolve(), args.runs, args.budget_minutes * 60, int(args.memory_cap_gb * 2**30),
                  args.fallback_memory_limit)
    bench.data_dir.mkdir(parents=True, exist_ok=True)
    print("shipped sample", flush=True)
    bench.sample()
    for rows in scales:
        print(f"{rows:,} participant rows", flush=True)
        bench.scale(rows)
    report = render(bench, scales, time.perf_counter() - bench.started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
