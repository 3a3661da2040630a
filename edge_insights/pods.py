"""Start serving pods as child processes on loopback and wait until they answer."""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

from commons.errors import ServingError
from commons.net import free_port
from commons.settings import Settings


class PodStartError(ServingError):
    """A pod exited or did not answer ``/healthz`` in time; the message carries its output."""


@contextmanager
def running_pod(deploy_dir: Path, settings: Settings, *, central_url: str | None = None,
                shadow_rate: float = 0.0, timeout_s: float = 60.0,
                decision_log_dir: Path | None = None) -> Iterator[str]:
    """Run ``edge-insights serve`` for ``deploy_dir``; yields its base URL; stops it on exit.

    The pod logs its decisions under ``decision_log_dir`` (default: the state folder's
    ``decision_log``; a drill keeps its own).

    Raises:
        PodStartError: the pod exited or ``/healthz`` did not answer 200 within ``timeout_s``.
    """
    port = free_port()
    command = [sys.executable, "-m", "edge_insights", "serve", "--deploy-dir", str(deploy_dir), "--port", str(port),
               "--decision-log-dir", str(decision_log_dir or settings.decision_log_dir),
               "--shadow-rate", str(shadow_rate)]
    if central_url:
        command += ["--central-url", central_url]
    log_path = settings.logs_dir / f"pod-{deploy_dir.name}-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if process.poll() is not None:
                    raise PodStartError(f"pod for {deploy_dir} exited ({process.returncode}):\n"
                                        f"{log_path.read_text()[-2000:]}")
                try:
                    if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise PodStartError(f"pod for {deploy_dir} did not answer /healthz in {timeout_s}s")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
