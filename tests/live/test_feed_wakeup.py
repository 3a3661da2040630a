"""The feed's streams wake on a publish instead of waiting for their poll: a real uvicorn feed on
loopback over the embedded store, with the poll stretched to 5 s so that only the wake-up can bring
an insight within a second; and the publish signal alone, across threads and against the race
between a stream finding nothing and starting to wait."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from test_webhooks import make_insight

import live.feed
from commons.net import free_port
from live.feed import feed_app
from live.store import LiveStore
from live.wakeup import PublishSignal

STRETCHED_POLL_S = 5.0
WOKEN_WITHIN_S = 1.0


class CountingStore(LiveStore):
    """The embedded store, counting the feed's reads of it."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.reads = Counter()

    def insights_after(self, *args, **kwargs):
        self.reads["insights_after"] += 1
        return super().insights_after(*args, **kwargs)

    def head(self) -> int:
        self.reads["head"] += 1
        return super().head()


@pytest.fixture
def feed(tmp_path, monkeypatch) -> Iterator[tuple[LiveStore, str]]:
    monkeypatch.setattr(live.feed, "POLL_S", STRETCHED_POLL_S)
    yield from _serve(CountingStore(tmp_path / "live.sqlite"))


@pytest.fixture
def unstretched_feed(tmp_path) -> Iterator[tuple[CountingStore, str]]:
    yield from _serve(CountingStore(tmp_path / "live.sqlite"))


def _serve(store: LiveStore) -> Iterator[tuple[LiveStore, str]]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(feed_app(store), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the feed did not start"
        time.sleep(0.01)
    yield store, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_each_published_insight_reaches_a_waiting_stream_at_once(feed):
    store, url = feed
    arrivals: list[tuple[dict, float]] = []

    def read() -> None:
        with httpx.stream("GET", f"{url}/v1/insights/stream", timeout=30.0) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    arrivals.append((json.loads(line[6:]), time.monotonic()))
                    if len(arrivals) == 3:
                        return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.5)  # the stream has looked once and now waits (up to the stretched poll)
    delays = []
    for n in range(1, 4):
        published = time.monotonic()
        store.publish([make_insight(n)], [])
        while len(arrivals) < n and time.monotonic() - published < 2 * STRETCHED_POLL_S:
            time.sleep(0.005)
        assert len(arrivals) == n, f"insight {n} never reached the stream"
        delays.append(arrivals[-1][1] - published)
    reader.join(timeout=5)
    assert [insight["seq"] for insight, _ in arrivals] == [1, 2, 3]
    assert max(delays) < WOKEN_WITHIN_S, delays


def test_a_notify_from_another_thread_wakes_the_waiter():
    signal = PublishSignal()

    async def wait() -> tuple[bool, float]:
        seen = signal.generation
        threading.Timer(0.1, signal.notify).start()
        started = time.monotonic()
        return await signal.wait(seen, STRETCHED_POLL_S), time.monotonic() - started

    woken, took = asyncio.run(wait())
    assert woken and 0.09 <= took < WOKEN_WITHIN_S


def test_a_publish_between_the_look_and_the_wait_is_not_missed():
    signal = PublishSignal()
    seen = signal.generation  # a stream reads the generation, then finds no new rows ...
    signal.notify()  # ... while an insight is published ...
    started = time.monotonic()
    assert asyncio.run(signal.wait(seen, STRETCHED_POLL_S)) is True  # ... and does not sleep on it
    assert time.monotonic() - started < WOKEN_WITHIN_S
    started = time.monotonic()
    assert asyncio.run(signal.wait(signal.generation, 0.05)) is False  # nothing new: the time-out
    assert time.monotonic() - started >= 0.05


def test_streams_past_the_limit_are_refused_until_one_closes(feed, monkeypatch):
    monkeypatch.setattr(live.feed, "MAX_STREAMS", 2)
    store, url = feed
    with httpx.Client(timeout=30.0) as first, httpx.Client(timeout=30.0) as second:
        opened = [client.stream("GET", f"{url}/v1/insights/stream") for client in (first, second)]
        responses = [stream.__enter__() for stream in opened]
        assert [r.status_code for r in responses] == [200, 200]
        refused = httpx.get(f"{url}/v1/insights/stream", timeout=30.0)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
        assert "2 streams are open" in refused.json()["error"]
        opened[0].__exit__(None, None, None)
        store.publish([make_insight(1)], [])  # wakes the streams: the closed one sees its client gone
        deadline = time.monotonic() + 15
        while True:
            with httpx.stream("GET", f"{url}/v1/insights/stream", timeout=30.0) as again:
                if again.status_code == 200:
                    break
            assert time.monotonic() < deadline, "a closed stream's place was never freed"
            time.sleep(0.2)
        opened[1].__exit__(None, None, None)


def test_idle_streams_share_one_head_poll_and_still_get_what_another_process_published(unstretched_feed, tmp_path):
    store, url = unstretched_feed
    streams = 8
    arrivals: list[list[int]] = [[] for _ in range(streams)]

    def read(k: int) -> None:
        with httpx.stream("GET", f"{url}/v1/insights/stream", timeout=30.0) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    arrivals[k].append(json.loads(line[6:])["seq"])
                    return

    readers = [threading.Thread(target=read, args=(k,), daemon=True) for k in range(streams)]
    for reader in readers:
        reader.start()
    time.sleep(1.0)  # every stream has looked once and waits; the head was polled ~100 times
    idle = dict(store.reads)
    # About one read per stream (the poll's first look wakes them once more): an idle stream does
    # not look again on its own (each did ~100 times a second).
    assert streams <= idle["insights_after"] <= 2 * streams
    # Another process's publish: a second connection to the same file sends no wake-up signal.
    LiveStore(tmp_path / "live.sqlite").publish([make_insight(1)], [])
    for reader in readers:
        reader.join(timeout=10)
    assert arrivals == [[1]] * streams
    assert idle["head"] > 1  # the shared poll, the only look at the broker while the streams idled
