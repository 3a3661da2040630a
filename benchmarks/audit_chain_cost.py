"""Cost of the hash-chained decision log: one decision line appended plain vs chained.

There is no HTTP pod-latency benchmark in this folder yet, so this measures what chaining adds to
the one place it touches the request path: :meth:`serving.decision_log.DecisionLog.append` of a
1-record batch (what a pod does once per request, after deciding). Three writers, timed
interleaved append by append (so load from other processes falls on all alike), each into its own
temporary folder:

- ``plain``: the log as it was before chaining (``json.dumps`` of the entry, one line appended);
- ``chained``: :class:`DecisionLog` without a key (hash, lock, head check; unsigned checkpoints);
- ``chained+signed``: :class:`DecisionLog` with an Ed25519 audit key (a signed checkpoint every
  ``--every`` lines).

Also: the time to verify the signed log (``commons.chain_verify.verify_folder``), lines/s.

Run: ``.venv/bin/python benchmarks/audit_chain_cost.py [--n 3000] [--every 1000]`` from the
repository root. Writes ``<state>/benchmarks/audit_chain_cost.json`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commons.chain_verify import verify_folder  # noqa: E402
from commons.settings import Settings  # noqa: E402
from commons.token_keys import jwks_path, rotate_keys, trusted_keys  # noqa: E402
from serving.decision_log import DecisionLog, log_entry  # noqa: E402
from serving.router import Routed  # noqa: E402

DECISION = "negative_review"


class PlainLog:
    """The decision log before chaining: each entry one JSON line appended to its day's file."""

    def __init__(self, log_dir: Path) -> None:
        self.folder = log_dir / DECISION
        self.folder.mkdir(parents=True)

    def append(self, entries: list[dict]) -> None:
        lines = "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in entries)
        with open(self.folder / f"decisions-{datetime.now(timezone.utc):%Y%m%d}.jsonl", "a", encoding="utf-8") as fh:
            fh.write(lines)


def entry(i: int) -> dict:
    """A realistic 1-record decision line (the pod's own format, an edge answer)."""
    routed = Routed(label="negative", score=0.91, route="edge", route_reason="confident",
                    model_version="3", bundle_sha256="e" * 64,
                    signal_digest=f"{i:064x}", latency_ms=1.2, edge_label="negative", edge_score=0.91,
                    edge_bundle_sha256="e" * 64, central_label=None, central_score=None,
                    central_bundle_sha256=None, shadow=False,
                    inputs={"text_words": 22.0, "text_oov_share": 0.08})
    return log_entry(routed, DECISION, f"sku-{i}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="appends timed per writer")
    parser.add_argument("--every", type=int, default=1000, help="lines between checkpoints")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="audit_chain_cost_") as tmp:
        work = Path(tmp)
        key = rotate_keys(work / "audit")
        writers = {"plain": PlainLog(work / "plain"),
                   "chained": DecisionLog(work / "chained", None, args.every),
                   "chained+signed": DecisionLog(work / "signed", key, args.every)}
        samples: dict[str, list[float]] = {name: [] for name in writers}
        names = list(writers)
        for i in range(args.n):
            for name in names[i % 3:] + names[:i % 3]:
                batch = [entry(i)]
                start = time.perf_counter()
                writers[name].append(batch)
                samples[name].append((time.perf_counter() - start) * 1e6)
        start = time.perf_counter()
        report = verify_folder(work / "signed" / DECISION, trusted_keys(jwks_path(work / "audit")))
        verify_s = time.perf_counter() - start
        assert report.fault is None, report.fault
    rows = {name: {"p50_us": float(np.percentile(xs, 50)), "p99_us": float(np.percentile(xs, 99))}
            for name, xs in samples.items()}
    print(f"{'writer':<16}{'p50 µs':>10}{'p99 µs':>10}   (1-record append, {args.n} each, interleaved)")
    for name, row in rows.items():
        print(f"{name:<16}{row['p50_us']:>10.1f}{row['p99_us']:>10.1f}")
    print(f"verify: {report.lines} lines, {report.signed} signed checkpoints in {verify_s * 1000:.0f} ms "
          f"({report.lines / verify_s:,.0f} lines/s)")
    print(f"1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} CPUs")
    out = Settings.from_env().state_dir / "benchmarks" / "audit_chain_cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"n": args.n, "checkpoint_every": args.every, "rows": rows,
                               "verify_lines_per_s": report.lines / verify_s,
                               "load_average_1m": {"before": load_before, "after": os.getloadavg()[0]},
                               "measured_at": datetime.now(timezone.utc).isoformat()}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
