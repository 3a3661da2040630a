"""Start one pod under uvicorn.

    python -m serving.pod --deploy-dir D --port P [--host H] [--central-url U]
                          [--shadow-rate R] [--decision-log-dir L] [--threads N]
                          [--max-body-bytes B]

The decision log defaults to ``Settings.from_env().decision_log_dir`` (under the state folder).
A bundle that fails verification or cannot be read, a release of another model, a central URL
that answers as something other than a central pod of the same decision, or an invalid setting
(port, threads, body limit, shadow rate, central URL) stops the pod before it binds the port: one
line ``refusing to start: <reason>`` on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

from edge_export.manifest import BundleError
from edge_insights.settings import Settings

from .app import DEFAULT_MAX_BODY_BYTES, create_app

START_REFUSALS = (BundleError, ValueError)
"""What :func:`run_pod` raises when the pod must not start; callers print it as one line."""


def run_pod(deploy_dir: Path, *, host: str = "127.0.0.1", port: int, central_url: str | None = None,
            shadow_rate: float = 0.0, decision_log_dir: Path | None = None, threads: int = 1,
            max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
    """Serve ``deploy_dir`` on ``host:port`` until interrupted (SIGINT/SIGTERM).

    Args:
        deploy_dir: bundle files plus ``release.json``.
        host: interface to bind; loopback by default.
        port: TCP port, 1-65535.
        central_url: base URL of the central pod, None to answer everything at the edge.
        shadow_rate: fraction (0–1) of edge-decided records also scored by central.
        decision_log_dir: decision log root; None uses the settings' state folder.
        threads: ONNX Runtime intra-op threads.
        max_body_bytes: largest request body read (larger ones are answered 413).

    Raises:
        BundleError: the bundle or its release file fails verification or cannot be read.
        ValueError: ``port`` is outside 1-65535; ``shadow_rate``, ``central_url``, ``threads``
            or ``max_body_bytes`` is invalid, or the central URL is not a central pod of this
            decision (see :func:`serving.app.create_app`).
    """
    # Checked here, not left to the socket layer: it silently binds 70000 as 4464 (mod 65536).
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be 1-65535, got {port}")
    log_dir = decision_log_dir or Settings.from_env().decision_log_dir
    app = create_app(deploy_dir, central_url=central_url, shadow_rate=shadow_rate,
                     decision_log_dir=log_dir, threads=threads, max_body_bytes=max_body_bytes)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="serving.pod", description="Serve one edge bundle over HTTP.")
    parser.add_argument("--deploy-dir", type=Path, required=True, help="bundle files plus release.json")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--central-url", help="base URL of the central pod consulted when unsure")
    parser.add_argument("--shadow-rate", type=float, default=0.0,
                        help="fraction 0-1 of edge decisions also scored by central, logged only")
    parser.add_argument("--decision-log-dir", type=Path,
                        help="decision log root (default: <state dir>/decision_log)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES,
                        help=f"largest request body read (default {DEFAULT_MAX_BODY_BYTES:,}); "
                             "larger ones are answered 413")
    args = parser.parse_args(argv)
    try:
        run_pod(args.deploy_dir, host=args.host, port=args.port, central_url=args.central_url,
                shadow_rate=args.shadow_rate, decision_log_dir=args.decision_log_dir,
                threads=args.threads, max_body_bytes=args.max_body_bytes)
    except START_REFUSALS as err:
        print(f"refusing to start: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
