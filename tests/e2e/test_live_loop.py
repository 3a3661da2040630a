"""The live loop on the tiny run's champions: the accelerated market replay, the watcher (Scrapy,
conditional GETs), the real pods, the SSE feed. Insights carry what the market really showed,
``explain`` rebuilds a decision's input from the warehouse with a matching digest, and a watcher
killed with SIGKILL and restarted loses no change and publishes no insight twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from decimal import Decimal

import pytest

from commons.net import free_port
from crawlers.live_market import LiveMarket, serve_live_market
from crawlers.replay import MarketReplay
from edge_insights.live_run import _subscribe, run_live_loop
from edge_insights.pods import running_pod, running_token_plane
from live.explain import explain_insight
from live.store import LiveStore, store_path
from training.decisions import DECISIONS

pytestmark = pytest.mark.timeout(1500)

START_TICK = 12  # the slice's market_replay loaded ticks 0-11
SHADOW_RATE = 0.5


def _deployed(job_run) -> tuple[str, ...]:
    _, outcome = job_run
    names = tuple(d for d in ("price_spike", "urgent_inventory")
                  if outcome.assets.get(f"{d}/deployed_bundle", {}).get("deployed"))
    assert names, "the tiny run deployed neither price_spike nor urgent_inventory"
    return names


@pytest.fixture(scope="module")
def live_run(job_run):
    settings, _ = job_run
    return settings, run_live_loop(settings, duration_s=12, seconds_per_tick=0.5, start_tick=START_TICK,
                                   rate=40.0, decisions=_deployed(job_run), shadow_rate=SHADOW_RATE)


def test_every_change_becomes_one_insight_on_the_stream(live_run):
    settings, out = live_run
    counts = out["counts"]
    assert counts["changes"].get("pending", 0) == 0 and counts["changes"].get("failed", 0) == 0
    assert counts["pending_at_stop"] == 0
    store = LiveStore(store_path(settings.state_dir))
    rows = store.query("SELECT insight_id, decision, label, route FROM insights")
    assert len({r["insight_id"] for r in rows}) == len(rows) == counts["insights"]
    assert sum(d["insights"] for d in out["decisions"].values()) == out["received_on_stream"] > 0
    for r in rows:
        assert r["label"] in DECISIONS[r["decision"]].labels and r["route"] in ("edge", "central", "fallback")


def test_the_loop_reports_edge_vs_central_on_its_own_shadow_sample(live_run):
    """Each decision's ``shadow``: the edge answers of this loop that central also scored (a
    SHADOW_RATE sample of those the edge kept), and how many it disagreed with, as the decision log
    holds them; a shadow score never changes the answer served."""
    settings, out = live_run
    for name, row in out["decisions"].items():
        logged = [json.loads(line) for path in sorted((settings.decision_log_dir / name).glob("*.jsonl"))
                  for line in path.read_text().splitlines() if line.strip()]
        lines = [x for x in logged if x.get("shadow") and x.get("central_label") is not None
                 and x["ts"] > out["started_at"]]
        assert row["shadow"]["compared"] == len(lines) > 0
        assert row["shadow"]["disagreements"] == sum(x["edge_label"] != x["central_label"] for x in lines)
        assert all(x["route"] == "edge" and x["label"] == x["edge_label"] for x in lines)


def test_every_alert_reaches_the_signed_webhook_subscriber_once(live_run):
    settings, out = live_run
    hook, counts = out["webhook"], out["counts"]
    assert hook["refused"] == 0 and counts["undelivered_at_stop"] == 0
    # Every alert read off the stream was POSTed, signed, and taken once (deduplicated on webhook-id).
    assert hook["alerts"] == out["alerts_on_stream"]
    assert hook["by_decision"] == {d: v["alerts"] for d, v in out["decisions"].items() if v["alerts"]}
    store = LiveStore(store_path(settings.state_dir))
    delivered = store.query("SELECT insight_id FROM deliveries WHERE subscriber = ? AND state = 'delivered'",
                            (hook["url"],))
    assert len(delivered) == hook["alerts"]
    # Only alerts were sent: the subscriber filters for them.
    assert store.query("SELECT COUNT(*) AS n FROM deliveries d JOIN insights i USING (insight_id) "
                       "WHERE d.subscriber = ? AND i.alert = 0", (hook["url"],))[0]["n"] == 0


def test_price_insights_carry_the_price_the_market_showed(live_run, data_dir):
    settings, out = live_run
    store = LiveStore(store_path(settings.state_dir))
    rows = store.query("SELECT i.product_id, i.after, c.signal FROM insights i JOIN changes c USING (change_id) "
                       "WHERE i.kind = 'price'")
    assert rows, "no price change seen in 12 s of replay"
    replay = MarketReplay(data_dir)
    market = LiveMarket(replay, seconds_per_tick=0.5, start_tick=START_TICK)
    # The tick each page was served at is not known here (the watcher starts in its own time, then
    # watches 12 s at 2 ticks/s): the price must be one the product's series shows over the run.
    ticks = range(START_TICK, START_TICK + 400)
    for row in rows[:50]:
        observed = Decimal(json.loads(row["signal"])["price"])
        assert observed == Decimal(str(json.loads(row["after"]))).quantize(Decimal("0.01"))
        assert observed in {market.quote(row["product_id"], t).price for t in ticks}


def test_explain_rebuilds_the_input_from_the_warehouse(live_run):
    settings, out = live_run
    store = LiveStore(store_path(settings.state_dir))
    for decision in out["decisions"]:
        # Other tests share the state folder and watch too: explain an insight of this run.
        insight = store.query("SELECT insight_id FROM insights WHERE decision = ? AND url LIKE ? "
                              "ORDER BY seq DESC LIMIT 1", (decision, f"{out['market']}%"))[0]
        report = explain_insight(settings, insight["insight_id"])
        assert report["digest_matches"], report
        answered = report["edge"] if report["route"] == "edge" else report["central"]
        assert answered is not None and answered["bundle_sha256"] == report["bundle_sha256"], report


def test_sigkill_and_restart_lose_no_change_and_publish_no_insight_twice(job_run, data_dir):
    settings, _ = job_run
    decisions = _deployed(job_run)
    market = LiveMarket(MarketReplay(data_dir), seconds_per_tick=0.25, start_tick=START_TICK)
    seen: list[tuple[dict, float]] = []
    stop = threading.Event()
    env = {**os.environ, **settings.environment()}
    with ExitStack() as stack:
        base = stack.enter_context(serve_live_market(market))
        plane = stack.enter_context(running_token_plane(settings))
        env.update(plane.client_env("watcher", list(decisions)))
        pods = []
        for decision in decisions:
            central = stack.enter_context(running_pod(settings.deploy_dir / decision / "central", settings,
                                                      tokens=plane))
            edge = stack.enter_context(running_pod(settings.deploy_dir / decision / "champion", settings,
                                                   central_url=central, tokens=plane))
            pods += ["--pod", f"{decision}={edge}"]
        feed_port = free_port()
        command = [sys.executable, "-m", "edge_insights", "watch", "--sitemap", f"{base}sitemap.txt", *pods,
                   "--rate", "40", "--feed-port", str(feed_port)]
        subscriber = threading.Thread(target=_subscribe, args=(f"http://127.0.0.1:{feed_port}", seen, stop),
                                      daemon=True)
        subscriber.start()
        store_file = store_path(settings.state_dir)
        first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if store_file.exists() and LiveStore(store_file).query(
                    "SELECT COUNT(*) AS n FROM insights WHERE url LIKE ?", (f"{base}%",))[0]["n"] >= 30:
                break
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        killed_at = LiveStore(store_file).query("SELECT COUNT(*) AS n FROM changes WHERE url LIKE ?",
                                                (f"{base}%",))[0]["n"]
        assert killed_at >= 30
        done = subprocess.run([*command, "--duration", "6"], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        time.sleep(0.5)
        stop.set()
        subscriber.join(timeout=10)
    store = LiveStore(store_file)
    changes = store.query("SELECT state, COUNT(*) AS n FROM changes WHERE url LIKE ? GROUP BY state", (f"{base}%",))
    states = {r["state"]: r["n"] for r in changes}
    assert set(states) == {"done"} and states["done"] > killed_at
    insights = store.query("SELECT insight_id, change_id FROM insights WHERE url LIKE ?", (f"{base}%",))
    assert len(insights) == states["done"] == len({i["change_id"] for i in insights})
    streamed = [i["insight_id"] for i, _ in seen if i["url"].startswith(base)]
    assert len(streamed) == len(set(streamed)) == len(insights)
    # Each product's known state after the restart is a page the market really served, at some tick
    # between its start and now (a slow machine serves more ticks than a fixed bound allows).
    ticks = range(START_TICK, market.current_tick() + 1)
    for row in store.query("SELECT product_id, record FROM products WHERE url LIKE ? AND record IS NOT NULL "
                           "LIMIT 40", (f"{base}%",)):
        price = Decimal(json.loads(row["record"])["price"])
        assert price in {market.quote(row["product_id"], t).price for t in ticks}


def test_dagster_observes_the_insights_and_digests_the_day(live_run):
    import dagster as dg

    from orchestration.assets.live import insight_digest, insights_observer
    from orchestration.resources import DecisionLogResource, LiveStoreResource, WarehouseResource

    settings, out = live_run
    store = LiveStore(store_path(settings.state_dir))
    newest = store.query("SELECT MAX(published) AS at, COUNT(*) AS n FROM insights")[0]
    with dg.instance_for_test() as instance, dg.build_sensor_context(
            instance=instance, resources={"live_store": LiveStoreResource(path=str(store.path))}) as context:
        result = insights_observer(context)
    (observation,) = result.asset_events
    assert result.skip_reason.skip_message.startswith(f"observed insights: {newest['n']} held, newest published ")
    assert observation.metadata["dagster/last_updated_timestamp"].value == pytest.approx(newest["at"])
    assert observation.metadata["insights"].value == newest["n"]
    done = dg.materialize([insight_digest], resources={
        "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
        "decision_log": DecisionLogResource(root=str(settings.decision_log_dir))})
    metadata = done.asset_materializations_for_node("insight_digest")[0].metadata
    # Every insight of the live loop (published within the day) reached the warehouse's table.
    assert metadata["insights"].value == newest["n"]
    per = metadata["per_decision"].value
    assert {d: v["insights"] for d, v in per.items()} == {
        r["decision"]: r["n"] for r in store.query("SELECT decision, COUNT(*) AS n FROM insights GROUP BY decision")}
    for decision, v in per.items():
        routed = store.query("SELECT COUNT(*) AS n FROM insights WHERE decision = ? AND route = 'central'",
                             (decision,))[0]["n"]
        # Routed cases carry both answers in the decision log, so at least those are compared.
        assert v["compared"] >= routed and (v["agreement"] is None or 0.0 <= v["agreement"] <= 1.0)
