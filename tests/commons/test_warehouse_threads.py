"""A warehouse opened for a latency-bound process caps DuckDB's worker threads on every connection."""

from __future__ import annotations

import os

from commons.warehouse import Warehouse


def _threads(warehouse: Warehouse) -> int:
    with warehouse.connect() as con:
        return int(con.execute("SELECT current_setting('threads')").fetchone()[0])


def test_threads_cap_each_connection_and_default_to_duckdbs_own(tmp_path):
    assert _threads(Warehouse(tmp_path / "capped.duckdb", threads=1)) == 1
    assert _threads(Warehouse(tmp_path / "default.duckdb")) == (os.cpu_count() or 1)
