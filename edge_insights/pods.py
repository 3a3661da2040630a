"""Start serving pods (and other servers) as child processes on loopback and wait until they answer."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from commons.errors import EdgeInsightsError, ServingError
from commons.net import free_port
from commons.settings import Settings


class PodStartError(ServingError):
    """A pod exited or did not answer ``/healthz`` in time; the message carries its output."""


@contextmanager
def running_pod(deploy_dir: Path, settings: Settings, *, central_url: str | None = None,
                shadow_rate: float = 0.0, timeout_s: float = 60.0,
                decision_log_dir: Path | None = None, extra_args: Sequence[str] = ()) -> Iterator[str]:
    """Run ``edge-insights serve`` for ``deploy_dir``; yields its base URL; stops it on exit.

    The pod logs its decisions under ``decision_log_dir`` (default: the state folder's
    ``decision_log``; a drill keeps its own). ``extra_args``: more ``serve`` options (e.g. a
    drill's own revocation list).

    Raises:
        PodStartError: the pod exited or ``/healthz`` did not answer 200 within ``timeout_s``.
    """
    port = free_port()
    command = [sys.executable, "-m", "edge_insights", "serve", "--deploy-dir", str(deploy_dir), "--port", str(port),
               "--decision-log-dir", str(decision_log_dir or settings.decision_log_dir),
               "--shadow-rate", str(shadow_rate)]
    if central_url:
        command += ["--central-url", central_url]
    command += list(extra_args)
    url = f"http://127.0.0.1:{port}"
    with running_process(command, settings.logs_dir / f"pod-{deploy_dir.name}-{port}.log", answers_healthz(url),
                         timeout_s=timeout_s, name=f"pod for {deploy_dir}", error=PodStartError):
        yield url


def answers_healthz(url: str) -> Callable[[], bool]:
    """A readiness probe for :func:`running_process`: ``GET {url}/healthz`` answers 200."""
    def ready() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    return ready


@contextmanager
def running_process(command: list[str], log_path: Path, ready: Callable[[], bool], *, timeout_s: float,
                    name: str, error: type[EdgeInsightsError], env: dict[str, str] | None = None) -> Iterator[None]:
    """Run ``command`` as a child process (output into ``log_path``) and wait until ``ready()``; stop
    it when the ``with`` block ends (SIGTERM, SIGKILL after 10 s). ``env``: the child's whole
    environment (default: this process's).

    Raises:
        error: the process exited first (its log's tail in the message), or ``ready()`` stayed
            false for ``timeout_s`` seconds.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + timeout_s
        while not ready():
            if process.poll() is not None:
                raise error(f"{name} exited ({process.returncode}):\n{log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise error(f"{name} did not answer in {timeout_s}s")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
