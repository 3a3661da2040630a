"""``edge-insights watch``: the live loop in one process.

Threads: the Scrapy reactor (main thread) revisits pages (:class:`crawlers.watch_spider.WatchSpider`)
and, with ``inbox``, a poller takes pushed batches (:mod:`live.inbox`); both capture changes
(:class:`live.capture.ChangeCapture`) into the broker; the decider
(:class:`live.decide.Decider`) wakes on each capture and turns pending changes into insights; the
feed (:func:`live.feed.feed_app`, uvicorn) streams them; with ``webhooks`` configured, the webhook
worker (:class:`live.webhooks.WebhookDelivery`) POSTs them, signed, to each subscriber; every
``flush_s`` the insights and the observed signals are copied into the warehouse (``insights``
table; ``signal_history``, intake ``books`` or ``reviews`` by rule set, partition ``live``), where
``explain`` and the Dagster assets read them.

The broker is the embedded SQLite store unless ``WatchConfig.broker`` names a Redis server
(:mod:`live.broker`); there, ``decide=False`` runs a watcher that only captures, feeds and
flushes, while ``edge-insights decide`` processes (:func:`live.scaleout.run_decider`) decide.

Stopping (``duration_s`` elapsed, SIGINT or SIGTERM) stops revisits first, then lets the decider
finish what is pending (up to ``drain_s``), then the webhook worker what it owes (up to ``drain_s``
more; the next watcher of the store delivers the rest), flushes, and stops the feed. SIGKILL loses
nothing either (see :mod:`live.store`): a restart resumes from the store.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import uvicorn
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings as ScrapySettings

from commons.errors import EdgeInsightsError
from commons.file_lock import LockHeld, hold_lock
from commons.interpreter import favour_waiting_threads, freeze_startup_heap
from commons.net import free_port
from commons.token_client import TokenSource
from commons.warehouse import Warehouse, flatten
from crawlers.watch_spider import WatchSpider
from data_quality.pii_engine import default_engine
from data_quality.rules import INTAKE_OF_RULE_SET, rule_set_of
from live.broker import Broker, open_broker
from live.capture import ChangeCapture
from live.decide import Decider
from live.feed import feed_app
from live.history import product_windows
from live.inbox import InboxPoller
from live.metrics import LiveMetrics
from live.redis_broker import RedisBroker
from live.revisit import LearnedRevisitPolicy, RoundRobinPolicy
from live.store import LiveStore, store_path
from live.webhooks import WebhookDelivery, parse_subscriber

log = logging.getLogger(__name__)

#: Revisit policies by name, built from (politeness_s, day_s). The learned policy's floor (one
#: change per 100 days) and prior weight (3 days) are :mod:`live.revisit`'s defaults, chosen on
#: held-out seeds and days by benchmarks/live_staleness.py, scaled to the shop's clock: ``day_s``
#: wall seconds per day (86,400 for a real shop, ``seconds_per_tick`` for an accelerated replay).
POLICIES = {
    "learned": lambda politeness_s, day_s: LearnedRevisitPolicy(politeness_s, floor_rate_per_s=1 / (100 * day_s),
                                                                prior_weight_s=3 * day_s),
    "round-robin": lambda politeness_s, day_s: RoundRobinPolicy(politeness_s),
}


#: DuckDB threads of the watcher's warehouse flushes (see :class:`commons.warehouse.Warehouse`).
FLUSH_THREADS = 1

#: Seconds :meth:`Watcher.run` waits for the insight feed's port before announcing it.
FEED_READY_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class WatchConfig:
    """How the watcher runs.

    Attributes:
        sitemap_url: the shop's ``sitemap.txt``.
        pods: decision → edge pod base URL.
        state_dir: the state folder (``live/live.sqlite``, the warehouse, logs).
        warehouse_path: the DuckDB warehouse (seeds windows; receives insights and signals).
        rate: revisit requests per second (the request budget).
        policy: ``learned`` (change-rate estimates) or ``round-robin`` (:data:`POLICIES`).
        politeness_s: minimum seconds between two requests to one host (0: the budget alone paces).
        day_s: wall seconds per day of the shop's clock (scales the learned policy's rates).
        duration_s: stop after this many seconds (None: until a signal).
        feed_port: port of the insight feed on 127.0.0.1 (0: a free one).
        cooldown_s: alert cooldown (seconds).
        tokens: where the decider's tokens for the pods come from
            (:class:`commons.token_client.TokenSource`), or None.
        inbox: the intake webhook's inbox to take pushed batches from (:mod:`live.inbox`), or None.
        flush_s: seconds between warehouse flushes.
        drain_s: seconds the decider may take to finish pending changes at stop, and then the webhook
            worker to finish its deliveries.
        webhooks: webhook subscribers, ``[FILTER,…=]URL`` each (:func:`live.webhooks.parse_subscriber`).
        webhook_secret: the ``whsec_`` secret signing them (required with ``webhooks``).
        broker: Redis URL of the change and insight streams (``Settings.broker``), or None for the
            embedded store under ``state_dir``.
        decide: run a decider thread; False captures only (scale-out: ``decide`` processes decide).
    """

    sitemap_url: str
    pods: dict[str, str]
    state_dir: Path
    warehouse_path: Path
    rate: float = 20.0
    policy: str = "learned"
    politeness_s: float = 0.0
    day_s: float = 86_400.0
    duration_s: float | None = None
    feed_port: int = 0
    cooldown_s: float = 600.0
    # Kept out of repr: a client credential holds its secret.
    tokens: TokenSource | None = field(default=None, repr=False)
    inbox: Path | None = None
    flush_s: float = 5.0
    drain_s: float = 30.0
    webhooks: tuple[str, ...] = ()
    # Kept out of repr: a config printed to a log must not leak the signing secret.
    webhook_secret: str | None = field(default=None, repr=False)
    broker: str | None = None
    decide: bool = True


def flush_to_warehouse(store: LiveStore, warehouse: Warehouse, run_id: str) -> tuple[int, int]:
    """Copy insights and stored records (those of changes and the observations that fed none) not
    yet in the warehouse; returns (insights, signal rows) added."""
    insights = store.query("SELECT * FROM insights WHERE warehoused = 0 ORDER BY seq")
    changes = store.query("SELECT seq, signal FROM changes WHERE warehoused = 0 ORDER BY seq")
    observed = store.query("SELECT seq, signal FROM observations WHERE warehoused = 0 ORDER BY seq")
    if not insights and not changes and not observed:
        return 0, 0
    added = warehouse.append_insights([{**i, "alert": bool(i["alert"])} for i in insights])
    signals = [json.loads(row["signal"]) for row in (*changes, *observed)]
    rows = [flatten(s, run_id, INTAKE_OF_RULE_SET[rule_set_of(s)], "live") for s in signals]
    history_added = warehouse.append_rows_to_history(run_id, rows)[0] if rows else 0
    with store.transaction() as con:
        con.executemany("UPDATE insights SET warehoused = 1 WHERE seq = ?", [(i["seq"],) for i in insights])
        con.executemany("UPDATE changes SET warehoused = 1 WHERE seq = ?", [(c["seq"],) for c in changes])
        con.executemany("UPDATE observations SET warehoused = 1 WHERE seq = ?", [(o["seq"],) for o in observed])
    return added, history_added


class WatcherLockError(EdgeInsightsError):
    """The watcher cannot own this state folder's embedded store: another watcher holds its lock,
    or the lock file cannot be opened."""


class Watcher:
    """The live loop (module docstring). Build, then :meth:`run` (blocks; main thread: Twisted).

    Raises (on construction):
        WatcherLockError: another process watches with the same embedded store (two would capture
            each change twice under different counters and both flush it to the warehouse), or
            ``live/watcher.lock`` cannot be opened (a folder, no permission).
        BrokerError: the Redis broker named does not answer.
        TaggerUnreadableError: the PII name tagger the pipeline built cannot be loaded (the
            watcher scrubs as the batch path does, or not at all).
        ValueError: webhooks or an inbox asked for with a Redis broker, or webhooks without a secret.
    """

    def __init__(self, config: WatchConfig) -> None:
        self.config = config
        self._lock = None
        if config.broker is None:
            lock_path = store_path(config.state_dir).parent / "watcher.lock"
            try:
                self._lock = hold_lock(lock_path)
            except LockHeld as held:
                raise WatcherLockError(f"another watcher (pid {held.holder or 'unknown'}) runs on {config.state_dir}; "
                                       f"stop it first, or give this one its own EDGE_INSIGHTS_STATE_DIR") from None
            except OSError as err:
                raise WatcherLockError(f"cannot open the watcher lock {lock_path}: {err.strerror or err}") from None
        self.store: Broker = open_broker(config.broker, store_path(config.state_dir))
        self.metrics = LiveMetrics()
        # A deciding watcher captures only what its pods decide; a capture-only one feeds every decider.
        self.capture = ChangeCapture(self.store, product_windows(config.warehouse_path),
                                     set(config.pods) if config.decide else None)
        self.policy = POLICIES[config.policy](config.politeness_s, config.day_s)
        self.decider = Decider(self.store, config.pods, tokens=config.tokens, cooldown_s=config.cooldown_s,
                               metrics=self.metrics) if config.decide else None
        if config.broker and (config.webhooks or config.inbox):
            # Both keep their progress in the embedded store's tables (deliveries, the open take).
            raise ValueError("--webhook and --inbox need the embedded store (EDGE_INSIGHTS_BROKER unset)")
        self.webhooks = None
        if config.webhooks:
            if not config.webhook_secret:
                raise ValueError("webhooks need a signing secret (webhook_secret)")
            self.webhooks = WebhookDelivery(self.store, [parse_subscriber(s) for s in config.webhooks],
                                            config.webhook_secret, metrics=self.metrics)
        # One DuckDB thread: a flush's scan of signal_history would otherwise take both cores of a
        # small machine from the decider and the pods for a few hundred ms every flush_s.
        self.warehouse = Warehouse(config.warehouse_path, threads=FLUSH_THREADS)
        self.run_id = f"live-{uuid.uuid4().hex[:12]}"
        self.feed_port = config.feed_port or free_port()
        self._etags: dict[str, str | None] = {}
        # Loaded now, not on the first review: the NER pipeline takes seconds to load, which would
        # otherwise land on the first pushed review's latency.
        default_engine()

    # ---- spider callbacks (reactor thread) ----------------------------------------------------
    def _on_urls(self, urls: list[str]) -> None:
        self.store.add_products(urls)
        self._etags.update(self.store.etags())

    def _on_page(self, url: str, record: dict[str, Any], etag: str | None, received_at: float) -> None:
        before = self.capture.quarantined
        changes = self.capture.observe(url, record, etag, received_at)
        self._etags[url] = etag
        if changes:
            if self.decider is not None:
                self.decider.wake.set()
            for change in changes:
                self.metrics.changes.labels(change["decision"]).inc()
            outcome = "changed"
        elif self.capture.quarantined > before:
            outcome = "quarantined"
        else:
            outcome = "unchanged"
        self.metrics.pages.labels(outcome).inc()
        self.policy.observe(url, received_at, bool(changes))

    def _on_push(self, url: str, record: dict[str, Any], received_at: float) -> None:
        before = self.capture.quarantined
        changes = self.capture.observe(url, record, None, received_at)
        outcome = "quarantined" if self.capture.quarantined > before else "unchanged"
        self.metrics.pushed.labels("changed" if changes else outcome).inc()
        if changes:
            if self.decider is not None:
                self.decider.wake.set()
            for change in changes:
                self.metrics.changes.labels(change["decision"]).inc()

    def _on_unchanged(self, url: str, received_at: float) -> None:
        self.store.record_visit(url, received_at)
        self.metrics.pages.labels("not_modified").inc()
        self.policy.observe(url, received_at, False)

    def _on_failure(self, url: str, reason: str, status: int | None) -> None:
        self.store.quarantine("harvest", url, reason, {"http_status": status})
        self.metrics.pages.labels("failed").inc()

    def _on_refused(self, url: str, reason: str) -> None:
        # Kept in the store with its row, so that the next watcher continues the refusal.
        self.store.refuse(url, reason)
        self.metrics.pages.labels("failed").inc()

    def _on_still_refused(self, url: str, reason: str) -> None:
        # Counted, so revisits = outcomes still holds; the row the refusal first wrote stands for it.
        self.metrics.pages.labels("still_refused").inc()

    # ---- the run --------------------------------------------------------------------------------
    def _flush_loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.config.flush_s):
            self._flush()

    def _flush(self) -> None:
        try:
            if isinstance(self.store, RedisBroker):  # several watchers share the copying (consumer group)
                self.store.flush_to_warehouse(self.warehouse, self.run_id)
                self.store.trim()
            else:
                flush_to_warehouse(self.store, self.warehouse, self.run_id)
        except Exception as exc:  # the warehouse may be busy (another process); the next flush retries
            log.warning("warehouse flush deferred: %s", exc)

    def run(self, on_ready: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Watch until ``duration_s`` or a signal; returns the broker's counts (the whole store's,
        earlier runs included) plus the run's facts, its own counters under ``this_run``.

        ``on_ready`` is called with the feed's base URL once its port accepts connections (at
        most :data:`FEED_READY_TIMEOUT_S` after the start; on a timeout it is called anyway, so a
        caller's message is late rather than lost).
        """
        # The PII engine and history windows stay loaded until exit: full collections need not walk
        # them; and the decider, inbox and feed threads must not queue behind the crawl for the GIL.
        # Before the feed starts: the freeze's own collection is a stall no pushed change may meet.
        freeze_startup_heap()
        favour_waiting_threads()
        server = uvicorn.Server(uvicorn.Config(feed_app(self.store, self.metrics), host="127.0.0.1",
                                               port=self.feed_port, log_level="warning"))
        feed = threading.Thread(target=server.run, name="insight-feed", daemon=True)
        feed.start()
        if on_ready is not None:
            deadline = time.monotonic() + FEED_READY_TIMEOUT_S
            while not server.started and feed.is_alive() and time.monotonic() < deadline:
                time.sleep(0.01)
            on_ready(f"http://127.0.0.1:{self.feed_port}")
        if self.decider is not None:
            self.decider.warm_up()
            decider = threading.Thread(target=self.decider.run, name="decider", daemon=True)
            decider.start()
        poller = (InboxPoller(self.config.inbox, self.store, self._on_push, self.metrics.inbox_failures.inc)
                  if self.config.inbox else None)
        if poller is not None:
            threading.Thread(target=poller.run, name="inbox", daemon=True).start()
        webhooks = None
        if self.webhooks is not None:
            webhooks = threading.Thread(target=self.webhooks.run, name="webhooks", daemon=True)
            webhooks.start()
        stop_flush = threading.Event()
        flusher = threading.Thread(target=self._flush_loop, args=(stop_flush,), name="flush", daemon=True)
        flusher.start()
        settings = ScrapySettings()
        settings.setmodule("crawlers.settings", priority="project")
        for name, value in {"SPIDER_MODULES": [], "ITEM_PIPELINES": {}, "ROBOTSTXT_OBEY": False,
                            "AUTOTHROTTLE_ENABLED": False, "LOG_LEVEL": "WARNING", "LOG_INSTALL_ROOT_HANDLER": False, "RETRY_ENABLED": False,
                            "DOWNLOAD_TIMEOUT": 10}.items():
            # The revisit clock is the budget and the politeness; a failed revisit is simply due again.
            settings.set(name, value, priority="cmdline")
        process = CrawlerProcess(settings)
        crawler = process.create_crawler(WatchSpider)
        process.crawl(crawler, sitemap_url=self.config.sitemap_url, crawl_id=self.run_id, policy=self.policy,
                      rate=self.config.rate, etag_of=self._etags.get, refused=self.store.refusals(),
                      on_urls=self._on_urls, on_page=self._on_page, on_unchanged=self._on_unchanged,
                      on_failure=self._on_failure, on_refused=self._on_refused,
                      on_still_refused=self._on_still_refused, on_refusal_ended=self.store.end_refusal)
        if self.config.duration_s is not None:
            # Imported only now: importing the reactor earlier would install Twisted's default one
            # before CrawlerProcess installs the asyncio reactor the settings ask for.
            from twisted.internet import reactor

            reactor.callLater(self.config.duration_s, process.stop)
        started = time.time()
        process.start()
        watched_s = time.time() - started
        # "shutdown" after the duration or a signal; a sitemap that could not be read closes the
        # spider at once with its reason ("sitemap ..."), which the command reports as an error.
        finish_reason = str(crawler.stats.get_value("finish_reason", "unknown"))
        if poller is not None:
            poller.stop()
        if self.decider is not None:
            pending = self.decider.drain(self.config.drain_s)
            self.decider.stop()
            decider.join(timeout=10)
        else:  # the decide processes go on with what this watcher captured
            pending = self.store.counts()["changes"].get("pending", 0)
        undelivered = 0
        if self.webhooks is not None and webhooks is not None:
            undelivered = self.webhooks.drain(self.config.drain_s)
            self.webhooks.stop()
            webhooks.join(timeout=10)
        stop_flush.set()
        flusher.join(timeout=30)
        self._flush()
        server.should_exit = True
        feed.join(timeout=10)
        if self._lock is not None:
            self._lock.close()
        return {**self.store.counts(), "this_run": self.metrics.totals(),
                "pending_at_stop": pending, "undelivered_at_stop": undelivered,
                "watched_s": round(watched_s, 1), "finish_reason": finish_reason,
                "revisits_from": started, "revisits_until": started + watched_s,
                "run_id": self.run_id,
                "feed_url": f"http://127.0.0.1:{self.feed_port}"}
