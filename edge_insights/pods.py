"""Start serving pods (and other servers) as child processes on loopback and wait until they answer.

Pods start with auth on: :func:`running_pod` gives them the state folder's JWKS (``--jwks``), and
an edge pod with a central pod gets its own client credential of the token endpoint, which
:func:`running_token_plane` serves (started for the pod when the caller runs none). Turning auth
off takes ``auth_off=True`` and is logged as a warning.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from commons.client_registry import register_client, unregister_client
from commons.errors import EdgeInsightsError, ServingError
from commons.net import free_port
from commons.settings import Settings
from commons.token_client import CLIENT_ID_ENV, CLIENT_SECRET_ENV, TOKEN_URL_ENV, ClientCredentials
from commons.token_keys import jwks_path, rotate_keys, signing_keys
from commons.tokens import SCOPE_DECIDE, SCOPE_REPLAY

logger = logging.getLogger(__name__)


class PodStartError(ServingError):
    """A pod exited or did not answer ``/healthz`` in time; the message carries its output."""


@dataclass(frozen=True)
class TokenPlane:
    """A running token endpoint (``edge-insights token serve``) of a state folder's keys.

    Attributes:
        settings: the state folder whose ``tokens/`` holds the keys and the client registry.
        token_url: the endpoint, ``http://127.0.0.1:PORT/oauth/token``.
    """

    settings: Settings
    token_url: str

    def register(self, client_id: str, audiences: list[str] | tuple[str, ...],
                 scopes: tuple[str, ...] = ("decide",)) -> str:
        """Register ``client_id`` for ``audiences`` and ``scopes``; returns its new secret."""
        return register_client(self.settings.tokens_dir, client_id, audiences, scopes)

    def client(self, client_id: str, audiences: list[str] | tuple[str, ...], scope: str = "decide",
               scopes: tuple[str, ...] = ("decide",)) -> ClientCredentials:
        """Register a client and return its token source asking for ``scope`` (one of ``scopes``)."""
        return ClientCredentials(self.token_url, client_id, self.register(client_id, audiences, scopes), scope=scope)

    def client_env(self, client_id: str, audiences: list[str] | tuple[str, ...],
                   scopes: tuple[str, ...] = ("decide",)) -> dict[str, str]:
        """Register a client for ``scopes`` and return the environment variables a child process
        reads it from (:func:`commons.token_client.credentials_from_env`)."""
        return {TOKEN_URL_ENV: self.token_url, CLIENT_ID_ENV: client_id,
                CLIENT_SECRET_ENV: self.register(client_id, audiences, scopes)}


def ensure_token_key(settings: Settings) -> Path:
    """The state folder's token JWKS, making the first signing key when there is none (recorded in
    the control audit log as ``edge-insights token keygen`` records it)."""
    if not signing_keys(settings.tokens_dir):
        from commons.control_audit import ControlAudit
        from commons.key_store import key_store

        key = rotate_keys(settings.tokens_dir, store=key_store(settings))
        ControlAudit(settings.audit_dir).record("key_rotation", key_set="tokens", kid=key.kid, keep=2)
    return jwks_path(settings.tokens_dir)


@contextmanager
def running_token_plane(settings: Settings, *, ttl: str = "5m", timeout_s: float = 60.0) -> Iterator[TokenPlane]:
    """Run ``edge-insights token serve`` for the state folder (a signing key made first when there is
    none); yields the :class:`TokenPlane`; stops it on exit.

    Raises:
        PodStartError: the endpoint exited or did not answer in time.
    """
    ensure_token_key(settings)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "edge_insights", "token", "serve", "--port", str(port), "--ttl", ttl]
    with running_process(command, settings.logs_dir / f"token-endpoint-{port}.log", answers_healthz(url),
                         timeout_s=timeout_s, name="token endpoint", error=PodStartError,
                         env={**os.environ, **settings.environment()}):
        yield TokenPlane(settings, f"{url}/oauth/token")


@contextmanager
def running_pod(deploy_dir: Path, settings: Settings, *, central_url: str | None = None,
                shadow_rate: float = 0.0, timeout_s: float = 60.0, decision_log_dir: Path | None = None,
                tokens: TokenPlane | None = None, auth_off: bool = False,
                extra_args: Sequence[str] = (), port: int | None = None) -> Iterator[str]:
    """Run ``edge-insights serve`` for ``deploy_dir``; yields its base URL; stops it on exit.

    The pod logs its decisions under ``decision_log_dir`` (default: the state folder's
    ``decision_log``; a drill keeps its own). It requires tokens of the state folder's keys
    (``--jwks <state>/tokens/jwks.json``, a key made when there is none); with a central URL it
    calls its central pod as client ``pod-<decision>-<slot>-<port>`` of ``tokens`` (scopes ``decide``
    and ``replay``, so a replayed request reaches central marked as replay; a token endpoint
    is started for the pod's lifetime when ``tokens`` is None), registered for the pod's lifetime and
    removed when it stops. ``auth_off`` serves
    without tokens (a warning says so). ``extra_args``: more ``serve`` options (e.g. a drill's own
    revocation list). ``port``: the loopback port to serve on (default: a free one), e.g. the
    port of a pod that went down, to bring it back where its clients look for it.

    Raises:
        PodStartError: the pod exited or ``/healthz`` did not answer 200 within ``timeout_s``.
    """
    port = free_port() if port is None else port
    command = [sys.executable, "-m", "edge_insights", "serve", "--deploy-dir", str(deploy_dir), "--port", str(port),
               "--decision-log-dir", str(decision_log_dir or settings.decision_log_dir),
               "--shadow-rate", str(shadow_rate)]
    # The pod sees the caller's state folder: its trust folder, revocation list and region.
    env = {**os.environ, **settings.environment()}
    with ExitStack() as stack:
        if auth_off:
            logger.warning("AUTH IS OFF for the pod of %s: it answers anyone who can reach it", deploy_dir)
        else:
            command += ["--jwks", str(ensure_token_key(settings))]
        if central_url:
            command += ["--central-url", central_url]
            if not auth_off:
                plane = tokens or stack.enter_context(running_token_plane(settings))
                decision = json.loads((deploy_dir / "manifest.json").read_text())["decision"]
                # One client per pod instance: pods of one decision and slot may run side by side.
                client_id = f"pod-{decision}-{deploy_dir.name}-{port}"
                # Scope replay too: the pod passes a replayed request's mark on to its central pod.
                env |= plane.client_env(client_id, [decision], (SCOPE_DECIDE, SCOPE_REPLAY))
                stack.callback(unregister_client, settings.tokens_dir, client_id)
        command += list(extra_args)
        url = f"http://127.0.0.1:{port}"
        stack.enter_context(running_process(command, settings.logs_dir / f"pod-{deploy_dir.name}-{port}.log",
                                            answers_healthz(url), timeout_s=timeout_s, name=f"pod for {deploy_dir}",
                                            error=PodStartError, env=env))
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
