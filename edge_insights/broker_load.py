"""The live loop's two brokers under the same load: embedded SQLite versus Redis Streams.

:func:`compare_brokers` pushes the same ``n`` price changes through each broker in one run:
capture (the broker's atomic capture call, as the watcher makes it) → real :class:`live.decide.Decider`
objects → a real pod over HTTP → publish, and reports change → insight latency (the change's
``received_at`` → the instant its insight was published, ms) and throughput (changes/s). Two
phases per broker: ``paced`` appends changes at a fixed rate (latency at a load the loop keeps up
with), ``burst`` appends them all at once (throughput; latency there is mostly queueing).

The pod is the real pod code (``edge-insights serve``) on a ``price_spike`` central bundle whose
oracle is the decision's label rule (:func:`deploy_rule_pod`): the release step seals such
bundles, and they need no trained model, so the comparison runs on a fresh clone. Change capture's
scrubbing and the revisits are left out: they cost both brokers the same.

``benchmarks/broker_compare.py`` prints the table; the tests start Redis with :func:`running_redis`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import redis

from commons.contracts import PRICE_WINDOW
from commons.errors import OrchestrationError
from commons.manifest import ORACLE_RULE
from commons.net import free_port
from commons.settings import Settings
from commons.token_client import TokenSource
from edge_export.release import privacy_entry, release_window, write_rule_bundle
from edge_export.signer import ReleaseSigner, release_signer
from edge_insights.pods import running_pod, running_process, running_token_plane
from live.broker import Broker
from live.capture import change_id
from live.decide import Decider
from live.redis_broker import RedisBroker
from live.scaleout import run_decider
from live.store import LiveStore
from training.decisions import DECISIONS

DECISION = "price_spike"


@contextmanager
def running_redis(timeout_s: float = 10.0) -> Iterator[str]:
    """Run ``redis-server`` on a free 127.0.0.1 port with no persistence (``--save '' --appendonly no``,
    its folder a temporary one); yields ``redis://127.0.0.1:PORT/0``; stops it on exit.

    Raises:
        FileNotFoundError: no ``redis-server`` on PATH (Debian package ``redis-server``).
        OrchestrationError: it exited or did not answer PING within ``timeout_s`` (its log in the message).
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server is not on PATH (apt-get install redis-server)")
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    with tempfile.TemporaryDirectory(prefix="redis-") as folder:
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--dir", folder]
        with running_process(command, Path(folder) / "redis.log", answers, timeout_s=timeout_s,
                             name="redis-server", error=OrchestrationError):
            client.close()
            yield url


def deploy_rule_pod(folder: Path, signer: ReleaseSigner, decision: str = DECISION) -> Path:
    """Seal and sign (with ``signer``), in ``folder``, the central bundle of ``decision`` whose
    oracle is its label rule (as the release step seals and signs it) and its ``release.json``;
    returns ``folder`` for ``edge-insights serve --deploy-dir``.

    Raises:
        KeyError: ``decision`` is not a decision. BundleError (at serve time): it has no label rule.
    """
    spec = DECISIONS[decision]
    write_rule_bundle(folder, {"decision": decision, "model_name": decision, "labels": list(spec.labels),
                               "feature_contract": spec.contract, **spec.manifest_inputs(), "role": "central",
                               "oracle": {"kind": ORACLE_RULE, "label_rule": spec.label_rule},
                               "temperature": 1.0, "thresholds": {"abstain": 0.0},
                               "privacy": privacy_entry(tuple(spec.contract["fields"])),
                               **release_window(datetime.now(timezone.utc))})
    signer.sign(folder)
    (folder / "release.json").write_text(json.dumps({"model_name": decision, "model_version": "1",
                                                     "alias": "central", "run_id": "broker-load"}))
    return folder


def append_price_change(broker: Broker, number: int, *, products: int = 50, tag: str = "load") -> str:
    """Capture the ``number``-th price change of a synthetic shop into ``broker`` now; returns its change id
    (``received_at`` is now).

    Products cycle through ``products`` URLs; a product's price window walks a slow sine, with a
    jump every 7th change, so the rule labels both ways. ``tag`` keeps the URLs (and so the change
    ids) of one run apart from another's.
    """
    product = number % products
    url = f"http://shop.test/{tag}/p/{product}"
    product_id = f"{tag}-{product}"
    prices = [round(1000 + 50 * np.sin((number - k) / 5) + (400 if (number - k) % 7 == 0 else 0), 2)
              for k in range(PRICE_WINDOW)]
    received_at = time.time()
    signal = {"product_id": product_id, "title": f"Product {product}", "price": str(prices[0]),
              "crawled_at": datetime.fromtimestamp(received_at, timezone.utc).isoformat()}
    cid = change_id(url, DECISION, number)
    broker.capture(url, product_id=product_id, etag=None, record=signal, prices=prices, stocks=[],
                   changes=[{"change_id": cid, "decision": DECISION, "kind": "price", "before": prices[1],
                             "after": prices[0], "record": {"product_id": product_id, "title": signal["title"],
                                                            "prices": prices},
                             "signal": signal, "received_at": received_at, "changed_at": signal["crawled_at"],
                             "padded": False}],
                   visited_at=received_at)
    return cid


def _published(broker: Broker, after: int, n: int, timeout_s: float) -> list[dict[str, Any]]:
    """The ``n`` insights published after feed position ``after``, waiting up to ``timeout_s``.

    Raises:
        OrchestrationError: fewer arrived in time.
    """
    rows: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(rows) < n:
        rows += broker.insights_after(rows[-1]["seq"] if rows else after, limit=1000)
        if len(rows) < n:
            if time.monotonic() > deadline:
                raise OrchestrationError(f"{len(rows)} of {n} insights published in {timeout_s}s")
            time.sleep(0.01)
    return rows


