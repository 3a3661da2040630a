"""Outgoing webhooks (live.webhooks) against a real loopback receiver that verifies every
request's Standard Webhooks signature: each insight reaches a healthy subscriber exactly once,
5xx/429/unreachable are retried with backoff until delivered or dead, other answers are dead at
once with their reason, a slow subscriber holds up no other, filters pick what each subscriber
gets, and a restarted worker resumes from the store without re-delivering.

Insights go into a temporary LiveStore through ``LiveStore.publish``, shaped as the decider
builds them. Waits are bounded polls on the store or the receiver, never timing assertions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from typer.testing import CliRunner

from commons.net import free_port
from commons.privacy_policy import load_policy
from edge_insights.cli import app
from live.capture import change_id
from live.decide import ALERT_LABELS, insight_id
from live.metrics import LiveMetrics
from live.store import LiveStore
from live.store import store_path
from live.webhooks import MAX_RETRY_AFTER_S, WebhookDelivery, parse_subscriber, retry_after_s, signer
from training.decisions import DECISIONS

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
KINDS = {"price_spike": "price", "urgent_inventory": "stock", "negative_review": "review"}
BOUND_S = 30.0  # the longest any wait below may take before the test fails
STARTUP_S = 180.0  # the longest a watcher process may take to start


def make_insight(n: int, decision: str = "price_spike", alert: bool = False) -> dict:
    """An insight as ``Decider._insight`` builds it for the ``n``-th product's first change."""
    url = f"https://shop.example/catalogue/product-{n}/"
    change = change_id(url, decision, 1)
    digest = hashlib.sha256(f"signal {n} {decision}".encode()).hexdigest()
    kind = KINDS[decision]
    before, after = {"price": (19.99, 24.5), "stock": (12, 2), "review": (None, None)}[kind]
    now = time.time()
    return {"insight_id": insight_id(decision, digest, change), "change_id": change, "decision": decision,
            "label": ALERT_LABELS[decision] if alert else DECISIONS[decision].labels[0],
            "score": 0.93 if alert else 0.08, "route": "edge", "alert": alert, "alert_value": after,
            "product_id": f"bk{n:05d}", "url": url, "kind": kind, "before": before, "after": after,
            "changed_at": datetime.fromtimestamp(now - 0.2, timezone.utc).isoformat(),
            "decided_at": datetime.fromtimestamp(now, timezone.utc).isoformat(), "model_version": "3",
            "bundle_sha256": hashlib.sha256(b"bundle").hexdigest(), "signal_digest": digest,
            "received_at": now - 0.2}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    payload: dict


