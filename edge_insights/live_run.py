"""The live loop as the demo (and its end-to-end test) runs it: market, pods, watcher, a subscriber.

:func:`run_live_loop` starts the live market replay in this process (a thread server driven by
the wall clock), a central and an edge pod per served decision, and ``edge-insights watch`` as a
child process (Twisted's reactor needs its own process); a subscriber reads the watcher's SSE
stream and stamps each insight's arrival. It returns, per decision, the insights, alerts and
routes, and two latencies:

- **harvest → insight**: page response received by the watcher → insight read off the SSE stream;
- **change → insight**: the instant the market changed the product's page (ground truth of the
  live market) → insight read off the stream; the staleness the revisit policy controls.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from typing import Any

import httpx
import numpy as np

from commons.errors import OrchestrationError
from commons.net import free_port
from commons.settings import Settings
from crawlers.live_market import LiveMarket, serve_live_market
from crawlers.replay import MarketReplay
from edge_insights.pods import running_pod

DECISIONS = ("price_spike", "urgent_inventory")


def _subscribe(feed_url: str, seen: list[tuple[dict[str, Any], float]], stop: threading.Event) -> None:
    """Read the SSE stream from its start (``since=0``) until ``stop``; append (insight, arrival)."""
    while not stop.is_set():
        try:
            with httpx.stream("GET", f"{feed_url}/v1/insights/stream", params={"since": len(seen) and
                                                                             seen[-1][0]["seq"]},
                              timeout=httpx.Timeout(5.0, read=2.0)) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        seen.append((json.loads(line[6:]), time.time()))
                    if stop.is_set():
                        return
        except httpx.HTTPError:
            time.sleep(0.1)  # the feed is not up yet, or the read timed out between insights


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "mean": None}
    return {"p50": float(np.percentile(values, 50)), "p90": float(np.percentile(values, 90)),
            "p99": float(np.percentile(values, 99)), "mean": float(np.mean(values))}


def run_live_loop(settings: Settings, *, duration_s: float = 60.0, seconds_per_tick: float = 1.0,
                  start_tick: int = 30, rate: float = 40.0, policy: str = "learned",
                  decisions: tuple[str, ...] = DECISIONS) -> dict[str, Any]:
    """Run the live loop for ``duration_s`` against the accelerated replay; returns its table.

    Args:
        settings: the state folder with deployed champions (after the demo's job).
        duration_s: how long the watcher revisits pages (wall seconds).
        seconds_per_tick: wall seconds per replay day.
        start_tick: the replay day the market starts at (after the days already in history).
        rate: the watcher's request budget (requests/s).
        policy: ``learned`` or ``round-robin``.
        decisions: the decisions whose pods are started.

    Raises:
        OrchestrationError: the watcher exited non-zero (its log is in the message).
    """
    market = LiveMarket(MarketReplay(settings.data_dir), seconds_per_tick=seconds_per_tick, start_tick=start_tick)
    seen: list[tuple[dict[str, Any], float]] = []
    stop = threading.Event()
    log_path = settings.logs_dir / "watch.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        base = stack.enter_context(serve_live_market(market))
        pods = []
        for decision in decisions:
            deploy = settings.deploy_dir / decision
            central = stack.enter_context(running_pod(deploy / "central", settings))
            edge = stack.enter_context(running_pod(deploy / "champion", settings, central_url=central))
            pods += ["--pod", f"{decision}={edge}"]
        feed_port = free_port()
        feed_url = f"http://127.0.0.1:{feed_port}"
        subscriber = threading.Thread(target=_subscribe, args=(feed_url, seen, stop), daemon=True)
        subscriber.start()
        command = [sys.executable, "-m", "edge_insights", "watch", "--sitemap", f"{base}sitemap.txt", *pods,
                   "--rate", str(rate), "--policy", policy, "--duration", str(duration_s),
                   "--feed-port", str(feed_port)]
        with open(log_path, "w") as log:
            done = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, text=True,
                                  env={**os.environ, **settings.environment()}, timeout=duration_s + 300)
        stop.set()
        subscriber.join(timeout=5)
        if done.returncode != 0:
            raise OrchestrationError(f"watch exited {done.returncode}:\n{log_path.read_text()[-3000:]}")
        counts = json.loads(done.stdout.strip().splitlines()[-1])
    return {"counts": counts, "decisions": summarise_insights(market, seen), "rate": rate, "policy": policy,
            "duration_s": duration_s, "seconds_per_tick": seconds_per_tick,
            "products": len(market.products), "received_on_stream": len(seen)}


def summarise_insights(market: LiveMarket, seen: list[tuple[dict[str, Any], float]]) -> dict[str, Any]:
    """Per decision: insights, alerts, routes, harvest → insight and change → insight latencies."""
    out: dict[str, Any] = {}
    # An earlier watch of the same state folder left insights in the store; they are not this run's.
    seen = [(i, at) for i, at in seen if i["received_at"] >= market.started_at]
    for decision in sorted({i["decision"] for i, _ in seen}):
        rows = [(i, at) for i, at in seen if i["decision"] == decision]
        harvest_ms = [(at - i["received_at"]) * 1000 for i, at in rows]
        staleness = []
        for insight, at in rows:
            tick = market.tick_at(insight["received_at"])
            changed = market.wall_of(market.last_change(insight["product_id"], tick))
            staleness.append(at - changed)
        out[decision] = {
            "insights": len(rows), "alerts": sum(1 for i, _ in rows if i["alert"]),
            "routes": {r: sum(1 for i, _ in rows if i["route"] == r) for r in ("edge", "central", "fallback")},
            "harvest_to_insight_ms": _percentiles(harvest_ms),
            "change_to_insight_s": _percentiles(staleness),
        }
    return out
