"""Processes take turns on the warehouse file: a connection waits while another process holds it."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from commons import warehouse as warehouse_module
from commons.warehouse import Warehouse

# A second process holds the file open (as the watcher's flush or a Dagster step does) for a while.
_HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS held (x INTEGER)")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def _holder(path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_connection_waits_for_another_process_to_let_the_file_go(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    holder = _holder(path, 1.5)  # still holding when the warehouse connects: without a wait, an IOException
    rows = Warehouse(path).frame("SELECT count(*) AS n FROM signal_history")
    assert rows["n"].to_list() == [0]
    assert holder.wait(timeout=30) == 0


def test_the_wait_is_bounded(tmp_path, monkeypatch):
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setattr(warehouse_module, "LOCK_WAIT_S", 0.3)
    holder = _holder(path, 5.0)
    try:
        with pytest.raises(duckdb.IOException, match="Could not set lock"):
            Warehouse(path).frame("SELECT 1")
    finally:
        holder.kill()
        holder.wait()