class Receiver:
    """A webhook endpoint on loopback. It verifies each request's signature (401 when it fails)
    and answers by path: ``/ok…`` 200; ``/flaky`` 503 twice per webhook-id, then 200; ``/bad`` 400
    with a reason; ``/moved`` 301; ``/busy`` 429 with ``Retry-After: 3600``; ``/gone`` 410; ``/slow`` 200 once
    :attr:`release` is set. ``GET`` answers an empty body (a sitemap listing no page)."""

    def __init__(self) -> None:
        self.verifier = Webhook(SECRET)
        self.lock = threading.Lock()
        self.requests: list[Received] = []
        self.unverified: list[str] = []
        self.tries: Counter = Counter()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                status, headers, text = receiver.answer(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def do_GET(self) -> None:  # an empty sitemap.txt, for a watcher with nothing to revisit
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            payload = self.verifier.verify(body, headers)
        except WebhookVerificationError as exc:
            with self.lock:
                self.unverified.append(f"{path}: {exc}")
            return 401, {}, b"bad signature"
        with self.lock:
            self.requests.append(Received(path, {k.lower(): v for k, v in headers.items()}, body, payload))
            self.tries[path, payload["insight_id"]] += 1
            tries = self.tries[path, payload["insight_id"]]
        if path == "/flaky" and tries <= 2:
            return 503, {}, b"warming up"
        if path == "/bad":
            return 400, {}, b'{"error": "missing field: customer_id"}'
        if path == "/moved":
            return 301, {"location": f"{self.base}/ok"}, b""
        if path == "/busy":
            return 429, {"retry-after": "3600"}, b"slow down"
        if path == "/gone":
            return 410, {}, b"unsubscribed"
        if path == "/slow":
            self.release.wait(BOUND_S)
        return 200, {}, b"ok"

    def ids(self, path: str) -> list[str]:
        """The webhook-ids ``path`` was sent, in arrival order (each attempt once)."""
        with self.lock:
            return [r.headers["webhook-id"] for r in self.requests if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.release.set()
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def store(tmp_path) -> LiveStore:
    return LiveStore(store_path(tmp_path / "state"))


@contextmanager
def delivering(store: LiveStore, specs: list[str], **kwargs) -> Iterator[WebhookDelivery]:
    """A running worker (as the watcher runs it: ``run`` in a thread), stopped on exit."""
    options = {"backoff_s": 0.01, "max_tries": 4, "timeout_s": 5.0, **kwargs}
    worker = WebhookDelivery(store, [parse_subscriber(s) for s in specs], SECRET, **options)
    thread = threading.Thread(target=worker.run, kwargs={"idle_s": 0.01}, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(BOUND_S)
        assert not thread.is_alive()


def until(predicate: Callable[[], bool], bound_s: float = BOUND_S) -> bool:
    deadline = time.monotonic() + bound_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def rows(store: LiveStore, subscriber: str) -> list[dict]:
    return store.query("SELECT * FROM deliveries WHERE subscriber = ? ORDER BY seq", (subscriber,))


def outcome(metrics: LiveMetrics, name: str) -> float:
    return metrics.registry.get_sample_value("live_webhook_deliveries_total", {"outcome": name}) or 0.0


@pytest.mark.slow
def test_every_insight_reaches_a_healthy_subscriber_once_signed_with_its_id(store, receiver):
    metrics = LiveMetrics()
    url = f"{receiver.base}/ok"
    published = [make_insight(n, d, alert=n % 3 == 0) for n, d in enumerate(list(DECISIONS) * 4)]
    with delivering(store, [url], metrics=metrics) as worker:
        for start in range(0, len(published), 5):  # in several publishes, as the decider's batches come
            store.publish(published[start:start + 5], [])
        assert worker.drain(BOUND_S) == 0
    ids = [i["insight_id"] for i in published]
    assert receiver.ids("/ok") == ids  # each once, oldest first
    assert not receiver.unverified
    stored = {i["insight_id"]: i for i in store.insights_after(0)}
    for request in receiver.requests:
        assert request.payload == stored[request.headers["webhook-id"]]  # the feed's insight, verbatim
        assert request.headers["content-type"] == "application/json"
        with pytest.raises(WebhookVerificationError):  # signed with the secret, not merely well-formed
            Webhook("whsec_" + base64.b64encode(os.urandom(32)).decode()).verify(request.body, request.headers)
    assert [(r["state"], r["tries"]) for r in rows(store, url)] == [("delivered", 1)] * len(ids)
    assert outcome(metrics, "delivered") == len(ids) and outcome(metrics, "retried") == 0
    assert metrics.registry.get_sample_value("live_insight_to_delivery_seconds_count") == len(ids)
    # The column the privacy policy ages deliveries by holds when each was owed: retention keeps
    # them for the policy's period (a 0 there made the demo's retention run delete all 274).
    policy = load_policy().stores["live_deliveries"]
    aged_by = [r[policy.time] for r in rows(store, url)]
    assert all(time.time() - 60 < t <= time.time() for t in aged_by)


@pytest.mark.slow
def test_a_subscriber_answering_503_twice_gets_it_on_the_third_try(store, receiver):
    metrics = LiveMetrics()
    url = f"{receiver.base}/flaky"
    published = [make_insight(n) for n in range(2)]
    with delivering(store, [url], metrics=metrics) as worker:
        store.publish(published, [])
        assert worker.drain(BOUND_S) == 0
    for insight in published:
        assert receiver.ids("/flaky").count(insight["insight_id"]) == 3  # same webhook-id on each retry
    for row in rows(store, url):
        assert (row["state"], row["tries"]) == ("delivered", 3)
        assert row["last_error"] == "http_503 Service Unavailable: warming up"
    assert outcome(metrics, "retried") == 4 and outcome(metrics, "delivered") == 2


@pytest.mark.slow
@pytest.mark.parametrize("path, error", [
    ("/bad", 'http_400 Bad Request: {"error": "missing field: customer_id"}'),
    ("/moved", "http_301 Moved Permanently"),  # never followed (the spec)
])
def test_a_final_answer_is_dead_at_once_with_its_reason(store, receiver, path, error):
    metrics = LiveMetrics()
    url = receiver.base + path
    with delivering(store, [url], metrics=metrics) as worker:
        store.publish([make_insight(1)], [])
        assert worker.drain(BOUND_S) == 0
    [row] = store.deliveries(state="dead")
    assert (row["subscriber"], row["state"], row["tries"], row["last_error"]) == (url, "dead", 1, error)
    assert len(receiver.ids(path)) == 1 and receiver.ids("/ok") == []
    assert outcome(metrics, "dead") == 1 and outcome(metrics, "retried") == 0


@pytest.mark.slow
def test_a_dead_delivery_queued_again_is_delivered_with_its_webhook_id(tmp_path, monkeypatch, receiver):
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path / "state"))
    store = LiveStore(store_path(tmp_path / "state"))
    flaky = f"{receiver.base}/flaky"  # 503 twice, then 200
    with delivering(store, [flaky], max_tries=1) as worker:
        store.publish([make_insight(1)], [])
        assert worker.drain(BOUND_S) == 0
    assert [r["state"] for r in rows(store, flaky)] == ["dead"]
    assert CliRunner().invoke(app, ["redeliver", "--subscriber", "http://elsewhere.test/"]).exit_code == 2

    done = CliRunner().invoke(app, ["redeliver", "--subscriber", flaky])

    assert done.exit_code == 0 and "1 dead delivery queued again" in done.output, done.output
    [row] = rows(store, flaky)
    assert (row["state"], row["tries"]) == ("pending", 0) and row["last_error"].startswith("redelivery asked; was:")
    with delivering(store, [flaky]) as worker:
        assert worker.drain(BOUND_S) == 0
    assert [r["state"] for r in rows(store, flaky)] == ["delivered"]
    assert len(set(receiver.ids("/flaky"))) == 1 and len(receiver.ids("/flaky")) == 3


@pytest.mark.slow
def test_a_subscriber_that_answers_gone_is_sent_nothing_more(store, receiver):
    gone, ok = f"{receiver.base}/gone", f"{receiver.base}/ok"
    with delivering(store, [gone, ok]) as worker:
        store.publish([make_insight(1)], [])
        assert until(lambda: [r["state"] for r in rows(store, gone)] == ["dead"])
        store.publish([make_insight(n) for n in (2, 3)], [])
        assert worker.drain(BOUND_S) == 0
    assert len(receiver.ids("/gone")) == 1 and len(receiver.ids("/ok")) == 3
    first, *later = rows(store, gone)
    assert first["last_error"] == "http_410 Gone: unsubscribed"
    assert [r["state"] for r in later] == ["dead", "dead"]  # unsent: /gone received one request
    assert all(r["last_error"].startswith("subscriber gone: it answered 410 Gone") for r in later)


@pytest.mark.slow
def test_a_down_subscriber_is_retried_then_dead_and_listed_by_the_deliveries_command(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path / "state"))
    store = LiveStore(store_path(tmp_path / "state"))
    metrics = LiveMetrics()
    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    with delivering(store, [url], metrics=metrics, max_tries=4) as worker:
        store.publish([make_insight(1, "urgent_inventory", alert=True)], [])
        assert worker.drain(BOUND_S) == 0
    [row] = store.deliveries(state="dead")
    assert row["tries"] == 4 and row["decision"] == "urgent_inventory"
    assert row["last_error"] == "unreachable: ConnectError (after 4 tries)"
    assert store.deliveries(state="pending") == [] and store.deliveries(state="delivered") == []
    assert outcome(metrics, "retried") == 3 and outcome(metrics, "dead") == 1

    result = CliRunner().invoke(app, ["deliveries", "--state", "dead"])
    assert result.exit_code == 0, result.output
    assert "urgent_inventory" in result.output and "ConnectError" in result.output
    assert "1 delivery shown" in result.output
    assert "0 deliveries shown" in CliRunner().invoke(app, ["deliveries", "--state", "delivered"]).output


