"""Change capture and the decider's failure paths, on pages the live market really serves and a
real loopback HTTP server standing in for a pod that fails (real pods need trained bundles; the
live loop with real pods is tests/e2e/test_live_loop.py); explain's mismatch reasons on the answer
of a real rule pod (its label rule as the model)."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from commons.chain_writer import ChainWriter
from commons.contracts import PRICE_WINDOW, STOCK_WINDOW, review_text_of
from commons.net import free_port
from commons.record import content_digest
from commons.settings import Settings
from commons.warehouse import Warehouse, flatten
from crawlers.live_market import LiveMarket
from crawlers.parsing import parse_book_detail
from crawlers.replay import MarketReplay
from data_quality.pii_eval import load_review_texts
from data_quality.rules import split_valid
from edge_insights.broker_load import deploy_rule_pod
from edge_insights.cli import app
from edge_insights.pods import running_pod
from live.capture import ChangeCapture
from live.decide import Decider
from live.explain import explain_insight, rebuild_features
from live.history import product_windows
from live.store import LiveStore, store_path
from live.watcher import flush_to_warehouse
from release_keys import session_signer
from serving.contract import signal_digest
from serving.decision_log import DecisionLog
from training.divergence import read_decisions

ATTIC = "catalogue/a-light-in-the-attic_1000/index.html"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def market(data_dir):
    return MarketReplay(data_dir)


def key(live: LiveMarket) -> int:
    return next(p.index for p in live.products if p.path == ATTIC)


def observed(market: MarketReplay, live: LiveMarket, clock: Clock, path: str) -> dict:
    """The record the watch spider would produce for ``path`` at the clock's instant."""
    page = live.page(path, "http://shop.test/", clock.now)
    fields = parse_book_detail(page.body.decode("utf-8"), f"http://shop.test/{path}")
    price = fields["price"]
    record = {"source": "books_toscrape", "url": f"http://shop.test/{path}", "product_id": fields["product_id"],
            "title": fields["title"], "price": format(price, "f"), "currency": fields.get("currency") or "GBP",
            "availability": fields["availability"], "stock_count": fields["stock_count"], "rating": None,
            "review_text": None, "author": None, "feedback": None, "crawled_at": "2026-11-30T00:00:00+00:00",
            "provenance": {"crawl_id": "t", "spider_version": "t", "http_status": 200, "response_digest": "x"}}
    return {**record, "content_digest": content_digest(record)}


def test_pages_become_changes_only_when_they_change(market, tmp_path):
    clock = Clock()
    live = LiveMarket(market, seconds_per_tick=1.0, start_tick=0, clock=clock)
    store = LiveStore(tmp_path / "live.sqlite")
    capture = ChangeCapture(store)
    url = f"http://shop.test/{ATTIC}"
    store.add_products([url])
    assert capture.observe(url, observed(market, live, clock, ATTIC), '"e0"', clock.now) == []  # baseline
    assert capture.observe(url, observed(market, live, clock, ATTIC), '"e0"', clock.now) == []  # unchanged
    seen = []
    for tick in range(1, 40):
        clock.now = live.wall_of(tick)
        quote = live.quote(key(live), tick)
        for change in capture.observe(url, observed(market, live, clock, ATTIC), f'"e{tick}"', clock.now):
            seen.append(change)
            if change["decision"] == "price_spike":
                assert Decimal(str(change["after"])).quantize(Decimal("0.01")) == quote.price
                assert len(change["record"]["prices"]) == PRICE_WINDOW
                assert change["record"]["prices"][0] == float(quote.price)
            else:
                counts = change["record"]["stock_counts"]
                assert len(counts) == STOCK_WINDOW and counts[0] == float(quote.stock or 0) == change["after"]
    quotes = [live.quote(key(live), t) for t in range(0, 40)]
    price_moves = sum(1 for a, b in zip(quotes, quotes[1:]) if a.price != b.price)
    stock_moves = sum(1 for a, b in zip(quotes, quotes[1:]) if (a.stock or 0) != (b.stock or 0))
    assert sum(c["decision"] == "price_spike" for c in seen) == price_moves > 0
    assert sum(c["decision"] == "urgent_inventory" for c in seen) == stock_moves > 0
    ids = [c["change_id"] for c in seen]
    assert len(ids) == len(set(ids)) == len(store.query("SELECT change_id FROM changes"))
    assert store.product(url)["visits"] == 41


