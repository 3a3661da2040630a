"""Cost of auth on pod latency: 1-record HTTP requests to a pod with tokens required and to one without.

Two real pods (``edge-insights serve`` under uvicorn on loopback, started by
:func:`edge_insights.pods.running_pod`) serve the same bundle in the same run: ``open`` (started
with ``auth_off``) and ``auth`` (``--jwks``: the EdDSA token verified, issuer, audience, scope and
lifetime checked; see :mod:`serving.auth`). Both write the hash-chained decision log (always on;
signed checkpoints when the state folder has an audit key). The client holds one keep-alive
connection per pod and sends both the same token from the token endpoint (client credentials,
fetched once and reused as a real client does; the open pod ignores it). Requests alternate
between the pods one by one in random order, so load from other processes falls on both alike,
over ``--rounds`` fresh pod pairs; ``--warmup`` requests per pod and round are not timed.

Also: the verifier alone (:meth:`serving.auth.TokenVerifier.verify`, in process), microseconds, for
a token seen the first time and for one it remembers.

The bundle: ``--deploy-dir`` (a deployed slot, e.g. ``<state>/deploy/negative_review/champion``),
else price_spike's rule bundle (:func:`edge_insights.broker_load.deploy_rule_pod`: no model, the
pod's fastest path, so the share auth adds is the largest it can be).

Run: ``.venv/bin/python benchmarks/auth_cost.py [--n 2000] [--deploy-dir DIR]`` from the repository
root. Writes ``<state>/benchmarks/auth_cost.json`` and prints the table. Goal: ≤ 10 % added p99.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commons.settings import Settings  # noqa: E402
from commons.token_client import BearerAuth  # noqa: E402
from commons.token_keys import jwks_path  # noqa: E402
from edge_export.signer import release_signer  # noqa: E402
from edge_insights.broker_load import deploy_rule_pod  # noqa: E402
from edge_insights.pods import running_pod, running_token_plane  # noqa: E402
from serving.auth import PodAuth, TokenVerifier  # noqa: E402

GOAL_ADDED_P99 = 0.10


def sample_record(manifest: dict) -> dict:
    """One record the bundle's feature contract accepts: a review-like text per string feature, a
    flat series ending in a jump per number list."""
    record = {}
    for name, field in manifest["feature_contract"]["fields"].items():
        if field.get("role") != "feature":
            continue
        if field["type"] == "string":
            record[name] = "Broke after two days of use, the handle came off and support never answered."
        elif field["type"] == "number_list":
            record[name] = [100.0] * (field["length"] - 1) + [150.0]
        else:
            record[name] = 1.0
    return record


def percentiles(ms: list[float]) -> dict[str, float]:
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)), "mean": float(np.mean(ms))}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit status (0; the goal is reported, not enforced)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="timed 1-record requests per pod")
    parser.add_argument("--warmup", type=int, default=100, help="untimed requests per pod and round first")
    parser.add_argument("--rounds", type=int, default=4, help="fresh pod pairs the requests are spread over")
    parser.add_argument("--deploy-dir", type=Path, default=None, help="bundle to serve (default: a rule bundle)")
    args = parser.parse_args(argv)
    settings = Settings.from_env().ensure()
    load_before = os.getloadavg()[0]
    ms: dict[str, list[float]] = {"open": [], "auth": []}
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="auth_cost_", dir=settings.state_dir)))
        deploy = args.deploy_dir or deploy_rule_pod(work / "rule_pod", release_signer(settings))
        manifest = json.loads((deploy / "manifest.json").read_text())
        decision, body = manifest["decision"], {"records": [sample_record(manifest)]}
        plane = stack.enter_context(running_token_plane(settings))
        tokens = plane.client("auth-cost-benchmark", [decision])
        for round_ in range(args.rounds):
            # Fresh pods each round, started in random order: where the OS places a process moved its
            # latency by more than auth costs, so no pod keeps a lucky or unlucky core throughout.
            names = random.sample(list(ms), 2)
            with ExitStack() as pods:
                urls = {name: pods.enter_context(running_pod(
                    deploy, settings, auth_off=name == "open", tokens=plane,
                    decision_log_dir=work / f"log_{name}_{round_}")) for name in names}
                # The same client for both, token header included (the open pod ignores it): what differs
                # is the pod's check alone (the header changes how httpx writes the request).
                clients = {name: pods.enter_context(httpx.Client(base_url=url, timeout=30.0,
                                                                 auth=BearerAuth(tokens, decision)))
                           for name, url in urls.items()}
                for i in range(args.warmup + args.n // args.rounds):
                    for name in random.sample(names, 2):
                        began = time.perf_counter()
                        clients[name].post(f"/v1/decisions/{decision}", json=body).raise_for_status()
                        if i >= args.warmup:
                            ms[name].append((time.perf_counter() - began) * 1000)
        jwks, header = jwks_path(settings.tokens_dir), f"Bearer {tokens.token(decision)}"
        remembering = TokenVerifier(PodAuth(jwks))
        verify_us = {}
        # "first": a fresh verifier per call, the token new to it each time; "remembered": one verifier.
        for label, verifier_of in (("first", lambda: TokenVerifier(PodAuth(jwks))),
                                   ("remembered", lambda: remembering)):
            began = time.perf_counter()
            for _ in range(1000):
                verifier_of().verify(header, audience=decision, scope="decide")
            verify_us[label] = (time.perf_counter() - began) / 1000 * 1e6
    rows = {name: percentiles(values) for name, values in ms.items()}
    added = {k: rows["auth"][k] / rows["open"][k] - 1 for k in ("p50", "p99")}
    result = {"n": len(ms["auth"]), "rounds": args.rounds, "decision": decision,
              "bundle": str(args.deploy_dir or "rule bundle (price_spike)"),
              "chained_log": True, "ms": rows, "added": added, "verify_us": verify_us,
              "goal_added_p99": GOAL_ADDED_P99, "goal_met": added["p99"] <= GOAL_ADDED_P99,
              "load_average": [load_before, os.getloadavg()[0]]}
    out = settings.state_dir / "benchmarks" / "auth_cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"1-record HTTP requests, {result['n']} per pod over {args.rounds} pod pairs, {result['bundle']}, "
          "chained decision log on both")
    print(f"{'pod':<6}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
    for name, row in rows.items():
        print(f"{name:<6}{row['p50']:>9.3f}{row['p99']:>9.3f}{row['mean']:>9.3f}")
    print(f"auth adds {added['p50']:+.1%} p50, {added['p99']:+.1%} p99 (goal ≤ {GOAL_ADDED_P99:.0%} p99: "
          f"{'met' if result['goal_met'] else 'NOT met'}); the verifier alone {verify_us['first']:.0f} µs for a "
          f"new token, {verify_us['remembered']:.0f} µs for one seen before; "
          f"load average {load_before:.1f} → {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