@pytest.mark.parametrize(("value", "wait_s"), [
    ("120", 120.0), ("99999999", MAX_RETRY_AFTER_S), ("-5", 0.0), ("soon", 0.0), ("nan", 0.0),
    ("Wed, 21 Oct 2099 07:28:00 GMT", MAX_RETRY_AFTER_S),
])
def test_a_retry_after_is_honoured_up_to_an_hour(value, wait_s):
    response = httpx.Response(429, headers={"retry-after": value})
    assert retry_after_s(response) == wait_s


@pytest.mark.slow
def test_retry_after_is_honoured_and_pauses_that_subscriber_only(store, receiver):
    busy, ok = f"{receiver.base}/busy", f"{receiver.base}/ok"
    published = [make_insight(n) for n in range(3)]
    with delivering(store, [busy, ok]) as worker:
        store.publish(published, [])
        assert until(lambda: len(receiver.ids("/ok")) == 3 and [r["tries"] for r in rows(store, busy)][:1] == [1])
        assert worker.drain(0.2) == 3  # the busy subscriber's three are still owed
    first, *rest = rows(store, busy)
    assert first["state"] == "pending" and first["last_error"] == "http_429 Too Many Requests: slow down"
    assert first["next_try"] > time.time() + 3000  # Retry-After: 3600, not the 0.01 s backoff
    assert [r["tries"] for r in rest] == [0, 0]  # paused: nothing more sent to it
    assert receiver.ids("/busy") == [published[0]["insight_id"]]
    assert [r["state"] for r in rows(store, ok)] == ["delivered"] * 3


