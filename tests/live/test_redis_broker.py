"""The Redis broker (live.redis_broker) against a real redis-server, started for this module on a
free loopback port with no persistence (Debian package ``redis-server``; ``.ci/run`` installs it).

Deciders talk to a real pod: ``edge-insights serve`` on a ``price_spike`` central bundle whose
oracle is the decision's label rule, sealed as the release step seals it, with tokens required; the
deciders hold a client credential of the token endpoint (a real process too). Real model pods would
need trained bundles (minutes of training); the rule pod runs the same HTTP API, contract check and
decision log without one. No assertion reads the wall clock: waits are bounded polls.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack

import pytest
import redis
from starlette.testclient import TestClient

from commons.net import free_port
from commons.settings import Settings
from commons.warehouse import Warehouse
from crawlers.intake.batch import parse_batch
from crawlers.live_market import LiveMarket, serve_live_market
from crawlers.replay import MarketReplay
from edge_insights.broker_load import append_price_change, deploy_rule_pod, running_redis
from edge_insights.pods import running_pod, running_token_plane
from release_keys import session_signer
from live.capture import ChangeCapture
from live.decide import Decider
from live.feed import feed_app
from live.redis_broker import RedisBroker
from live.scaleout import run_decider, run_decider_until_signalled

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def redis_url():
    _need_redis_server()
    with running_redis() as url:
        yield url


@pytest.fixture(scope="module")
def plane():
    with running_token_plane(Settings.from_env()) as plane:
        yield plane


@pytest.fixture(scope="module")
def pod_url(plane, tmp_path_factory):
    with running_pod(deploy_rule_pod(tmp_path_factory.mktemp("rule_pod"), session_signer()), plane.settings,
                     tokens=plane) as url:
        yield url


def _need_redis_server() -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server; .ci/run installs it)")


@pytest.fixture
def ns() -> str:
    """A key namespace of this test alone (the server is shared by the module)."""
    return f"test-{uuid.uuid4().hex[:8]}"


def _insight(change, label: str = "normal", decision: str | None = None) -> dict:
    """An insight for ``change`` as the decider builds it (the pod's answer made up)."""
    return {"insight_id": f"i-{change.change_id}", "change_id": change.change_id,
            "decision": decision or change.decision, "label": label, "score": 0.9, "route": "central",
            "alert": label == "spike", "alert_value": change.after, "product_id": change.product_id,
            "url": change.url, "kind": change.kind, "before": change.before, "after": change.after,
            "changed_at": change.changed_at, "decided_at": change.changed_at, "model_version": "1",
            "bundle_sha256": "b" * 64, "signal_digest": "d" * 64, "received_at": change.received_at}


def _wait(predicate, timeout_s: float = 60.0, every_s: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not (got := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every_s)
    return got


def test_each_change_is_claimed_by_one_of_two_consumers(redis_url, ns):
    a = RedisBroker(redis_url, namespace=ns, consumer="a")
    b = RedisBroker(redis_url, namespace=ns, consumer="b")
    ids = {append_price_change(a, i, tag=ns) for i in range(40)}
    first = a.pending(time.time(), limit=15)
    second = b.pending(time.time(), limit=100)
    assert len(first) == 15 and len(second) == 25
    assert {c.change_id for c in first} | {c.change_id for c in second} == ids
    assert not {c.change_id for c in first} & {c.change_id for c in second}
    assert [c.seq for c in first] == sorted(c.seq for c in first)
    # Unsettled claims stay with their consumer: asked again, b gets its own back and none of a's.
    assert [c.change_id for c in b.pending(time.time(), limit=100)] == [c.change_id for c in second]
    assert a.counts()["changes"] == {"pending": 40}


def test_a_dead_consumers_changes_are_taken_over_after_the_visibility_timeout(redis_url, ns):
    dead = RedisBroker(redis_url, namespace=ns, consumer="dead", visibility_s=1.0)
    live = RedisBroker(redis_url, namespace=ns, consumer="live", visibility_s=1.0)
    for i in range(10):
        append_price_change(dead, i, tag=ns)
    claimed = dead.pending(time.time(), limit=100)
    assert len(claimed) == 10
    assert live.pending(time.time()) == []  # claimed, and not idle long enough to take over
    taken = _wait(lambda: live.pending(time.time()))
    assert {c.change_id for c in taken} == {c.change_id for c in claimed}
    assert live.publish([_insight(c) for c in taken], [c.change_id for c in taken]) == 10
    assert live.counts()["changes"] == {"done": 10}
    # The dead consumer comes back and publishes what it had decided: nothing is published twice.
    assert dead.publish([_insight(c) for c in claimed], [c.change_id for c in claimed]) == 0
    assert live.counts()["insights"] == 10 and live.redis.xlen(f"{ns}:insights") == 10


def test_publish_is_idempotent(redis_url, ns):
    a = RedisBroker(redis_url, namespace=ns, consumer="a")
    append_price_change(a, 0, tag=ns)
    (change,) = a.pending(time.time())
    insight = _insight(change, "spike")
    assert a.publish([insight], [change.change_id]) == 1
    assert a.publish([insight], [change.change_id]) == 0
    assert a.redis.xlen(f"{ns}:insights") == 1 and a.head() == 1
    assert a.counts()["changes"] == {"done": 1}
    (row,) = a.insights_after(0)
    assert row["seq"] == 1 and row["insight_id"] == insight["insight_id"] and row["alert"] is True
    assert row["before"] == change.before and row["after"] == change.after
    assert a.last_alert(change.url, change.decision)["value"] == change.after


def test_the_feed_reads_insights_in_order_and_resumes_after_an_id(redis_url, ns):
    a = RedisBroker(redis_url, namespace=ns, consumer="a")
    for i in range(6):
        append_price_change(a, i, tag=ns)
    changes = a.pending(time.time())
    labels = ["normal", "spike"] * 3
    for change, label in zip(changes, labels):
        a.publish([_insight(change, label)], [change.change_id])
    rows = a.insights_after(0)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["insight_id"] for r in rows] == [f"i-{c.change_id}" for c in changes]
    assert [r["seq"] for r in a.insights_after(2)] == [3, 4, 5, 6]
    assert [r["seq"] for r in a.insights_after(0, label="spike")] == [2, 4, 6]
    assert [r["seq"] for r in a.insights_after(2, label="spike", limit=1)] == [4]
    assert a.insights_after(6) == []
    # The feed's HTTP API over the Redis broker: the same rows, the id an integer to resume after.
    with TestClient(feed_app(a)) as client:
        listed = client.get("/v1/insights", params={"since": 3}).json()["insights"]
        health = client.get("/healthz").json()
    assert [r["seq"] for r in listed] == [4, 5, 6] and listed == rows[3:]
    assert health["head"] == 6 and health["counts"]["insights"] == 6


def test_trim_drops_only_what_every_group_settled_and_keeps_the_feed_window(redis_url, ns, tmp_path):
    a = RedisBroker(redis_url, namespace=ns, consumer="a")
    for i in range(30):
        append_price_change(a, i, tag=ns)
    claimed = a.pending(time.time(), limit=20)
    a.publish([_insight(c) for c in claimed[:10]], [c.change_id for c in claimed[:10]])
    # The warehouse group has read nothing yet: nothing is settled by every group.
    assert a.trim(keep=5) == {f"{ns}:changes": 0, f"{ns}:insights": 0, f"{ns}:quarantine": 0}
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    assert a.flush_to_warehouse(warehouse, "run-1")[0] == 10
    # Changes 1-10 are decided and copied; 11-20 are claimed, not settled; 21-30 unread by deciders.
    assert a.trim(keep=5) == {f"{ns}:changes": 10, f"{ns}:insights": 5, f"{ns}:quarantine": 0}
    assert a.redis.xrange(f"{ns}:changes", count=1)[0][0] == "11-0"
    assert [r["seq"] for r in a.insights_after(0)] == [6, 7, 8, 9, 10]
    assert a.counts()["changes"] == {"pending": 20, "done": 10} and a.counts()["insights"] == 10
    # What was claimed or unread is still there to settle: a second decider finishes the work.
    b = RedisBroker(redis_url, namespace=ns, consumer="b")
    rest = b.pending(time.time(), limit=100)
    assert [c.seq for c in rest] == list(range(21, 31))
    assert b.publish([_insight(c) for c in rest], [c.change_id for c in rest]) == 10
    assert a.publish([_insight(c) for c in claimed[10:]], [c.change_id for c in claimed[10:]]) == 10
    assert a.counts()["changes"] == {"done": 30}
    # Publish-once and append-once keys expire (a week): the server does not keep one per change forever.
    assert 0 < a.redis.ttl(f"{ns}:insight:{_insight(rest[0])['insight_id']}") <= 7 * 86_400
    assert 0 < a.redis.ttl(f"{ns}:change:{rest[0].change_id}") <= 7 * 86_400


def test_capture_moves_the_state_and_appends_the_change_together(redis_url, ns):
    writer = RedisBroker(redis_url, namespace=ns, consumer="w")
    url = f"http://shop.test/{ns}/p/0"
    snapshots: list[tuple[int, int]] = []
    done = threading.Event()

    def read() -> None:
        # A transaction reads both at one instant: the product's change counter and the stream length.
        while not done.is_set():
            pipe = writer.redis.pipeline(transaction=True)
            pipe.hget(f"{ns}:product:{url}", "changes")
            pipe.xlen(f"{ns}:changes")
            counter, length = pipe.execute()
            snapshots.append((int(counter or 0), length))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(300):
            append_price_change(writer, i, products=1, tag=ns)
    finally:
        done.set()
        reader.join()
    assert len(snapshots) > 10 and all(counter == length for counter, length in snapshots)
    state = writer.product(url)
    assert state["changes"] == 300 and state["visits"] == 300 and state["record"]["product_id"] == f"{ns}-0"
    # A change seen again (a watcher restarted before its state moved on) is not appended twice.
    append_price_change(writer, 299, products=1, tag=ns)
    assert writer.redis.xlen(f"{ns}:changes") == 300


def test_a_refusal_in_force_outlives_the_broker_that_recorded_it_until_it_ends(redis_url, ns):
    first = RedisBroker(redis_url, namespace=ns, consumer="w")
    flip, other = f"http://shop.test/{ns}/flip", f"http://shop.test/{ns}/other"
    first.add_products([flip, other])
    reason = f"duplicate: redirected to {other}"
    first.refuse(flip, reason)
    restarted = RedisBroker(redis_url, namespace=ns, consumer="w")  # the next watcher's
    assert restarted.refusals() == {flip: reason}
    assert restarted.counts()["quarantined"] == {reason: 1}
    restarted.end_refusal(flip)
    assert restarted.refusals() == {}
    restarted.refuse(flip, reason)  # it came back: a row of its own
    assert restarted.counts()["quarantined"] == {reason: 2}


def test_a_record_that_fed_no_change_reaches_the_warehouse_once(redis_url, ns, tmp_path):
    """A pushed product's first sight feeds no change, yet its price is in the window the next
    change is decided on: the warehouse copies it too (``N:observations``), then forgets it."""
    rows = [{"source": "partner", "url": f"https://partner.test/{ns}/a", "product_id": f"{ns}-A", "title": "Kettle",
             "price": price, "currency": "EUR", "availability": "in_stock", "stock_count": 5,
             "crawled_at": f"2026-11-30T0{hour}:00:00+00:00"} for hour, price in ((0, "10.00"), (1, "30.00"))]
    first, second = parse_batch("".join(json.dumps(r) + "\n" for r in rows).encode(), "jsonl", "b1").records
    broker = RedisBroker(redis_url, namespace=ns, consumer="w")
    capture = ChangeCapture(broker)
    assert capture.observe(first["url"], first, None, 1.0) == []
    assert [c["decision"] for c in capture.observe(second["url"], second, None, 2.0)] == ["price_spike"]
    assert broker.redis.xlen(f"{ns}:observations") == 1
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    assert broker.flush_to_warehouse(warehouse, "run-1") == (0, 2)
    assert broker.redis.xlen(f"{ns}:observations") == 0
    assert broker.flush_to_warehouse(warehouse, "run-1") == (0, 0)


def test_two_deciders_turn_every_change_into_exactly_one_insight(redis_url, ns, plane, pod_url):
    brokers = [RedisBroker(redis_url, namespace=ns, consumer=f"decider-{i}", visibility_s=2.0) for i in range(2)]
    tokens = plane.client("decider", ["price_spike"])
    deciders = [Decider(b, {"price_spike": pod_url}, tokens=tokens, cooldown_s=0.0) for b in brokers]
    dead = RedisBroker(redis_url, namespace=ns, consumer="dead", visibility_s=2.0)
    for i in range(10):
        append_price_change(dead, i, tag=ns)
    assert len(dead.pending(time.time(), limit=10)) == 10  # claimed, then the process "dies"
    threads = [threading.Thread(target=run_decider, args=(b, d, None, 0.01)) for b, d in zip(brokers, deciders)]
    for thread in threads:
        thread.start()
    try:
        for i in range(10, 200):
            append_price_change(brokers[0], i, tag=ns)
        _wait(lambda: brokers[0].counts()["changes"] == {"done": 200})
    finally:
        for decider in deciders:
            decider.stop()
        for thread in threads:
            thread.join(timeout=30)
    rows = brokers[0].insights_after(0, limit=1000)
    assert len(rows) == 200 == len({r["insight_id"] for r in rows}) == brokers[0].head()
    assert [r["seq"] for r in rows] == list(range(1, 201))
    assert {r["label"] for r in rows} == {"normal", "spike"}  # the rule decided both ways
    assert all(r["decision"] == "price_spike" and r["model_version"] == "1" for r in rows)
    owners = {c["name"]: c["pending"] for c in brokers[0].redis.xinfo_consumers(f"{ns}:changes", "deciders")}
    assert set(owners.values()) == {0}  # nothing left claimed, the dead consumer's included


def test_changes_wait_for_an_unreachable_pod_and_are_decided_when_it_is_back(redis_url, ns, plane, tmp_path):
    broker = RedisBroker(redis_url, namespace=ns, consumer="a")
    port = free_port()
    decider = Decider(broker, {"price_spike": f"http://127.0.0.1:{port}"},
                      tokens=plane.client("decider-pod-down", ["price_spike"]), max_tries=2, backoff_s=0.01,
                      max_wait_s=0.05)
    for i in range(5):
        append_price_change(broker, i, tag=ns)
    assert decider.drain(1.0) == 5  # past max_tries, still waiting in the retry set
    counts = broker.counts()
    assert counts["changes"] == {"pending": 5} and counts["quarantined"] == {} and counts["insights"] == 0
    with running_pod(deploy_rule_pod(tmp_path / "back", session_signer()), plane.settings, tokens=plane, port=port):
        assert decider.drain(60) == 0
    counts = broker.counts()
    assert counts["changes"] == {"done": 5} and counts["insights"] == 5 and counts["quarantined"] == {}


def test_a_redis_failure_in_the_decide_thread_reaches_the_command(ns):
    """The decide command decides in a worker thread; a broker that fails there still fails the
    command (the process exits and its claims go to the other deciders), it is not swallowed."""
    _need_redis_server()
    with running_redis() as url:
        broker = RedisBroker(url, namespace=ns)
    with pytest.raises(redis.ConnectionError):
        run_decider_until_signalled(broker, Decider(broker, {}), duration_s=0.5)


def _db(url: str, number: int) -> str:
    """``url`` with another database number: the commands use the default namespace, so each test
    that runs them gets a database of its own."""
    return f"{url.rsplit('/', 1)[0]}/{number}"


def test_decide_command_decides_alone_against_the_broker(redis_url, ns, plane, pod_url, tmp_path):
    """``edge-insights decide`` with EDGE_INSIGHTS_BROKER, as a scale-out deployment runs it."""
    redis_url = _db(redis_url, 1)
    producer = RedisBroker(redis_url)
    for i in range(20):
        append_price_change(producer, i, tag=ns)
    settings = Settings.from_env(state_dir=tmp_path / "state")
    env = {**os.environ, **settings.environment(), "EDGE_INSIGHTS_BROKER": redis_url,
           **plane.client_env("decide-command", ["price_spike"])}
    done = subprocess.run([sys.executable, "-m", "edge_insights", "decide", "--pod", f"price_spike={pod_url}",
                           "--duration", "8", "--consumer", "cli"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["changes"] == {"done": 20} and summary["insights"] == 20
    assert len(producer.insights_after(0)) == 20


def test_a_capturing_watcher_and_two_deciders_share_the_live_loop(redis_url, plane, pod_url, data_dir, tmp_path):
    """The scale-out deployment on the live market replay: ``watch --no-decider`` captures, two
    ``decide`` processes decide, through one Redis broker; every captured change becomes one
    insight, and the watcher copies what it captured into its warehouse."""
    redis_url = _db(redis_url, 2)
    settings = Settings.from_env(state_dir=tmp_path / "state")
    env = {**os.environ, **settings.environment(), "EDGE_INSIGHTS_BROKER": redis_url}
    decider_env = {**env, **plane.client_env("decide-scaleout", ["price_spike", "urgent_inventory"])}
    market = LiveMarket(MarketReplay(data_dir), seconds_per_tick=0.25, start_tick=12)
    with ExitStack() as stack:
        base = stack.enter_context(serve_live_market(market))
        stock_pod = stack.enter_context(running_pod(deploy_rule_pod(tmp_path / "stock_pod", session_signer(),
                                                                    "urgent_inventory"),
                                                    plane.settings, tokens=plane))
        pods = ["--pod", f"price_spike={pod_url}", "--pod", f"urgent_inventory={stock_pod}"]
        deciders = [subprocess.Popen([sys.executable, "-m", "edge_insights", "decide", *pods, "--consumer", f"d{i}"],
                                     env=decider_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for i in range(2)]
        for process in deciders:
            stack.callback(process.kill)
        watched = subprocess.run([sys.executable, "-m", "edge_insights", "watch", "--sitemap", f"{base}sitemap.txt",
                                  "--no-decider", "--rate", "40", "--duration", "10"],
                                 env=env, capture_output=True, text=True, timeout=300)
        assert watched.returncode == 0, watched.stderr[-3000:]
        broker = RedisBroker(redis_url)
        _wait(lambda: "pending" not in broker.counts()["changes"], timeout_s=120)
        summaries = []
        for process in deciders:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=60)
            assert process.returncode == 0, err[-3000:]
            summaries.append(json.loads(out.strip().splitlines()[-1]))
    counts = broker.counts()
    captured = int(broker.redis.hget("edge-insights:counts", "captured"))
    assert captured > 0 and counts["changes"] == {"done": captured} and counts["insights"] == captured
    rows = broker.insights_after(0, limit=10_000)
    assert len({r["insight_id"] for r in rows}) == len(rows) == captured
    assert {r["decision"] for r in rows} <= {"price_spike", "urgent_inventory"}
    assert summaries[-1]["changes"] == {"done": captured}
    watch_summary = json.loads(watched.stdout.strip().splitlines()[-1])
    assert watch_summary["products"] == len(market.products) and watch_summary["visits"] > 0
    # Every signal the watcher captured reached its warehouse (the copy runs until the watcher stops).
    history = Warehouse(settings.warehouse_path).frame(
        "SELECT count(*) AS n FROM signal_history WHERE partition_key = 'live'")["n"][0]
    assert history > 0
