"""The one resource the assets share: the pipeline's settings and access to the working warehouse."""


from contextlib import contextmanager
from typing import Iterator

import dagster as dg
import duckdb

from mel_pipeline.settings import Settings
from mel_pipeline.warehouse import open_warehouse


class MelWarehouse(dg.ConfigurableResource):
    """Settings come from MEL_* environment variables when the run starts (see mel_pipeline.settings).

    Steps open the warehouse through `connect()`, which serialises every writer of the DuckDB file.
    """

    def settings(self) -> Settings:
        """Settings for this run, read from the environment now rather than at import time."""
        return Settings.from_env()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A writable warehouse connection, closed when the block ends."""
        with open_warehouse(self.settings()) as connection:
            yield connection