@pytest.mark.slow
def test_a_slow_subscriber_holds_up_no_other(store, receiver):
    slow, ok = f"{receiver.base}/slow", f"{receiver.base}/ok"
    published = [make_insight(n) for n in range(4)]
    with delivering(store, [slow, ok], timeout_s=BOUND_S + 5) as worker:
        store.publish(published, [])
        assert until(lambda: [r["state"] for r in rows(store, ok)] == ["delivered"] * 4)
        assert len(receiver.ids("/slow")) <= 1  # its first request is still being answered
        assert all(r["state"] == "pending" for r in rows(store, slow))
        receiver.release.set()
        assert worker.drain(BOUND_S) == 0
    assert receiver.ids("/slow") == [i["insight_id"] for i in published]


@pytest.mark.slow
def test_filters_pick_each_subscribers_insights(store, receiver):
    specs = {"/ok/all": "", "/ok/alerts": "alerts=", "/ok/price": "price_spike=",
             "/ok/stock-alerts": "urgent_inventory,alerts=", "/ok/two": "price_spike,negative_review="}
    published = [make_insight(n, d, alert=n % 2 == 0) for n, d in enumerate(list(DECISIONS) * 4)]
    with delivering(store, [f"{spec}{receiver.base}{path}" for path, spec in specs.items()]) as worker:
        store.publish(published, [])
        assert worker.drain(BOUND_S) == 0
    wanted = {
        "/ok/all": published,
        "/ok/alerts": [i for i in published if i["alert"]],
        "/ok/price": [i for i in published if i["decision"] == "price_spike"],
        "/ok/stock-alerts": [i for i in published if i["decision"] == "urgent_inventory" and i["alert"]],
        "/ok/two": [i for i in published if i["decision"] in ("price_spike", "negative_review")],
    }
    for path, insights in wanted.items():
        assert insights and receiver.ids(path) == [i["insight_id"] for i in insights], path


@pytest.mark.slow
def test_a_restarted_worker_resumes_without_redelivering(store, receiver):
    url = f"{receiver.base}/ok"
    first, later = [make_insight(n) for n in range(5)], [make_insight(n) for n in range(5, 8)]
    with delivering(store, [url]) as worker:
        store.publish(first, [])
        assert worker.drain(BOUND_S) == 0
    store.publish(later, [])  # while no watcher runs
    with delivering(store, [url]) as worker:
        assert worker.drain(BOUND_S) == 0
    assert receiver.ids("/ok") == [i["insight_id"] for i in first + later]
    assert [(r["state"], r["tries"]) for r in rows(store, url)] == [("delivered", 1)] * 8


