"""``edge-insights ui``: the Dagster UI and the MLflow UI as child processes that stop together.

Both run in their own process groups with ``TMPDIR`` inside the state folder, so on Ctrl-C or
SIGTERM every process they started (Dagster's webserver, daemon and code servers; MLflow's
workers) is stopped — politely first, then killed after a grace period — and the temporary files
they leave go with the folder, not into the machine's ``/tmp``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from commons.settings import Settings

STOP_GRACE_S = 6.0
"""Seconds children get to stop on SIGTERM before the group is killed (the whole stop stays < 10 s)."""


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for process in processes:
        # The leader may be gone while its children (a code server, a worker) linger: kill the group.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def run_ui(settings: Settings, *, dagster_port: int, mlflow_port: int) -> int:
    """Serve both UIs until interrupted (SIGINT or SIGTERM); returns the exit status (0, or the
    status of a UI that stopped by itself)."""
    bin_dir = Path(sys.executable).parent
    tmp = settings.state_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **settings.environment(), "TMPDIR": str(tmp)}
    log_dir = settings.logs_dir
    commands = {
        "dagster": [str(bin_dir / "dagster"), "dev", "-m", "orchestration.definitions", "-h", "127.0.0.1",
                    "-p", str(dagster_port)],
        "mlflow": [str(bin_dir / "mlflow"), "ui", "--backend-store-uri", settings.tracking_uri,
                   "--host", "127.0.0.1", "--port", str(mlflow_port)],
    }
    processes = []
    stop_requested = False

    def request_stop(signum, frame) -> None:
        nonlocal stop_requested
        stop_requested = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for name, command in commands.items():
            with open(log_dir / f"ui-{name}.log", "wb") as log:
                processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                  start_new_session=True))
        while not stop_requested and all(p.poll() is None for p in processes):
            time.sleep(0.2)
        status = next((p.returncode for p in processes if p.poll() is not None and not stop_requested), 0)
    finally:
        _stop(processes)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(tmp, ignore_errors=True)
    return status