def test_a_pushed_page_no_sitemap_listed_is_known_from_its_first_record(market, tmp_path):
    clock = Clock()
    live = LiveMarket(market, seconds_per_tick=1.0, clock=clock)
    store = LiveStore(tmp_path / "live.sqlite")
    capture = ChangeCapture(store)
    url = "http://partner.test/z"  # never registered by add_products
    record = {**observed(market, live, clock, ATTIC), "url": url, "price": "10.00"}
    assert capture.observe(url, record, None, clock.now) == []  # the baseline
    assert store.product(url)["prices"] == [10.0]
    (change,) = capture.observe(url, {**record, "price": "30.00"}, None, clock.now + 1)
    assert (change["decision"], change["before"], change["after"]) == ("price_spike", 10.0, 30.0)
    assert store.query("SELECT COUNT(*) AS n FROM changes")[0]["n"] == 1


@pytest.mark.parametrize(("fields", "stage", "reason"), [
    ({"price": "-5.00"}, "validate", "price_not_positive"),
    # A page can show what the warehouse cannot store: left in, it would fail every flush after it.
    ({"price": "99999999999999999999.99", "stock_count": 99999999999999999999999},
     "scrub", "price_over_storable; stock_count_over_storable"),
])
def test_a_record_the_rules_refuse_is_quarantined_with_their_reason(market, tmp_path, fields, stage, reason):
    clock = Clock()
    live = LiveMarket(market, seconds_per_tick=1.0, clock=clock)
    store = LiveStore(tmp_path / "live.sqlite")
    url = f"http://shop.test/{ATTIC}"
    store.add_products([url])
    record = {**observed(market, live, clock, ATTIC), **fields}
    assert ChangeCapture(store).observe(url, record, None, clock.now) == []
    (row,) = store.query("SELECT stage, reason FROM quarantine")
    assert row["stage"] == stage and reason in row["reason"]
    assert store.product(url)["visits"] == 1