@pytest.mark.slow
def test_watch_delivers_what_is_published_while_it_runs_and_drains_at_stop(tmp_path, receiver):
    env = {**os.environ, "EDGE_INSIGHTS_STATE_DIR": str(tmp_path / "state"), "EDGE_INSIGHTS_WEBHOOK_SECRET": SECRET}
    watch = subprocess.Popen(
        [sys.executable, "-m", "edge_insights", "watch", "--sitemap", f"{receiver.base}/sitemap.txt",
         "--pod", "price_spike=http://127.0.0.1:9", "--duration", "2", "--webhook", f"{receiver.base}/ok",
         "--webhook", f"alerts={receiver.base}/ok/alerts"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        store = LiveStore(store_path(tmp_path / "state"))
        # Published once the watcher has registered its subscribers, as its decider would publish.
        # A watcher process loads the PII engine first: beside other test workers that took over 30 s.
        assert until(lambda: len(store.query("SELECT * FROM webhook_cursors")) == 2 or watch.poll() is not None,
                     bound_s=STARTUP_S)
        published = [make_insight(n, alert=n == 1) for n in range(3)]
        store.publish(published, [])
        out, err = watch.communicate(timeout=120)
    finally:
        watch.kill()
    assert watch.returncode == 0, err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["deliveries"] == {"delivered": 4} and summary["undelivered_at_stop"] == 0
    assert receiver.ids("/ok") == [i["insight_id"] for i in published]
    assert receiver.ids("/ok/alerts") == [published[1]["insight_id"]]


def test_enqueueing_is_idempotent_and_a_new_subscriber_starts_at_the_newest_insight(store):
    store.publish([make_insight(n) for n in range(3)], [])
    assert store.subscribe("http://hooks.example/a") == store.head() == 3
    store.publish([make_insight(n, alert=True) for n in range(3, 6)], [])
    assert store.enqueue_deliveries("http://hooks.example/a") == 3
    assert store.enqueue_deliveries("http://hooks.example/a") == 0
    with store.transaction() as con:  # a cursor lost or rolled back: the unique pair still holds
        con.execute("UPDATE webhook_cursors SET cursor = 0")
    assert store.enqueue_deliveries("http://hooks.example/a") == 3  # the 3 older ones, never seen before
    assert store.enqueue_deliveries("http://hooks.example/a") == 0
    assert len(store.deliveries()) == 6 and store.subscribe("http://hooks.example/a") == 6
    with pytest.raises(KeyError):
        store.enqueue_deliveries("http://hooks.example/unknown")


def test_subscriber_specs_and_secrets_are_checked(store):
    assert parse_subscriber("https://hooks.example/in?key=a=b").url == "https://hooks.example/in?key=a=b"
    sub = parse_subscriber("price_spike, alerts=http://127.0.0.1:9/x")
    assert (sub.url, sub.decisions, sub.alerts_only) == ("http://127.0.0.1:9/x", {"price_spike"}, True)
    for bad in ("hooks.example/in", "ftp://hooks.example", "http://", "spike=http://h.example", "alerts=h.example"):
        with pytest.raises(ValueError):
            parse_subscriber(bad)
    # Credentials are refused whatever else is wrong with the spec, and never echoed.
    for spec in ("https://ops:s3cret@hooks.example/in", "alerts=https://ops@hooks.example/in",
                 "HTTPS://ops:s3cret@hooks.example/in", " https://ops:s3cret@hooks.example/in",
                 "alerts=ftp://ops:s3cret@h/in", "https://ops:s3cret@/in", "https://ops:s3cret@[::1/in"):
        with pytest.raises(ValueError, match="carries credentials") as err:
            parse_subscriber(spec)
        assert "s3cret" not in str(err.value) and "ops" not in str(err.value)
    assert parse_subscriber("HTTPS://hooks.example/in").url == "HTTPS://hooks.example/in"
    with pytest.raises(ValueError, match="not a TCP port"):
        parse_subscriber("https://hooks.example:99999/in")
    signer(SECRET)
    for bad, said in ((SECRET[6:], "whsec_"), ("whsec_not*base64", "base64"),
                      ("whsec_" + base64.b64encode(b"short").decode(), "at least 24")):
        with pytest.raises(ValueError, match=said) as err:
            signer(bad)
        assert bad[6:] not in str(err.value)  # the secret never shows in an error
    with pytest.raises(ValueError, match="twice"):
        WebhookDelivery(store, [parse_subscriber("http://h.example/a")] * 2, SECRET)


@pytest.mark.parametrize("secret, args, said", [
    (None, ["--webhook", "http://127.0.0.1:9/in"], "EDGE_INSIGHTS_WEBHOOK_SECRET"),
    ("whsec_c2hvcnQ=", ["--webhook", "http://127.0.0.1:9/in"], "at least 24"),
    (SECRET, ["--webhook", "spikes=http://127.0.0.1:9/in"], "unknown webhook filter spikes"),
    (SECRET, ["--webhook", "http://127.0.0.1:9/in", "--webhook", "alerts=http://127.0.0.1:9/in"], "twice"),
], ids=["no-secret", "short-secret", "unknown-filter", "same-url-twice"])  # ids: SECRET is random per process
def test_watch_refuses_bad_webhooks_before_anything_runs(tmp_path, monkeypatch, secret, args, said):
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("EDGE_INSIGHTS_WEBHOOK_SECRET", raising=False)
    if secret is not None:
        monkeypatch.setenv("EDGE_INSIGHTS_WEBHOOK_SECRET", secret)
    result = CliRunner().invoke(app, ["watch", "--sitemap", "http://127.0.0.1:9/sitemap.txt",
                                      "--pod", "price_spike=http://127.0.0.1:9", *args])
    assert result.exit_code == 2 and said in result.output
    assert not (tmp_path / "state").exists()
