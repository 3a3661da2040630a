"""Embedded SQLite versus the Redis broker: the same change load, in the same run.

Each broker takes ``--n`` price changes twice: appended at ``--rate`` changes/s while the deciders
run, then appended all before they start. Every change goes capture → a real decider → the real
pod (``edge-insights serve`` on a ``price_spike`` rule bundle, no trained model needed) → publish;
see :mod:`edge_insights.broker_load`. The table gives change → insight latency of the paced run
(ms, p50/p99: the change's ``received_at`` to its insight's publish) and the throughput of the
backlog run (changes/s, deciders' start → last publish), for the embedded store with its one
decider, Redis with one, and Redis with ``--deciders``.
A redis-server is started on a free loopback port unless ``--redis-url`` names one.

Run: ``.venv/bin/python benchmarks/broker_compare.py [--n 1000] [--rate 100] [--deciders 2]`` from
the repository root. Writes ``<state>/benchmarks/broker_compare.json`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commons.settings import Settings  # noqa: E402
from commons.token_client import credentials_from_env  # noqa: E402
from edge_insights.broker_load import compare_brokers  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="changes per broker and run")
    parser.add_argument("--rate", type=float, default=100.0, help="changes/s of the paced phase")
    parser.add_argument("--deciders", type=int, default=2, help="deciders of the extra Redis row (≤ 1: none)")
    parser.add_argument("--redis-url", default=None, help="use this Redis server (default: start one)")
    parser.add_argument("--pod-url", default=None, help="a running price_spike pod (default: serve the rule bundle); "
                        "its tokens come from EDGE_INSIGHTS_TOKEN_URL, _CLIENT_ID and _CLIENT_SECRET")
    args = parser.parse_args()
    settings = Settings.from_env().ensure()
    rows = compare_brokers(settings, args.n, rate=args.rate, redis_url=args.redis_url, pod_url=args.pod_url,
                           redis_deciders=args.deciders,
                           tokens=credentials_from_env(os.environ) if args.pod_url else None)
    out = settings.state_dir / "benchmarks" / "broker_compare.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"n": args.n, "rate": args.rate, "rows": rows}, indent=2))
    print(f"{'broker':<8}{'deciders':>9}{'p50 ms':>9}{'p99 ms':>9}   (at {args.rate:g} changes/s)"
          f"{'backlog changes/s':>19}")
    for r in rows:
        print(f"{r['broker']:<8}{r['deciders']:>9}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{'':>23}"
              f"{r['changes_per_s']:>19.0f}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
