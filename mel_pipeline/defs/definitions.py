"""The code location: every asset, check, job, schedule and sensor, and the in-process executor.

The in-process executor is chosen on purpose: on a 2-core machine a process per step costs
seconds each, and every step writes the same DuckDB file anyway.
"""


import dagster as dg

from mel_pipeline.defs.automation import (
    full_refresh,
    nightly_refresh,
    raw_files_sensor,
    record_run_failure,
    run_failures,
)
from mel_pipeline.defs.indicators import build_indicator_assets
from mel_pipeline.defs.marts import publish
from mel_pipeline.defs.operations import run_summary
from mel_pipeline.defs.resources import MelWarehouse
from mel_pipeline.defs.staging import STAGING_ASSETS


def build_definitions() -> dg.Definitions:
    """All definitions, with the warehouse resource bound."""
    return dg.Definitions(
        assets=[*STAGING_ASSETS, *build_indicator_assets(), publish, run_summary, run_failures],
        jobs=[full_refresh],
        schedules=[nightly_refresh],
        sensors=[raw_files_sensor, record_run_failure],
        resources={"warehouse": MelWarehouse()},
        executor=dg.in_process_executor,
    )


defs = build_definitions()
