"""``edge-insights ui``: the Dagster UI and the MLflow UI as child processes that stop together.

Both run in their own process groups with ``TMPDIR`` inside the state folder, so on Ctrl-C or
SIGTERM every process they started (Dagster's webserver, daemon and code servers; MLflow's
workers) is stopped — politely first, then killed after a grace period — and the temporary files
they leave go with the folder, not into the machine's ``/tmp``. Each UI is announced on stderr once
it answers HTTP (Dagster loads the code location first, which takes tens of seconds on 2 cores), and
a UI that exits by itself is named with its log.
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
PROBE_EVERY_S = 1.0
"""Seconds between readiness probes of a UI that has not answered yet."""


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=PROBE_EVERY_S).status_code == 200
    except httpx.HTTPError:
        return False


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


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_ui(settings: Settings, *, dagster_port: int, mlflow_port: int) -> int:
    """Serve both UIs until interrupted (SIGINT or SIGTERM); returns the exit status (0, or the
    status of a UI that stopped by itself)."""
    from training.registry import create_tracking_store

    create_tracking_store(settings.tracking_uri, settings.artifact_root)  # before `mlflow ui` would, in ./mlruns
    bin_dir = Path(sys.executable).parent
    tmp = settings.state_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **settings.environment(), "TMPDIR": str(tmp)}
    log_dir = settings.logs_dir
    commands = {
        "dagster": [str(bin_dir / "dagster"), "dev", "-m", "orchestration.definitions", "-h", "127.0.0.1",
                    "-p", str(dagster_port)],
        # Artifacts someone logs through this server land under the state folder, not ./mlartifacts.
        "mlflow": [str(bin_dir / "mlflow"), "ui", "--backend-store-uri", settings.tracking_uri,
                   "--artifacts-destination", settings.artifact_root.as_uri(),
                   "--host", "127.0.0.1", "--port", str(mlflow_port)],
    }
    # Dagster's webserver answers /server_info and MLflow's /health only once they serve pages.
    probes = {"dagster": f"http://127.0.0.1:{dagster_port}/server_info",
              "mlflow": f"http://127.0.0.1:{mlflow_port}/health"}
    processes: list[subprocess.Popen] = []
    stop_requested = False
    started, next_probe = time.monotonic(), 0.0

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
            if probes and time.monotonic() >= next_probe:
                for name in [name for name, url in probes.items() if _answers(url)]:
                    base = probes.pop(name).rsplit("/", 1)[0]
                    _say(f"{name} UI ready on {base} ({time.monotonic() - started:.0f} s)")
                next_probe = time.monotonic() + PROBE_EVERY_S
            time.sleep(0.2)
        status = 0
        for name, process in zip(commands, processes):
            if process.poll() is not None and not stop_requested:
                status = status or process.returncode
                _say(f"{name} UI stopped by itself (exit {process.returncode}); its log: "
                     f"{log_dir / f'ui-{name}.log'}")
    finally:
        _stop(processes)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(tmp, ignore_errors=True)
    return status
