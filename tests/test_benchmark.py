"""Smoke run of `make bench` at a tiny size: every contender runs once and the report has every field.

No timing is asserted: the figures of a run this small mean nothing, only that they are produced.
"""

import subprocess
import sys

from mel_pipeline.settings import REPO_ROOT

TINY_SCALE = "300"  # participant rows: mel generate --scale 0.05


def test_benchmark_runs_and_reports_every_field(tmp_path):
    report = tmp_path / "benchmarks.md"
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "run.py"), "--scales", TINY_SCALE, "--runs", "1",
         "--out", str(report), "--data-dir", str(tmp_path / "bench-data")],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    text = report.read_text(encoding="utf-8")

    for section in ("## Wall time", "## Peak RSS", "## Ratios", "## Targets", "## Same outputs",
                    "## Where the time goes", "## All runs", "## Machine and versions"):
        assert section in text, section
    for field in ("pipeline full refresh", "incremental refresh (one grantee file)", "floor (hand-written DuckDB SQL)",
                  "pandas + pandera baseline", "pipeline/floor", "pandas/pipeline", "incremental/full",
                  "shipped sample", "CPU", "Memory", "Python", "DuckDB", "Dagster", "pandas", "pandera"):
        assert field in text, field
    runs = [line for line in text.splitlines() if line.startswith("| ") and (" GB |" in line) and ("| ok" in line)]
    contenders = {"shipped sample", "pipeline full refresh", "incremental refresh (one grantee file)",
                  "floor (hand-written DuckDB SQL)", "pandas + pandera baseline"}
    assert contenders <= {cell.strip() for line in runs for cell in line.split("|")}, runs
    assert "identical" in text, "the floor's and the baseline's marts should match the pipeline's"
    hand_notes = (REPO_ROOT / "benchmarks" / "notes.md").read_text(encoding="utf-8").strip()
    notes = text.split("## Notes", 1)[1].split("## All runs", 1)[0]
    assert hand_notes in notes, "the notes measured by hand should survive a re-run, in the Notes section"
