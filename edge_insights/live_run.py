"""The live loop as the demo (and its end-to-end test) runs it: market, pods, watcher, a subscriber.

:func:`run_live_loop` starts the live market replay in this process (a thread server driven by
the wall clock), a central and an edge pod per served decision, and ``edge-insights watch`` as a
child process (Twisted's reactor needs its own process); a subscriber reads the watcher's SSE
stream and stamps each insight's arrival; with negative_review, the intake webhook runs too and real reviews
are pushed through it; a webhook subscriber (:mod:`edge_insights.alert_receiver`) takes the alerts, signed.
It returns, per decision, the insights, alerts and routes, and two latencies:

- **harvest → insight**: page response received by the watcher → insight read off the SSE stream;
  for negative_review, whose reviews are pushed through the intake webhook (real held-out
  reviews, two per batch every half second), **push → insight**: batch landed in the inbox
  (accepted by the webhook) → insight read off the stream;
- **change → insight**: the instant the market changed the product's page (ground truth of the
  live market) → insight read off the stream; the staleness the revisit policy controls.
"""

from __future__ import annotations

import base64
import bisect
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from commons.errors import OrchestrationError
from commons.net import free_port
from commons.settings import Settings
from crawlers.live_market import LiveMarket, serve_live_market
from crawlers.replay import MarketReplay
from edge_insights.alert_receiver import alert_receiver
from edge_insights.drift_drill import review_phases
from edge_insights.pods import TokenPlane, answers_healthz, running_pod, running_process, running_token_plane
from live.store import LiveStore, store_path
from training.divergence import divergence, read_decisions

DECISIONS = ("price_spike", "urgent_inventory", "negative_review")
PUSH_EVERY_S = 0.5
PUSH_BATCH = 2


def _subscribe(feed_url: str, seen: list[tuple[dict[str, Any], float]], stop: threading.Event,
               since: int = 0) -> None:
    """Read the SSE stream after ``since`` until ``stop``; append (insight, arrival epoch s); reconnect
    after the last insight seen."""
    while not stop.is_set():
        try:
            with httpx.stream("GET", f"{feed_url}/v1/insights/stream", params={"since": seen[-1][0]["seq"] if seen
                                                                             else since},
                              timeout=httpx.Timeout(5.0, read=2.0)) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        seen.append((json.loads(line[6:]), time.time()))
                    if stop.is_set():
                        return
        except httpx.HTTPError:
            time.sleep(0.1)  # the feed is not up yet, or the read timed out between insights


def _push_reviews(intake_url: str, token: str, texts: list[str], feed_url: str, stop: threading.Event) -> None:
    """Once the watcher's feed answers, POST ``texts`` as review records to the intake webhook,
    ``PUSH_BATCH`` per batch every ``PUSH_EVERY_S``."""
    while not stop.is_set():
        try:
            if httpx.get(f"{feed_url}/healthz", timeout=1.0).status_code == 200:
                break
        except httpx.TransportError:
            stop.wait(0.2)
    run = uuid.uuid4().hex[:8]
    for start in range(0, len(texts), PUSH_BATCH):
        if stop.wait(PUSH_EVERY_S):
            return
        now = datetime.now(timezone.utc).isoformat()
        lines = [json.dumps({"source": "live_push", "url": f"https://reviews.example/{run}/{i}", "product_id": f"review-{run}-{i}",
                             "availability": "unknown", "crawled_at": now, "review_text": [text]})
                 for i, text in enumerate(texts[start:start + PUSH_BATCH], start)]
        httpx.post(f"{intake_url}/v1/signals", content="\n".join(lines) + "\n", timeout=10.0,
                   headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})


@contextmanager
def _intake(settings: Settings, inbox: Path, token: str) -> Iterator[str]:
    """``edge-insights intake serve`` on a free port writing into ``inbox``; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **settings.environment(), "EDGE_INSIGHTS_INTAKE_TOKENS": token}
    with running_process([sys.executable, "-m", "edge_insights", "intake", "serve", "--port", str(port),
                          "--inbox", str(inbox)], settings.logs_dir / "intake.log", answers_healthz(url),
                         timeout_s=60, name="intake webhook", error=OrchestrationError, env=env):
        yield url


def _peak_rss_kb(pid: int) -> int:
    """A process's peak resident set so far (``VmHWM``, kB; 0 where /proc is not there)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "mean": None}
    return {"p50": float(np.percentile(values, 50)), "p90": float(np.percentile(values, 90)),
            "p99": float(np.percentile(values, 99)), "mean": float(np.mean(values))}