def run_load(brokers: list[Broker], pod_url: str, n: int, *, rate: float | None, tag: str,
             timeout_s: float = 300.0, tokens: TokenSource | None = None) -> dict[str, Any]:
    """Push ``n`` changes through ``brokers`` (the first one appends) and one decider per broker
    deciding through ``pod_url`` (with ``tokens``' tokens); returns latency and throughput.

    ``rate`` (changes/s): the changes are appended at that rate while the deciders run (their
    latency at a load the loop keeps up with); None: all ``n`` are appended first, then the
    deciders start (a backlog: their throughput). Deciders of a Redis broker wake on appended
    changes (``decide`` processes do); the embedded store's decider is woken by each capture (the
    watcher's thread is).

    Returns:
        ``{"changes", "p50_ms", "p99_ms", "changes_per_s"}``: latency from a change's ``received_at``
        to its insight's ``published_at``; ``n`` over the deciders' start → the last publish.

    Raises:
        OrchestrationError: not every change became exactly one insight within ``timeout_s``.
    """
    producer = brokers[0]
    deciders = [Decider(b, {DECISION: pod_url}, tokens=tokens, cooldown_s=0.0) for b in brokers]
    threads = [threading.Thread(target=run_decider, args=(b, d, None, 0.01), daemon=True)
               for b, d in zip(brokers, deciders)]
    after = producer.head()

    def start_deciders() -> float:
        for thread in threads:
            thread.start()
        return time.time()

    started = start_deciders() if rate is not None else None
    try:
        first = time.time()
        for number in range(n):
            if rate is not None:
                time.sleep(max(0.0, first + number / rate - time.time()))
            append_price_change(producer, number, tag=tag)
            if isinstance(producer, LiveStore):
                deciders[0].wake.set()
        if started is None:
            started = start_deciders()
        rows = _published(producer, after, n, timeout_s)
    finally:
        for decider in deciders:
            decider.stop()
        for thread in threads:
            if thread.ident is not None:
                thread.join(timeout=30)
    if len({r["insight_id"] for r in rows}) != n or len(rows) != n:
        raise OrchestrationError(f"{n} changes gave {len(rows)} insights")
    published = [datetime.fromisoformat(r["published_at"]).timestamp() for r in rows]
    latency_ms = [(at - r["received_at"]) * 1000 for at, r in zip(published, rows)]
    return {"changes": n, "p50_ms": float(np.percentile(latency_ms, 50)),
            "p99_ms": float(np.percentile(latency_ms, 99)), "changes_per_s": n / (max(published) - started)}


def compare_brokers(settings: Settings, n: int = 1000, *, rate: float = 100.0, redis_url: str | None = None,
                    pod_url: str | None = None, redis_deciders: int = 2,
                    tokens: TokenSource | None = None) -> list[dict[str, Any]]:
    """The same load through the embedded store and Redis, in this run (module docstring).

    Args:
        settings: the state folder (the pod's logs and decision log go there).
        n: changes per phase and broker.
        rate: changes/s of the paced phase.
        redis_url: a Redis server to use (a fresh namespace in it), or None to start one (:func:`running_redis`).
        pod_url: a running ``price_spike`` pod, or None to serve the rule bundle (:func:`deploy_rule_pod`)
            with tokens required, and a token endpoint the deciders get theirs from.
        tokens: the deciders' tokens for a given ``pod_url`` (None: the pod needs none).
        redis_deciders: also run Redis with this many deciders (≤ 1: not).

    Returns:
        One row a setup: ``{"broker": "sqlite" | "redis", "deciders", "p50_ms", "p99_ms"}`` of the
        paced phase and ``"changes_per_s"`` of the backlog phase.

    Raises:
        FileNotFoundError: no redis-server to start. OrchestrationError, PodStartError: a server did
            not start, or changes went missing.
    """
    rows = []
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="broker-load-")))
        if pod_url is None:
            plane = stack.enter_context(running_token_plane(settings))
            pod_url = stack.enter_context(running_pod(deploy_rule_pod(folder / "pod", release_signer(settings)),
                                                      settings, tokens=plane))
            tokens = plane.client("broker-load", [DECISION])
        if redis_url is None:
            redis_url = stack.enter_context(running_redis())

        def brokers(kind: str, count: int, tag: str) -> list[Broker]:
            if kind == "sqlite":
                return [LiveStore(folder / f"{tag}.sqlite")]
            return [RedisBroker(redis_url, namespace=tag, consumer=f"decider-{i}") for i in range(count)]

        setups = [("sqlite", 1), ("redis", 1)] + ([("redis", redis_deciders)] if redis_deciders > 1 else [])
        for kind, count in setups:
            tag = f"{kind}{count}-{uuid.uuid4().hex[:8]}"
            paced = run_load(brokers(kind, count, f"{tag}-paced"), pod_url, n, rate=rate, tag=f"{tag}-paced",
                             tokens=tokens)
            backlog = run_load(brokers(kind, count, f"{tag}-backlog"), pod_url, n, rate=None, tag=f"{tag}-backlog",
                               tokens=tokens)
            rows.append({"broker": kind, "deciders": count, "p50_ms": paced["p50_ms"], "p99_ms": paced["p99_ms"],
                         "changes_per_s": backlog["changes_per_s"]})
    return rows
