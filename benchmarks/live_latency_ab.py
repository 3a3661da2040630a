"""Live loop latency, A/B in one run: two checkouts of the code, rows interleaved on the same load.

    EDGE_INSIGHTS_STATE_DIR=var .venv/bin/python benchmarks/live_latency_ab.py --before ../main [--reps 1]

The machine's cores are shared, so numbers from separate runs move with whatever else runs; here
each repetition runs a row of each checkout back to back (the order alternates between
repetitions). A checkout is chosen by ``PYTHONPATH`` for every child process of the row (token
endpoint, pods, intake webhook, watcher); the market and the subscriber are this checkout's.

Rows, as ``benchmarks/live_latency.py`` runs them (:func:`edge_insights.live_run.run_live_loop`):

- **harvest**: 1,000 products, ``--rate`` 100 requests/s, learned policy, one replay day per 10 s,
  price_spike and urgent_inventory: harvest → insight (page response received → insight read off
  the SSE stream), p50 / p99 over both decisions;
- **push**: negative_review alone, real held-out reviews pushed through the intake webhook two per
  batch every 0.5 s: push → insight (batch accepted → insight read off the stream).

Writes ``<state>/benchmarks/live_latency_ab.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from live_latency import _pooled
from rich.console import Console
from rich.table import Table

from commons.settings import Settings
from edge_insights.live_run import run_live_loop

HARVEST = ("price_spike", "urgent_inventory")
PUSH = ("negative_review",)


def _row(settings: Settings, code: Path, decisions: tuple[str, ...], seconds: float, rate: float) -> dict:
    """One live-loop run with every child process on ``code``; the table's figures."""
    os.environ["PYTHONPATH"] = str(code)
    run = run_live_loop(settings, duration_s=seconds, seconds_per_tick=10.0, start_tick=30, rate=rate,
                        policy="learned", decisions=decisions, products=1_000,
                        alert_webhook=False)  # as the rows before it: no webhook subscriber
    return {"insights_per_s": run["received_on_stream"] / seconds, "load": os.getloadavg()[0],
            "latency_ms": _pooled(run, "harvest_to_insight_ms"), "insights": run["received_on_stream"]}


def main(argv: list[str] | None = None) -> int:
    """Run the A/B benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the code before the change")
    parser.add_argument("--after", type=Path, default=Path(__file__).resolve().parents[1],
                        help="checkout of the code after it (default: this one)")
    parser.add_argument("--reps", type=int, default=1, help="repetitions of each pair of rows")
    parser.add_argument("--after-first", action="store_true",
                        help="start with the after checkout (split repetitions over several runs)")
    parser.add_argument("--rows", default="harvest,push", help="rows to run: harvest, push, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds each harvest row watches")
    parser.add_argument("--push-seconds", type=float, default=30.0, help="seconds each push row watches")
    parser.add_argument("--rate", type=float, default=100.0, help="request budget, requests/s")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    kept = os.environ.get("PYTHONPATH")
    results = []
    try:
        for rep in range(args.reps):
            order = [("before", args.before), ("after", args.after)]
            for label, code in order if (rep + args.after_first) % 2 == 0 else order[::-1]:
                for kind in args.rows.split(","):
                    decisions, seconds = (HARVEST, args.seconds) if kind == "harvest" else (PUSH, args.push_seconds)
                    results.append({"rep": rep, "code": label, "row": kind,
                                    **_row(settings, code.resolve(), decisions, seconds, args.rate)})
    finally:
        if kept is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = kept
    console = Console(width=None if sys.stdout.isatty() else 140)
    table = Table(title=f"Live loop A/B, 1,000 products, {args.rate:g} req/s, 10 s/day", title_justify="left")
    for col in ("rep", "code", "row", "insights/s", "p50 ms", "p99 ms", "load after"):
        table.add_column(col)
    for r in results:
        lat = r["latency_ms"]
        table.add_row(str(r["rep"]), r["code"], r["row"], f'{r["insights_per_s"]:.1f}',
                      f'{lat["p50"]:.0f}' if lat["p50"] is not None else "-",
                      f'{lat["p99"]:.0f}' if lat["p99"] is not None else "-", f'{r["load"]:.2f}')
    console.print(table)
    out = settings.state_dir / "benchmarks" / "live_latency_ab.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"before": str(args.before), "after": str(args.after), "rows": results}, indent=2))
    console.print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