def run_live_loop(settings: Settings, *, duration_s: float = 60.0, seconds_per_tick: float = 1.0,
                  start_tick: int = 30, rate: float = 40.0, policy: str = "learned",
                  decisions: tuple[str, ...] = DECISIONS, products: int | None = None,
                  tokens: TokenPlane | None = None, alert_webhook: bool = True,
                  shadow_rate: float = 0.0) -> dict[str, Any]:
    """Run the live loop for ``duration_s`` against the accelerated replay; returns its table.

    Args:
        settings: the state folder with deployed champions (after the demo's job).
        duration_s: how long the watcher revisits pages (wall seconds).
        seconds_per_tick: wall seconds per replay day.
        start_tick: the replay day the market starts at (after the days already in history).
        rate: the watcher's request budget (requests/s).
        policy: ``learned`` or ``round-robin``.
        decisions: the decisions whose pods are started.
        products: products in the market (clones beyond the mirror's books; default the books).
        tokens: the running token endpoint the pods and the watcher (client ``watcher``) get their
            tokens from (None: one is started for the loop).
        alert_webhook: subscribe a loopback receiver to the alerts (``--webhook alerts=URL``, signed
            with a fresh ``whsec_`` secret); the result's ``webhook`` says what it took.
        shadow_rate: share of the edge pods' own answers also scored by their central pod (the
            uniform sample ``drift_sensor`` tests); each decision's ``shadow`` in the result is the
            edge-vs-central divergence over this loop's sample (:func:`training.divergence.divergence`).

    Raises:
        OrchestrationError: the watcher exited non-zero (its log is in the message).
    """
    market = LiveMarket(MarketReplay(settings.data_dir), seconds_per_tick=seconds_per_tick, start_tick=start_tick,
                        n_products=products)
    # The feed is read from the store's head at start: a state folder watched before keeps its insights.
    store_file = store_path(settings.state_dir)
    started_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")  # the decision log's ts format
    seen: list[tuple[dict[str, Any], float]] = []
    first_seq = LiveStore(store_file).head() if store_file.exists() else 0
    stop = threading.Event()
    log_path = settings.logs_dir / "watch.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        base = stack.enter_context(serve_live_market(market))
        plane = tokens or stack.enter_context(running_token_plane(settings))
        pods = []
        for decision in decisions:
            deploy = settings.deploy_dir / decision
            central = stack.enter_context(running_pod(deploy / "central", settings, tokens=plane))
            edge = stack.enter_context(running_pod(deploy / "champion", settings, central_url=central, tokens=plane,
                                                   shadow_rate=shadow_rate))
            pods += ["--pod", f"{decision}={edge}"]
        push: list[str] = []
        if "negative_review" in decisions:
            # The state folder's inbox, so the pushed batches fall under the privacy policy's inbox
            # store (retention, erasure, the privacy report) as the batch path's do.
            inbox, token = settings.inbox_dir, secrets.token_urlsafe(24)
            intake_url = stack.enter_context(_intake(settings, inbox, token))
            # Real reviews the demo's model never saw (past the drift drill's rows).
            texts = [r["review_text"] for r in review_phases(settings.data_dir, skip=400, per_file=12)["in_distribution"]]
            push = ["--inbox", str(inbox)]
        hooks: list[str] = []
        hook_env: dict[str, str] = {}
        if alert_webhook:
            secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
            received = stack.enter_context(alert_receiver(secret))
            hooks, hook_env = ["--webhook", f"alerts={received.url}"], {"EDGE_INSIGHTS_WEBHOOK_SECRET": secret}
        feed_port = free_port()
        feed_url = f"http://127.0.0.1:{feed_port}"
        if push:
            threading.Thread(target=_push_reviews, args=(intake_url, token, texts, feed_url, stop),
                             daemon=True).start()
        subscriber = threading.Thread(target=_subscribe, args=(feed_url, seen, stop, first_seq), daemon=True)
        subscriber.start()
        command = [sys.executable, "-m", "edge_insights", "watch", "--sitemap", f"{base}sitemap.txt", *pods,
                   "--rate", str(rate), "--policy", policy, "--duration", str(duration_s),
                   "--day-seconds", str(seconds_per_tick), *push, *hooks,
                   "--feed-port", str(feed_port)]
        with open(log_path, "w") as log:
            watcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True,
                                       env={**os.environ, **settings.environment(), **hook_env,
                                            **plane.client_env("watcher", list(decisions))})
            peak_kb = 0
            deadline = time.monotonic() + duration_s + 300
            while watcher.poll() is None and time.monotonic() < deadline:
                peak_kb = max(peak_kb, _peak_rss_kb(watcher.pid))
                time.sleep(0.5)
            stdout, _ = watcher.communicate(timeout=max(1.0, deadline - time.monotonic()))
        stop.set()
        subscriber.join(timeout=5)
        if watcher.returncode != 0:
            raise OrchestrationError(f"watch exited {watcher.returncode}:\n{log_path.read_text()[-3000:]}")
        counts = json.loads(stdout.strip().splitlines()[-1])
        webhook = received.summary() if alert_webhook else None
    decided = summarise_insights(market, seen, counts["revisits_from"], counts["revisits_until"])
    for name, row in decided.items():
        if name in decisions:
            logged = read_decisions(settings.decision_log_dir, name, since_ts=started_at)
            row["shadow"] = divergence(r for r in logged if r.get("shadow")).to_dict()
    return {"counts": counts, "decisions": decided, "rate": rate, "policy": policy, "market": base,
            "started_at": started_at, "shadow_rate": shadow_rate,
            "duration_s": duration_s, "seconds_per_tick": seconds_per_tick, "products": len(market.products),
            "received_on_stream": sum(d["insights"] for d in decided.values()),
            "alerts_on_stream": sum(d["alerts"] for d in decided.values()), "webhook": webhook,
            "watcher_peak_rss_mb": round(peak_kb / 1024, 1) if peak_kb else None}