class FailingPod(BaseHTTPRequestHandler):
    """Answers every decision request with the status the test sets (a pod in trouble)."""

    status = 503
    body: bytes | None = None  # default: {"error": "status N"}

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = self.body if self.body is not None else json.dumps({"error": f"status {self.status}"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


BAD_ANSWER = "pod_bad_answer: not one answer with label, score, route and signal_digest per record after 3 tries"


@pytest.mark.slow
@pytest.mark.parametrize(("status", "body", "state", "tries", "reason"), [
    (503, None, "failed", 3, "pod_503 after 3 tries"),
    (429, None, "failed", 3, "pod_429 after 3 tries"),
    (422, None, "failed", 1, "pod_422: status 422"),
    (302, None, "failed", 1, "pod_302: status 302"),  # redirects are not followed
    # A proxy's page, or fewer answers than records: nothing is marked done on a 200 like these.
    (200, b"<html>gateway</html>", "failed", 3, BAD_ANSWER),
    (200, b'{"decisions": []}', "failed", 3, BAD_ANSWER)])
def test_pod_failures_are_retried_or_given_up_with_a_reason(market, tmp_path, status, body, state, tries, reason):
    store, changes = _price_change(market, tmp_path)
    port = free_port()
    with _failing_pod(port, status, body):
        pods = {c["decision"]: f"http://127.0.0.1:{port}" for c in changes}
        left = Decider(store, pods, max_tries=3, backoff_s=0.01).drain(timeout_s=30)
    assert left == 0
    rows = store.query("SELECT state, tries, reason FROM changes")
    assert [(r["state"], r["tries"], r["reason"]) for r in rows] == [(state, tries, reason)] * len(changes)
    assert store.query("SELECT COUNT(*) AS n FROM quarantine WHERE stage = 'decide'")[0]["n"] == len(changes)
    assert store.query("SELECT COUNT(*) AS n FROM insights")[0]["n"] == 0


@pytest.mark.slow
def test_a_change_that_waited_out_an_outage_still_has_all_its_tries(market, tmp_path):
    store, changes = _price_change(market, tmp_path)
    port = free_port()  # nothing listens yet: the pod is down
    decider = Decider(store, {c["decision"]: f"http://127.0.0.1:{port}" for c in changes}, max_tries=3,
                      backoff_s=0.01, max_wait_s=0.02)
    assert decider.drain(timeout_s=0.5) == len(changes)
    rows = store.query("SELECT state, tries, reason FROM changes")
    assert {(r["state"], r["tries"], r["reason"]) for r in rows} == {("pending", 0, "pod_unreachable: ConnectError")}
    # Back behind a proxy that answers 503: the change gets its three tries, not one.
    with _failing_pod(port, 503, None):
        assert decider.drain(timeout_s=30) == 0
    rows = store.query("SELECT state, tries, reason FROM changes")
    assert {(r["state"], r["tries"], r["reason"]) for r in rows} == {("failed", 3, "pod_503 after 3 tries")}


def _price_change(market, tmp_path) -> tuple[LiveStore, list[dict]]:
    """A live store holding the changes of the first price move of the attic book."""
    clock = Clock()
    live = LiveMarket(market, seconds_per_tick=1.0, clock=clock)
    store = LiveStore(tmp_path / "live.sqlite")
    capture = ChangeCapture(store)
    url = f"http://shop.test/{ATTIC}"
    store.add_products([url])
    capture.observe(url, observed(market, live, clock, ATTIC), None, clock.now)
    tick = next(t for t in range(1, 60) if live.quote(key(live), t).price != live.quote(key(live), t - 1).price)
    clock.now = live.wall_of(tick)
    changes = capture.observe(url, observed(market, live, clock, ATTIC), None, clock.now)
    assert changes
    return store, changes


@contextmanager
def _failing_pod(port: int, status: int, body: bytes | None) -> Iterator[None]:
    server = ThreadingHTTPServer(("127.0.0.1", port), type("Pod", (FailingPod,), {"status": status, "body": body}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def test_only_the_decisions_with_a_pod_get_changes_and_the_windows_stay_whole(market, tmp_path):
    clock = Clock()
    live = LiveMarket(market, seconds_per_tick=1.0, clock=clock)
    store = LiveStore(tmp_path / "live.sqlite")
    capture = ChangeCapture(store, decisions={"price_spike"})
    url = f"http://shop.test/{ATTIC}"
    store.add_products([url])
    seen = []
    for tick in range(0, 40):
        clock.now = live.wall_of(tick) if tick else clock.now
        seen += capture.observe(url, observed(market, live, clock, ATTIC), None, clock.now)
    assert seen and {c["decision"] for c in seen} == {"price_spike"}
    levels = [float(live.quote(key(live), t).stock or 0) for t in range(0, 40)]
    moves = [b for a, b in zip(levels, levels[1:]) if a != b]
    # The stock window kept moving although no urgent_inventory change was captured.
    assert store.product(url)["stocks"][0] == levels[-1] and len(moves) > 0


def test_a_stock_window_after_a_price_only_move_is_the_one_the_warehouse_rebuilds(market, tmp_path):
    """A price that moves while the stock stands still is stored in the shop history with its stock
    level; the next stock change's window must hold that level too, or ``explain`` cannot rebuild the
    input the pod decided on."""
    live = LiveMarket(market, seconds_per_tick=1.0, clock=Clock())
    base = observed(market, live, Clock(), ATTIC)

    def offer(price: str, stock: int, at: str) -> dict:
        record = {**base, "price": price, "stock_count": stock, "crawled_at": at}
        return {**record, "content_digest": content_digest(record)}

    settings = Settings(state_dir=tmp_path / "state", data_dir=tmp_path / "data")
    warehouse = Warehouse(settings.warehouse_path)
    warehouse.append_rows_to_history("seed", [flatten(offer("10.00", stock, at), "seed", "books") for stock, at in
                                              ((7, "2026-11-29T00:00:00+00:00"), (5, "2026-11-30T00:00:00+00:00"))])
    store = LiveStore(tmp_path / "live.sqlite")
    capture = ChangeCapture(store, product_windows(settings.warehouse_path))
    url = base["url"]
    store.add_products([url])
    assert capture.observe(url, offer("12.00", 5, "2026-11-30T01:00:00+00:00"), None, 1.0)[0]["kind"] == "price"
    [stock] = capture.observe(url, offer("12.00", 4, "2026-11-30T02:00:00+00:00"), None, 2.0)
    assert stock["record"]["stock_counts"][:4] == [4.0, 5.0, 5.0, 7.0]  # the price-only observation kept its level
    flush_to_warehouse(store, warehouse, "live")
    rebuilt = rebuild_features(settings, "urgent_inventory", stock["signal"])
    assert rebuilt["stock_counts"] == stock["record"]["stock_counts"]


def test_a_review_insight_is_rebuilt_from_its_warehouse_row(market, data_dir, tmp_path):
    """``explain`` on a pushed review: the warehouse's list column must read as texts (it once
    reached ``review_text_of`` as a polars Series and crashed every negative_review explain)."""
    texts = [text for text in next(iter(load_review_texts(data_dir).values())) if text.strip()][:2]
    base = observed(market, LiveMarket(market, seconds_per_tick=1.0, clock=Clock()), Clock(), ATTIC)
    record = {**base, "review_text": texts, "rating": 2.0}
    record["content_digest"] = content_digest(record)
    settings = Settings(state_dir=tmp_path / "state", data_dir=tmp_path / "data")
    Warehouse(settings.warehouse_path).append_rows_to_history("push", [flatten(record, "push", "reviews")])
    rebuilt = rebuild_features(settings, "negative_review", record)
    assert rebuilt == {"review_text": "\n".join(texts)}
    assert signal_digest(rebuilt) == signal_digest({"review_text": review_text_of(record)})


def test_one_product_id_at_two_pages_in_a_run_is_quarantined_as_the_batch_path_does(market, tmp_path):
    clock = Clock()
    live = LiveMarket(market, seconds_per_tick=1.0, clock=clock)
    store = LiveStore(tmp_path / "live.sqlite")
    capture = ChangeCapture(store)
    other_path = next(p.path for p in live.products if p.path != ATTIC)
    attic, other = f"http://shop.test/{ATTIC}", f"http://shop.test/{other_path}"
    store.add_products([attic, other])
    first = observed(market, live, clock, ATTIC)
    assert capture.observe(attic, first, None, clock.now) == []  # the id's first page: its baseline
    # A second book showing the first one's UPC: its price would read as that product's move.
    twin = {**observed(market, live, clock, other_path), "product_id": first["product_id"]}
    assert twin["price"] != first["price"]
    assert capture.observe(other, twin, None, clock.now) == []
    clock.now = live.wall_of(5)
    assert capture.observe(attic, {**first, "price": "99.00"}, None, clock.now) == []  # now ambiguous too
    rows = store.query("SELECT url, reason FROM quarantine ORDER BY seq")
    # Each row names the page its id collided with, worded as the batch split words it.
    assert [(r["url"], r["reason"]) for r in rows] == [(other, f"product_id_ambiguous: also at {attic}"),
                                                       (attic, f"product_id_ambiguous: also at {other}")]
    assert {r["reason"] for r in rows} == {row["reason"] for row in split_valid([
        {**first, "url": attic, "crawl_id": "c"}, {**twin, "url": other, "crawl_id": "c"}], "offer").quarantined}
    assert store.query("SELECT COUNT(*) AS n FROM changes")[0]["n"] == 0
    assert store.product(attic)["prices"] == [float(first["price"])]
    # Another run (a fresh capture) and feed lines with one product on many lines are no conflict.
    again = ChangeCapture(store)
    (change,) = again.observe(attic, {**first, "price": "99.00"}, None, clock.now)
    assert (change["decision"], change["after"]) == ("price_spike", 99.0)
    lines = [{**first, "url": f"file:///feed.jsonl#{n}", "price": price} for n, price in ((1, "10.00"), (2, "12.00"))]
    assert again.observe(lines[0]["url"], lines[0], None, clock.now) == []
    assert again.observe(lines[1]["url"], lines[1], None, clock.now) == []
    assert len(store.query("SELECT url FROM quarantine")) == 2


def test_a_first_sight_reaches_the_warehouse_so_the_first_move_after_it_is_rebuilt(market, tmp_path):
    """A pushed product seen at 10.00 and then at 30.00: the baseline fed no change, yet the pod's
    window holds it, so the warehouse must too (explain once rebuilt [30.0 × 32] and failed)."""
    live = LiveMarket(market, seconds_per_tick=1.0, clock=Clock())
    base = observed(market, live, Clock(), ATTIC)

    def offer(price: str, at: str, rating: float | None = None) -> dict:
        record = {**base, "url": "https://partner.test/qa-a", "product_id": "QA-A", "price": price,
                  "crawled_at": at, "rating": rating}
        return {**record, "content_digest": content_digest(record)}

    settings = Settings(state_dir=tmp_path / "state", data_dir=tmp_path / "data")
    warehouse = Warehouse(settings.warehouse_path)
    store = LiveStore(tmp_path / "live.sqlite")
    capture = ChangeCapture(store)
    first = offer("10.00", "2026-11-30T00:00:00+00:00")
    assert capture.observe(first["url"], first, None, 1.0) == []
    # A move no decision reads (the rating) is stored as well: the warehouse keeps every observation.
    rated = offer("10.00", "2026-11-30T00:30:00+00:00", rating=4.0)
    assert capture.observe(rated["url"], rated, None, 1.5) == []
    [spike] = [c for c in capture.observe(first["url"], offer("30.00", "2026-11-30T01:00:00+00:00"), None, 2.0)
               if c["decision"] == "price_spike"]
    assert spike["record"]["prices"][:2] == [30.0, 10.0]
    assert flush_to_warehouse(store, warehouse, "live")[1] == 3
    assert flush_to_warehouse(store, warehouse, "live") == (0, 0)  # each observation copied once
    rebuilt = rebuild_features(settings, "price_spike", spike["signal"])
    assert rebuilt["prices"] == spike["record"]["prices"]


def test_a_late_observation_or_another_currency_is_quarantined_not_taken_for_a_move(market, tmp_path):
    live = LiveMarket(market, seconds_per_tick=1.0, clock=Clock())
    base = {**observed(market, live, Clock(), ATTIC), "url": "https://partner.test/qa-m", "product_id": "QA-M"}

    def offer(price: str, currency: str, at: str) -> dict:
        record = {**base, "price": price, "currency": currency, "crawled_at": at}
        return {**record, "content_digest": content_digest(record)}

    store = LiveStore(tmp_path / "live.sqlite")
    capture = ChangeCapture(store)
    url = base["url"]
    assert capture.observe(url, offer("10.00", "EUR", "2026-11-30T12:00:00+00:00"), None, 1.0) == []
    assert capture.observe(url, offer("50.00", "EUR", "2026-11-30T08:00:00+00:00"), None, 2.0) == []
    assert capture.observe(url, offer("1500", "JPY", "2026-11-30T13:00:00+00:00"), None, 3.0) == []
    rows = [r["reason"] for r in store.query("SELECT reason FROM quarantine ORDER BY seq")]
    assert rows == ["observed_before_last: crawled_at 2026-11-30T08:00:00+00:00 precedes 2026-11-30T12:00:00+00:00",
                    "currency_changed: EUR -> JPY"]
    assert store.query("SELECT COUNT(*) AS n FROM changes")[0]["n"] == 0
    (change,) = [c for c in capture.observe(url, offer("30.00", "EUR", "2026-11-30T14:00:00+00:00"), None, 4.0)
                 if c["decision"] == "price_spike"]
    assert (change["before"], change["after"]) == (10.0, 30.0)


def test_an_offer_pushed_without_a_title_is_decided_under_the_pages_last_title(market, tmp_path):
    """Partner feeds send id, price and stock only: the move is decided with the title last seen
    at that page (both windowed contracts require one), and explain's rebuild still matches."""
    live = LiveMarket(market, seconds_per_tick=1.0, clock=Clock())
    base = {**observed(market, live, Clock(), ATTIC), "url": "https://partner.test/qa-t", "product_id": "QA-T"}

    def offer(price: str, at: str, title: str | None) -> dict:
        record = {**base, "price": price, "crawled_at": at, "title": title}
        return {**record, "content_digest": content_digest(record)}

    settings = Settings(state_dir=tmp_path / "state", data_dir=tmp_path / "data")
    store = LiveStore(tmp_path / "live.sqlite")
    capture = ChangeCapture(store)
    url = base["url"]
    assert capture.observe(url, offer("10.00", "2026-11-30T00:00:00+00:00", None), None, 1.0) == []
    # Seen with no title yet: nothing to carry, and a move then has no title (the pod refuses it).
    [untitled] = [c for c in capture.observe(url, offer("11.00", "2026-11-30T00:30:00+00:00", None), None, 1.5)
                  if c["decision"] == "price_spike"]
    assert untitled["record"]["title"] is None
    titled = offer("12.00", "2026-11-30T01:00:00+00:00", base["title"])
    capture.observe(url, titled, None, 2.0)
    bare = offer("36.00", "2026-11-30T02:00:00+00:00", None)
    [spike] = [c for c in capture.observe(url, bare, None, 3.0) if c["decision"] == "price_spike"]
    assert spike["record"]["title"] == spike["signal"]["title"] == "A Light in the Attic"
    assert spike["signal"]["content_digest"] == content_digest(spike["signal"]) != bare["content_digest"]
    # The same bare offer again is no change: its carried digest equals the stored one.
    assert capture.observe(url, {**bare, "crawled_at": "2026-11-30T03:00:00+00:00"}, None, 4.0) == []
    flush_to_warehouse(store, Warehouse(settings.warehouse_path), "live")
    rebuilt = rebuild_features(settings, "price_spike", spike["signal"])
    assert rebuilt == {"title": "A Light in the Attic", "prices": spike["record"]["prices"]}
    assert spike["record"]["prices"][:4] == [36.0, 12.0, 11.0, 10.0]


@pytest.mark.slow  # starts a pod
def test_explain_says_why_a_rebuild_does_not_match(market, tmp_path, monkeypatch):
    """A real rule pod decides a price move; explain before the watcher's flush, after it, and after
    the history before the move changed: each mismatch names its cause, and the command says it in a line."""
    live = LiveMarket(market, seconds_per_tick=1.0, clock=Clock())
    base = {**observed(market, live, Clock(), ATTIC), "url": "https://partner.test/qa-x", "product_id": "QA-X"}

    def offer(price: str, at: str) -> dict:
        record = {**base, "price": price, "crawled_at": at}
        return {**record, "content_digest": content_digest(record)}

    settings = Settings.from_env(state_dir=tmp_path / "state").ensure()
    warehouse = Warehouse(settings.warehouse_path)
    store = LiveStore(store_path(settings.state_dir))
    capture = ChangeCapture(store)
    assert capture.observe(base["url"], offer("10.00", "2026-11-30T00:00:00+00:00"), None, 1.0) == []
    flush_to_warehouse(store, warehouse, "live")  # the product is known to the warehouse, its move not yet
    capture.observe(base["url"], offer("30.00", "2026-11-30T01:00:00+00:00"), None, 2.0)
    with running_pod(deploy_rule_pod(tmp_path / "pod", session_signer()), settings, auth_off=True) as url:
        assert Decider(store, {"price_spike": url}).drain(60) == 0
    [insight] = store.query("SELECT insight_id FROM insights")
    report = explain_insight(settings, insight["insight_id"])
    assert report["digest_matches"] is False and report["features"]["prices"][:2] == [10.0, 10.0]
    assert report["mismatch_reason"] == (
        "the watcher has not yet flushed this change's observation (at 2026-11-30T01:00:00+00:00) to the warehouse: "
        "it flushes every few seconds; try again after its next flush or after it stops")
    flush_to_warehouse(store, warehouse, "live")
    report = explain_insight(settings, insight["insight_id"])
    assert (report["digest_matches"], report["mismatch_reason"]) == (True, None)
    assert (report["route"], report["route_reason"]) == ("edge", "confident")  # the rule is sure of its answer
    # An evaluation replay of the same window by the same bundle, logged later, is not this insight's decision.
    [line] = read_decisions(settings.decision_log_dir, "price_spike")
    replayed = DecisionLog(settings.decision_log_dir)
    replayed.append([{**line, "traffic": "replay", "route": "central", "route_reason": "abstain"}])
    replayed.close()
    assert explain_insight(settings, insight["insight_id"])["route_reason"] == "confident"
    assert report["features"]["prices"][:2] == [30.0, 10.0]
    # A backfill lands a price between the two observations the pod's window was built from.
    warehouse.append_rows_to_history("backfill", [flatten(offer("20.00", "2026-11-30T00:30:00+00:00"), "backfill",
                                                          "books")])
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(settings.state_dir))
    done = CliRunner().invoke(app, ["explain", insight["insight_id"]])
    reason = ("the change's observation (at 2026-11-30T01:00:00+00:00) is in the warehouse, but the history up to "
              "it gives different prices than the pod was given (position 1: decided on 10.0, now 20.0): that "
              "history changed after the decision")
    assert done.exit_code == 1, done.output
    assert done.stderr.splitlines() == [f"error: the rebuilt input does not match the insight's digest: {reason}"]
    assert json.loads(done.stdout)["mismatch_reason"] == reason
    # Flushed, then removed from the warehouse (as an erasure removes rows): the store's flag is no proof.
    with warehouse.connect() as con:
        con.execute("DELETE FROM signal_history WHERE crawled_at >= TIMESTAMPTZ '2026-11-30 01:00:00+00'")
    assert explain_insight(settings, insight["insight_id"])["mismatch_reason"] == (
        f"the live store marks the change flushed, but the warehouse at {settings.warehouse_path} holds no "
        "observation of product 'QA-X' at or after 2026-11-30T01:00:00+00:00")
    # The same line as a pod logged it before lines carried a route reason.
    folder = settings.decision_log_dir / "price_spike"
    rows = read_decisions(settings.decision_log_dir, "price_spike")
    shutil.rmtree(folder)
    old = ChainWriter(folder, None)
    old.append([{k: v for k, v in row.items() if k != "route_reason"} for row in rows], "decisions-20261130.jsonl")
    old.close()
    assert explain_insight(settings, insight["insight_id"])["route_reason"] == "unrecorded"
