"""Pushed batches into the live loop: real reviews written into the inbox as the intake webhook
writes them, taken by the poller into the real change capture; a take a killed watcher left open is
read again at restart without losing a record or keeping a quarantine row twice."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

import live.inbox
from data_quality.pii_engine import default_engine
from edge_insights.drift_drill import review_phases
from live.capture import ChangeCapture
from live.inbox import OPEN_TAKE, InboxPoller
from live.store import LiveStore


class Killed(Exception):
    """Stands for SIGKILL inside one process: the take stops where it is."""


@pytest.fixture(scope="module")
def reviews(data_dir) -> list[str]:
    return [r["review_text"] for r in review_phases(data_dir, skip=0, per_file=3)["in_distribution"]][:6]


def write_batches(inbox: Path, reviews: list[str]) -> None:
    """Two batches of real reviews (the second with a row that breaks the contract) and an empty one,
    landed at known instants."""
    inbox.mkdir(parents=True, exist_ok=True)
    rows = [{"source": "partner", "url": f"https://reviews.test/{i}", "product_id": f"p{i}",
             "availability": "unknown", "crawled_at": "2026-11-30T00:00:00+00:00", "review_text": [text]}
            for i, text in enumerate(reviews)]
    rows.insert(4, {"source": "partner", "url": "https://reviews.test/bad", "availability": "unknown",
                    "crawled_at": "2026-11-30T00:00:00+00:00", "review_text": ["no product id"]})
    for name, part, landed in (("a.jsonl", rows[:3], 1_000.0), ("b.jsonl", rows[3:], 2_000.0)):
        path = inbox / name
        path.write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
        os.utime(path, (landed, landed))
    (inbox / "c.jsonl").write_text("", encoding="utf-8")


def capture_into(store: LiveStore, seen: list[tuple[str, float]], kill_after: int | None = None):
    capture = ChangeCapture(store)

    def observe(url: str, record: dict, received_at: float) -> None:
        if kill_after is not None and len(seen) == kill_after:
            raise Killed
        capture.observe(url, record, None, received_at)
        seen.append((url, received_at))
    return observe


def test_a_poll_takes_every_row_once_with_its_landing_instant(reviews, tmp_path):
    store = LiveStore(tmp_path / "live.sqlite")
    write_batches(tmp_path / "inbox", reviews)
    seen: list[tuple[str, float]] = []
    poller = InboxPoller(tmp_path / "inbox", store, capture_into(store, seen))
    assert poller.poll() == 6
    assert seen == [(f"https://reviews.test/{i}", 1_000.0 if i < 3 else 2_000.0) for i in range(6)]
    changes = store.query("SELECT url, decision, kind FROM changes ORDER BY seq")
    assert [(c["decision"], c["kind"]) for c in changes] == [("negative_review", "review")] * 6
    quarantined = store.query("SELECT stage, url, reason FROM quarantine ORDER BY seq")
    assert [(q["stage"], q["reason"]) for q in quarantined] == [
        ("push", "product_id: missing"), ("push", "batch_refused: batch is empty: no data rows")]
    # count in = count out + count quarantined, and the inbox is empty afterwards.
    assert 7 == len(seen) + 1 and store.meta(OPEN_TAKE) is None
    assert poller.poll() == 0


def test_a_batch_named_in_capitals_is_taken(reviews, tmp_path):
    store = LiveStore(tmp_path / "live.sqlite")
    inbox = tmp_path / "inbox"
    write_batches(inbox, reviews)
    for path in inbox.iterdir():
        path.rename(path.with_suffix(".JSONL"))
    seen: list[tuple[str, float]] = []
    assert InboxPoller(inbox, store, capture_into(store, seen)).poll() == 6
    assert not list(inbox.glob("*.JSONL"))


def test_a_take_left_open_by_a_killed_watcher_is_read_again_once(reviews, tmp_path):
    store = LiveStore(tmp_path / "live.sqlite")
    write_batches(tmp_path / "inbox", reviews)
    seen: list[tuple[str, float]] = []
    with pytest.raises(Killed):
        InboxPoller(tmp_path / "inbox", store, capture_into(store, seen, kill_after=4)).poll()
    assert store.meta(OPEN_TAKE) and len(seen) == 4
    # The files moved out of the inbox before the kill: only the open take still knows them.
    assert not list((tmp_path / "inbox").glob("*.jsonl"))
    restarted = InboxPoller(tmp_path / "inbox", LiveStore(tmp_path / "live.sqlite"), capture_into(store, seen))
    assert restarted.resume() == 6
    assert store.meta(OPEN_TAKE) is None
    # Every review became exactly one change; the quarantine holds each refused row once.
    changes = store.query("SELECT url FROM changes ORDER BY seq")
    assert [c["url"] for c in changes] == [f"https://reviews.test/{i}" for i in range(6)]
    assert store.query("SELECT COUNT(*) AS n FROM quarantine")[0]["n"] == 2
    assert restarted.resume() == 0


def test_a_running_poller_takes_a_batch_within_a_few_polls_of_its_landing(reviews, tmp_path):
    default_engine()  # loaded before, as the watcher loads it: its first load takes seconds
    store = LiveStore(tmp_path / "live.sqlite")
    inbox = tmp_path / "inbox"
    seen: list[tuple[str, float]] = []
    poller = InboxPoller(inbox, store, capture_into(store, seen))
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    try:
        row = {"source": "partner", "url": "https://reviews.test/now", "product_id": "p-now",
               "availability": "unknown", "crawled_at": "2026-11-30T00:00:00+00:00", "review_text": [reviews[0]]}
        # As the webhook lands a batch: a hidden .tmp file renamed into place.
        tmp = inbox / ".now.jsonl.tmp"
        tmp.write_text(json.dumps(row) + "\n", encoding="utf-8")
        landed = time.monotonic()
        os.replace(tmp, inbox / "now.jsonl")
        while not seen and time.monotonic() - landed < 10:
            time.sleep(0.001)
        taken_s = time.monotonic() - landed
    finally:
        poller.stop()
        thread.join(timeout=10)
    assert [url for url, _ in seen] == ["https://reviews.test/now"]
    assert taken_s < 20 * live.inbox.POLL_S, taken_s  # the poll, plus capture's scrub on a shared core
    assert not thread.is_alive()


def test_a_take_that_fails_while_running_is_logged_and_read_again_and_the_poller_lives_on(
        reviews, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(live.inbox, "RETRY_S", 0.05)
    store = LiveStore(tmp_path / "live.sqlite")
    write_batches(tmp_path / "inbox", reviews)
    seen: list[tuple[str, float]] = []
    failing = capture_into(store, seen, kill_after=2)  # a fault in the middle of the first take
    working = capture_into(store, seen)
    calls: list[str] = []

    def observe(url: str, record: dict, received_at: float) -> None:
        calls.append(url)
        (failing if len(calls) <= 3 else working)(url, record, received_at)

    failures: list[int] = []
    poller = InboxPoller(tmp_path / "inbox", store, observe, on_failure=lambda: failures.append(1))
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while (store.meta(OPEN_TAKE) or len({url for url, _ in seen}) < 6) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert thread.is_alive()
    finally:
        poller.stop()
        thread.join(timeout=10)
    assert poller.failures == len(failures) == 1
    assert "inbox take failed" in caplog.text
    assert store.meta(OPEN_TAKE) is None
    # The retried take lost nothing: each review is one change, the bad row one quarantine row.
    assert sorted(c["url"] for c in store.query("SELECT url FROM changes")) == [
        f"https://reviews.test/{i}" for i in range(6)]
    assert store.query("SELECT COUNT(*) AS n FROM quarantine")[0]["n"] == 2
