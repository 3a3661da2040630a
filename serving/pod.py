"""Start one pod under uvicorn (``edge-insights serve``).

A bundle that fails verification or cannot be read, a release of another model, a central URL
that answers as something other than a central pod of the same decision, or an invalid setting
(port, threads, body limit, shadow rate, central URL, a JWKS without usable keys, a region unknown or
one that may not hold a field the decision requires) stops the pod before it binds the port: one
line ``refusing to start: <reason>`` on stderr, exit status 2.
"""

from __future__ import annotations

from pathlib import Path

from commons.interpreter import freeze_startup_heap
from commons.manifest import BundleError
from commons.privacy_policy import PolicyError
from commons.token_client import TokenSource
from commons.token_keys import SigningKey

from .app import DEFAULT_MAX_BODY_BYTES, create_app
from .auth import PodAuth
from commons.listen import serve_app
from .revocation import WatchSettings

START_REFUSALS = (BundleError, ValueError, PolicyError)
"""What :func:`run_pod` raises when the pod must not start; callers print it as one line."""


def run_pod(deploy_dir: Path, *, trust_dir: Path, host: str = "127.0.0.1", port: int, central_url: str | None = None,
            shadow_rate: float = 0.0, decision_log_dir: Path, threads: int = 1,
            max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, auth: PodAuth | None = None,
            audit_key: SigningKey | None = None, region: str | None = None,
            watch: WatchSettings | None = None, central_tokens: TokenSource | None = None,
            replay_tokens: TokenSource | None = None) -> None:
    """Serve ``deploy_dir`` on ``host:port`` until interrupted (SIGINT/SIGTERM).

    Args:
        deploy_dir: bundle files plus ``release.json``.
        trust_dir: the release public keys the bundle's signature must verify under.
        host: interface to bind; loopback by default.
        port: TCP port, 1-65535.
        central_url: base URL of the central pod, None to answer everything at the edge.
        shadow_rate: fraction (0–1) of edge-decided records also scored by central.
        decision_log_dir: decision log root (``<state>/decision_log``).
        threads: ONNX Runtime intra-op threads.
        max_body_bytes: largest request body read (larger ones are answered 413).
        auth: JWKS and issuer every decision and ``/metrics`` request's token is checked against;
            None leaves the pod open (and says so in a warning).
        audit_key: signs the decision log's checkpoints; None leaves them unsigned (warned).
        region: the pod's storage region; records holding a field the privacy policy does not
            allow there are refused (451). None: no residency check.
        watch: the revocation list to obey and how often it and ``deploy_dir`` are polled for
            revocations and new deployments (:mod:`serving.hot_swap`); None: neither.
        central_tokens: the pod's own tokens for its central pod; None sends none.
        replay_tokens: the same credential asking scopes ``decide replay``, which marks a replayed
            request's calls to central as replay; None sends them unmarked.

    Raises:
        BundleError: the bundle or its release file fails verification or cannot be read.
        ValueError: ``port`` is outside 1-65535; ``shadow_rate``, ``central_url``, ``threads``
            or ``max_body_bytes`` is invalid, the central URL is not a central pod of this
            decision, or the JWKS cannot be read, or the region is unknown (see
            :func:`serving.app.create_app`).
        PolicyError: the privacy policy cannot be read.
    """
    # Checked here, not left to the socket layer: it silently binds 70000 as 4464 (mod 65536).
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be 1-65535, got {port}")
    app = create_app(deploy_dir, trust_dir=trust_dir, central_url=central_url, shadow_rate=shadow_rate,
                     decision_log_dir=decision_log_dir, threads=threads, max_body_bytes=max_body_bytes,
                     auth=auth, audit_key=audit_key, region=region, watch=watch,
                     central_tokens=central_tokens, replay_tokens=replay_tokens)
    # The bundle, tokenizer and app stay loaded until exit: full collections need not walk them.
    freeze_startup_heap()
    serve_app(app, host=host, port=port, name=f"pod {Path(deploy_dir).parent.name}/{Path(deploy_dir).name}")