def summarise_insights(market: LiveMarket, seen: list[tuple[dict[str, Any], float]], since: float,
                       until: float) -> dict[str, Any]:
    """Per decision: insights, alerts, routes, received → insight latency and change → insight staleness.

    Staleness is measured on the market's ground truth, as :mod:`benchmarks.live_staleness` does
    in simulation: every price change (price_spike) or stock change (urgent_inventory) the market
    made while the watcher revisited pages (``[since, until)``, epoch seconds) is detected
    by the first insight for that product and decision read off the stream at or after it;
    staleness = that arrival − the change's instant, and a change never detected counts until
    ``until``.
    """
    # An earlier watch of the same state folder left insights in the store; they are not this run's.
    seen = [(i, at) for i, at in seen if i["received_at"] >= market.started_at]
    ground = _ground_truth(market, since, until)
    out: dict[str, Any] = {}
    for decision in sorted({i["decision"] for i, _ in seen}):
        rows = [(i, at) for i, at in seen if i["decision"] == decision]
        arrivals: dict[str, list[float]] = {}
        for insight, at in rows:
            arrivals.setdefault(insight["product_id"], []).append(at)
        staleness = []
        for product_id, instant in ground.get(decision, []):
            times = sorted(arrivals.get(product_id, []))
            index = bisect.bisect_left(times, instant)
            staleness.append((times[index] if index < len(times) else until) - instant)
        out[decision] = {
            "source": "pushed" if decision == "negative_review" else "harvested",
            "insights": len(rows), "alerts": sum(1 for i, _ in rows if i["alert"]),
            "routes": {r: sum(1 for i, _ in rows if i["route"] == r) for r in ("edge", "central", "fallback")},
            "harvest_to_insight_ms": _percentiles([(at - i["received_at"]) * 1000 for i, at in rows]),
            "market_changes": len(ground.get(decision, [])),
            "change_to_insight_s": _percentiles(staleness),
        }
    return out


def _ground_truth(market: LiveMarket, since: float, until: float) -> dict[str, list[tuple[str, float]]]:
    """Decision → (product id, instant) of every price / stock change the market made in [since, until)."""
    out: dict[str, list[tuple[str, float]]] = {"price_spike": [], "urgent_inventory": []}
    for change in market.changes_between(since, until):
        before = market.quote(change.product.index, change.tick - 1)
        if before.price != change.quote.price:
            out["price_spike"].append((change.product.product_id, change.at))
        if (before.stock or 0) != (change.quote.stock or 0):
            out["urgent_inventory"].append((change.product.product_id, change.at))
    return out
