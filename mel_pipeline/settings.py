"""Settings in one place: paths, the pseudonym key, disclosure threshold and DuckDB limits.

Every path is resolved relative to the repository root unless an environment variable overrides
it. Nothing is read from the environment at import time: call `Settings.from_env()` when a run
starts, so tests can point a run at temporary folders.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Development default only: documented in README and docs/security.md. Any real deployment sets
# MEL_PSEUDONYM_KEY; `mel run` warns when the default is in use.
DEVELOPMENT_PSEUDONYM_KEY = "mel-pipeline-development-key-not-for-real-data"
# A raw file modified less than this many seconds before a run reads it may still be being copied or
# exported into its folder: staging it then would publish the part written so far as the whole file.
SETTLING_SECONDS = 5.0


@dataclass(frozen=True)
class Settings:
    """Where the pipeline reads and writes, and the knobs an operator may turn."""

    raw_dir: Path
    warehouse_path: Path
    marts_dir: Path
    indicators_dir: Path
    pseudonym_key: str = field(repr=False)
    suppression_threshold: int
    duckdb_memory_limit: str
    duckdb_threads: int
    as_of: dt.date
    ui_port: int  # where `mel ui` serves the Dagster UI, and the address a run's summary points to
    settling_seconds: float = SETTLING_SECONDS  # a file modified more recently is left for the next run

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        """Build settings from MEL_* environment variables, falling back to repository defaults."""
        env = os.environ
        data_dir = Path(env.get("MEL_DATA_DIR", REPO_ROOT / "data"))
        as_of_text = env.get("MEL_AS_OF")
        settings = cls(
            raw_dir=Path(env.get("MEL_RAW_DIR", data_dir / "raw")),
            warehouse_path=Path(env.get("MEL_WAREHOUSE", data_dir / "warehouse" / "mel.duckdb")),
            marts_dir=Path(env.get("MEL_MARTS_DIR", data_dir / "marts")),
            indicators_dir=Path(env.get("MEL_INDICATORS_DIR", REPO_ROOT / "indicators")),
            pseudonym_key=env.get("MEL_PSEUDONYM_KEY", DEVELOPMENT_PSEUDONYM_KEY),
            suppression_threshold=int(env.get("MEL_SUPPRESSION_THRESHOLD", "11")),
            duckdb_memory_limit=env.get("MEL_DUCKDB_MEMORY_LIMIT", "1GB"),
            duckdb_threads=int(env.get("MEL_DUCKDB_THREADS", str(os.cpu_count() or 2))),
            as_of=dt.date.fromisoformat(as_of_text) if as_of_text else dt.date.today(),
            ui_port=int(env.get("MEL_UI_PORT", "3000")),
            settling_seconds=float(env.get("MEL_SETTLING_SECONDS", str(SETTLING_SECONDS))),
        )
        return replace(settings, **overrides) if overrides else settings

    @property
    def file_hashes_path(self) -> Path:
        """Where the raw files' content hashes are remembered between runs (beside the warehouse)."""
        return self.warehouse_path.with_name("raw_file_hashes.json")

    @property
    def sensor_files_path(self) -> Path:
        """Which raw files, with their hashes, the sensor last saw (its cursor names them by digest)."""
        return self.warehouse_path.with_name("raw_files_seen.json")

    @property
    def uses_development_key(self) -> bool:
        """True when no real pseudonym key was configured."""
        return self.pseudonym_key == DEVELOPMENT_PSEUDONYM_KEY
