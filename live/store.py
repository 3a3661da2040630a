"""The live loop's embedded broker and memory: one SQLite file under the state folder.

``<state>/live/live.sqlite`` (WAL journal, so the feed reads while the watcher writes) holds:

- ``products``: the last known state of every watched page (ETag, the observed record, the price
  and stock windows the decisions read, the reason its redirect is refused for while that persists)
  and its visit/change counts;
- ``changes``: the change stream — one row per (observed change, decision it feeds), with the
  contract record the pod will see; ``state`` is ``pending`` → ``done`` | ``failed`` (reason kept);
- ``insights``: every decision answer, keyed by a stable ``insight_id``, ``seq`` ordering the feed;
- ``quarantine``: pages and changes the loop could not use, with the reason (a row that can be
  read twice, a pushed row of a re-read inbox take, carries a unique ``key`` and is kept once);
- ``alerts``: the last alert per (product, decision), for the cooldown;
- ``meta``: values kept across restarts (the inbox take in progress);
- ``deliveries``: one row per (webhook subscriber, insight) owed to it (:mod:`live.webhooks`);
  ``state`` is ``pending`` → ``delivered`` | ``dead`` (last error kept);
- ``webhook_cursors``: per subscriber, the last insight ``seq`` considered for enqueueing.

Why this is crash-safe (a watcher killed with SIGKILL and restarted loses no change and
publishes no insight twice): a change is captured in the same transaction that moves the
product's known state forward, so either both happen or the page still looks changed on the next
visit; change ids derive from the product's change counter, persisted in that transaction, so a
re-detected change gets the same id; an insight and its change's ``done`` mark commit together,
and ``insight_id`` is unique, so re-deciding a change after a crash inserts nothing new.
Webhook deliveries are enqueued in the transaction that moves their subscriber's cursor, and
(subscriber, insight) is unique, so a restarted watcher neither skips nor doubles a delivery row.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from commons.errors import EdgeInsightsError
from commons.existing_sqlite import open_existing
from commons.settings import live_store_file
from live.wakeup import PublishSignal

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    url TEXT PRIMARY KEY, product_id TEXT, etag TEXT, record TEXT, prices TEXT NOT NULL DEFAULT '[]',
    stocks TEXT NOT NULL DEFAULT '[]', visits INTEGER NOT NULL DEFAULT 0, changes INTEGER NOT NULL DEFAULT 0,
    last_visit REAL, seeded INTEGER NOT NULL DEFAULT 0, refused TEXT);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, change_id TEXT UNIQUE NOT NULL, url TEXT NOT NULL,
    product_id TEXT, decision TEXT NOT NULL, kind TEXT NOT NULL, before TEXT, after TEXT,
    record TEXT NOT NULL, signal TEXT NOT NULL, received_at REAL NOT NULL, changed_at TEXT NOT NULL,
    padded INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'pending', tries INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0, reason TEXT, warehoused INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS changes_pending ON changes(state, next_try);
CREATE TABLE IF NOT EXISTS insights (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, insight_id TEXT UNIQUE NOT NULL, change_id TEXT NOT NULL,
    decision TEXT NOT NULL, label TEXT NOT NULL, score REAL NOT NULL, route TEXT NOT NULL,
    alert INTEGER NOT NULL, product_id TEXT, url TEXT NOT NULL, kind TEXT NOT NULL, before TEXT, after TEXT,
    changed_at TEXT NOT NULL, decided_at TEXT NOT NULL, published_at TEXT NOT NULL, model_version TEXT,
    bundle_sha256 TEXT, signal_digest TEXT NOT NULL, received_at REAL NOT NULL, published REAL NOT NULL,
    warehoused INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS insights_unwarehoused ON insights(warehoused);
CREATE TABLE IF NOT EXISTS quarantine (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, stage TEXT NOT NULL, url TEXT, reason TEXT NOT NULL,
    row TEXT, at REAL NOT NULL, key TEXT);
CREATE TABLE IF NOT EXISTS observations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL, signal TEXT NOT NULL, received_at REAL NOT NULL,
    warehoused INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS observations_unwarehoused ON observations(warehoused);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    product_key TEXT NOT NULL, decision TEXT NOT NULL, alerted_at REAL NOT NULL, value REAL,
    PRIMARY KEY (product_key, decision));
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, subscriber TEXT NOT NULL, insight_id TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', tries INTEGER NOT NULL DEFAULT 0, next_try REAL NOT NULL DEFAULT 0,
    last_error TEXT, delivered_at REAL, UNIQUE (subscriber, insight_id));
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(subscriber, state, next_try);
CREATE TABLE IF NOT EXISTS webhook_cursors (subscriber TEXT PRIMARY KEY, cursor INTEGER NOT NULL);
"""

#: Columns of an insight as the feed, the CLI and the warehouse show it (``received_at``: epoch seconds
#: the watcher received the page the change was seen in, where harvest → insight latency starts).
INSIGHT_FIELDS = ("seq", "insight_id", "decision", "label", "score", "route", "alert", "product_id", "url",
                  "kind", "before", "after", "changed_at", "decided_at", "published_at", "model_version",
                  "bundle_sha256", "signal_digest", "received_at")


def store_path(state_dir: Path) -> Path:
    """The live store's file under a state folder (``<state>/live/live.sqlite``)."""
    return live_store_file(state_dir)


@dataclass(frozen=True)
class Change:
    """One captured change for one decision, as the change stream carries it.

    Attributes:
        seq: position in the stream, ascending (SQLite rowid; with Redis the stream entry ``{seq}-0``).
        change_id: stable id: sha256 of (url, decision, the product's change number).
        url, product_id: the page and the product it shows.
        decision: the decision this change feeds (``price_spike``, ``urgent_inventory``, ``negative_review``).
        kind: what moved: ``price``, ``stock`` or ``review``.
        before, after: the moved value before and after (JSON values; ``before`` None on first sight).
        record: the contract record sent to the pod (only the contract's fields).
        signal: the scrubbed signal record (``SignalRecord.to_dict()``) the change was seen in.
        received_at: epoch seconds the page's response was received (latency starts here).
        changed_at: ISO-8601 UTC instant the watcher saw the change.
        tries: decision attempts so far.
    """

    seq: int
    change_id: str
    url: str
    product_id: str | None
    decision: str
    kind: str
    before: Any
    after: Any
    record: dict[str, Any]
    signal: dict[str, Any]
    received_at: float
    changed_at: str
    tries: int


@dataclass(frozen=True)
class Delivery:
    """One insight owed to one webhook subscriber, as the delivery worker attempts it.

    Attributes:
        seq: the delivery's row id (ascending in enqueue order).
        subscriber: the subscriber's URL.
        insight: the insight as subscribers see it (:func:`public_insight`).
        published: epoch seconds the insight was published (delivery latency starts here).
        tries: attempts so far.
    """

    seq: int
    subscriber: str
    insight: dict[str, Any]
    published: float
    tries: int


class StoreUnreadable(EdgeInsightsError):
    """The live store's file is missing, not an SQLite file, or holds none of the live loop's tables."""


class LiveStore:
    """The SQLite file of the live loop; safe to share between threads of one process and between processes.

    Args:
        path: the database file (created with its folder, its schema added, unless ``open_mode`` is given).
        open_mode: ``"ro"`` or ``"rw"``: open the existing file only, as it is (use :func:`existing_store`).
    """

    def __init__(self, path: Path, *, open_mode: str | None = None) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._open_mode = open_mode
        #: Notified after each publish commits: the feed's streams wake on it (:mod:`live.wakeup`).
        self.published = PublishSignal()
        if open_mode:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # executescript commits on its own, so the schema is not wrapped in a transaction.
        con = self._connection()
        con.executescript(SCHEMA)
        # A store written before quarantine rows had keys, or before refusals were kept, gains the column in place.
        for table, column in (("quarantine", "key"), ("products", "refused")):
            if column not in {row["name"] for row in con.execute(f"PRAGMA table_info({table})")}:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
        con.execute("CREATE UNIQUE INDEX IF NOT EXISTS quarantine_key ON quarantine(key)")

    def _connection(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None and self._open_mode:
            con = self._local.con = open_existing(self.path, self._open_mode)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed transaction survives a killed process (the WAL is
            # written before commit returns); only an OS crash may lose the last commits.
            con.execute("PRAGMA synchronous=NORMAL")
            self._local.con = con
        return con

    def close(self) -> None:
        """Close the calling thread's connection now; the next call opens a new one. Without it the
        connection closes only when the garbage collector frees it (it sits in a reference cycle), and
        until then no writer's clean close can remove the store's ``-wal`` and ``-shm``."""
        con, self._local.con = getattr(self._local, "con", None), None
        if con is not None:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``), committed on exit, rolled back on error."""
        con = self._connection()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def query(self, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
        """Rows of a read query as dicts."""
        return [dict(row) for row in self._connection().execute(sql, params).fetchall()]

    def meta(self, key: str) -> str | None:
        """A value the loop keeps across restarts (e.g. the inbox take in progress), or None."""
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str | None) -> None:
        """Set (or, with None, clear) a value kept across restarts."""
        with self.transaction() as con:
            if value is None:
                con.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                con.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # ---- products -------------------------------------------------------------------------
    def product(self, url: str) -> dict[str, Any] | None:
        """The known state of ``url`` (``record``, ``prices``, ``stocks`` decoded), or None."""
        rows = self.query("SELECT * FROM products WHERE url = ?", (url,))
        if not rows:
            return None
        row = rows[0]
        row["record"] = json.loads(row["record"]) if row["record"] else None
        row["prices"], row["stocks"] = json.loads(row["prices"]), json.loads(row["stocks"])
        return row

    def add_products(self, urls: list[str]) -> int:
        """Register pages to watch (known ones are kept as they are); returns how many were new."""
        with self.transaction() as con:
            before = con.total_changes
            con.executemany("INSERT OR IGNORE INTO products(url) VALUES (?)", [(u,) for u in urls])
            return con.total_changes - before

    def etags(self) -> dict[str, str | None]:
        """URL → last ETag (None if none) of every registered page."""
        return {row["url"]: row["etag"] for row in self.query("SELECT url, etag FROM products")}

    def refusals(self) -> dict[str, str]:
        """URL → the reason its redirect is refused for, of every page whose refusal is in force
        (:mod:`crawlers.watch_spider`)."""
        return {row["url"]: row["refused"] for row in self.query("SELECT url, refused FROM products "
                                                                 "WHERE refused IS NOT NULL")}

    def refuse(self, url: str, reason: str) -> None:
        """Quarantine a refused redirect of a registered page (stage ``harvest``) and keep the refusal in
        force, atomically: a watcher restarted after either is not left to record it again."""
        with self.transaction() as con:
            _quarantine(con, "harvest", url, reason, {"http_status": None})
            con.execute("UPDATE products SET refused = ? WHERE url = ?", (reason, url))

    def end_refusal(self, url: str) -> None:
        """The refusal of ``url`` no longer holds (a visit ended otherwise): its return is recorded again."""
        with self.transaction() as con:
            con.execute("UPDATE products SET refused = NULL WHERE url = ?", (url,))

    def seed_windows(self, url: str, product_id: str, prices: list[float], stocks: list[float]) -> None:
        """Set a page's windows (newest first) from a backfilled history, once (later calls do nothing)."""
        with self.transaction() as con:
            con.execute("UPDATE products SET product_id = ?, prices = ?, stocks = ?, seeded = 1 "
                        "WHERE url = ? AND seeded = 0", (product_id, json.dumps(prices), json.dumps(stocks), url))

    def record_visit(self, url: str, visited_at: float, etag: str | None = None) -> None:
        """Count a visit that saw no change (304, or a 200 whose observed fields are unchanged)."""
        with self.transaction() as con:
            con.execute("UPDATE products SET visits = visits + 1, last_visit = ?, etag = COALESCE(?, etag) "
                        "WHERE url = ?", (visited_at, etag, url))

    def capture(self, url: str, *, product_id: str, etag: str | None, record: dict[str, Any],
                prices: list[float], stocks: list[float], changes: list[dict[str, Any]], visited_at: float) -> None:
        """Move a page's known state forward and append its changes to the stream, atomically.

        ``changes`` are dicts with the :class:`Change` fields except ``seq`` and ``tries``, plus
        ``padded``: the decision's window was padded (a short known history). A record that feeds
        no change (a page's first sight, a move no decision reads) goes to ``observations``
        instead, so the warehouse flush copies every stored record, not only the changed ones.
        """
        with self.transaction() as con:
            # A pushed record may be of a page no sitemap listed: it is known from now on (as the
            # Redis broker's hash is), though only sitemap pages are revisited.
            con.execute("INSERT OR IGNORE INTO products(url) VALUES (?)", (url,))
            con.execute("UPDATE products SET product_id = ?, etag = ?, record = ?, prices = ?, stocks = ?, "
                        "visits = visits + 1, changes = changes + ?, last_visit = ? WHERE url = ?",
                        (product_id, etag, json.dumps(record), json.dumps(prices), json.dumps(stocks),
                         1 if changes else 0, visited_at, url))
            con.executemany(
                "INSERT OR IGNORE INTO changes(change_id, url, product_id, decision, kind, before, after, record, "
                "signal, received_at, changed_at, padded) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(c["change_id"], url, product_id, c["decision"], c["kind"], json.dumps(c["before"]),
                  json.dumps(c["after"]), json.dumps(c["record"]), json.dumps(c["signal"]), c["received_at"],
                  c["changed_at"], int(c["padded"])) for c in changes])
            if not changes:
                con.execute("INSERT INTO observations(url, signal, received_at) VALUES (?, ?, ?)",
                            (url, json.dumps(record), visited_at))

    # ---- the change stream -----------------------------------------------------------------
    def pending(self, now: float, limit: int = 64) -> list[Change]:
        """Pending changes due at ``now`` (epoch s), oldest first."""
        rows = self.query("SELECT * FROM changes WHERE state = 'pending' AND next_try <= ? ORDER BY seq LIMIT ?",
                          (now, limit))
        return [Change(seq=r["seq"], change_id=r["change_id"], url=r["url"], product_id=r["product_id"],
                       decision=r["decision"], kind=r["kind"], before=json.loads(r["before"]),
                       after=json.loads(r["after"]), record=json.loads(r["record"]),
                       signal=json.loads(r["signal"]), received_at=r["received_at"], changed_at=r["changed_at"],
                       tries=r["tries"]) for r in rows]

    def retry_later(self, change: Change, reason: str, next_try: float, *, counted: bool = True) -> None:
        """Set when to try a change again (epoch s), counting the failed attempt (pod 5xx, time-out)
        unless not ``counted`` (the pod could not be reached: the change only waits)."""
        with self.transaction() as con:
            con.execute("UPDATE changes SET tries = tries + ?, next_try = ?, reason = ? WHERE change_id = ?",
                        (int(counted), next_try, reason, change.change_id))

    def fail(self, change: Change, reason: str) -> None:
        """Give a change up (a 4xx answer, or out of tries): ``failed`` with the reason, and quarantined."""
        with self.transaction() as con:
            con.execute("UPDATE changes SET state = 'failed', tries = tries + 1, reason = ? WHERE change_id = ?",
                        (reason, change.change_id))
            con.execute("INSERT INTO quarantine(stage, url, reason, row, at) VALUES ('decide', ?, ?, ?, ?)",
                        (change.url, reason, json.dumps(change.record), time.time()))

    def publish(self, insights: list[dict[str, Any]], done: list[str]) -> int:
        """Insert insights and mark their changes done in one transaction; returns the new insight count.

        An ``insight_id`` already present is ignored (a change re-decided after a crash).
        """
        published = time.time()
        with self.transaction() as con:
            before = con.total_changes
            con.executemany(
                "INSERT OR IGNORE INTO insights(insight_id, change_id, decision, label, score, route, alert, "
                "product_id, url, kind, before, after, changed_at, decided_at, published_at, model_version, "
                "bundle_sha256, signal_digest, received_at, published) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(i["insight_id"], i["change_id"], i["decision"], i["label"], i["score"], i["route"], int(i["alert"]),
                  i["product_id"], i["url"], i["kind"], json.dumps(i["before"]), json.dumps(i["after"]),
                  i["changed_at"], i["decided_at"], _iso(published), i["model_version"], i["bundle_sha256"],
                  i["signal_digest"], i["received_at"], published) for i in insights])
            added = con.total_changes - before
            con.executemany("UPDATE changes SET state = 'done', tries = tries + 1, reason = NULL "
                            "WHERE change_id = ?", [(c,) for c in done])
            for i in insights:
                if i["alert"]:
                    con.execute("INSERT OR REPLACE INTO alerts(product_key, decision, alerted_at, value) "
                                "VALUES (?,?,?,?)", (i["url"], i["decision"], published, i.get("alert_value")))
        self.published.notify()
        return added

    def last_alert(self, url: str, decision: str) -> dict[str, Any] | None:
        """When ``url`` was last alerted for ``decision`` (epoch s) and the value it was alerted at."""
        rows = self.query("SELECT alerted_at, value FROM alerts WHERE product_key = ? AND decision = ?",
                          (url, decision))
        return rows[0] if rows else None

    def quarantine(self, stage: str, url: str | None, reason: str, row: dict[str, Any] | None,
                   key: str | None = None) -> None:
        """Keep a page or change the loop could not use, with the reason.

        ``key``: for a row that may be read again (a re-read inbox take), a key unique to it; a
        second row with the same key is not added.
        """
        with self.transaction() as con:
            _quarantine(con, stage, url, reason, row, key)

    # ---- the feed ------------------------------------------------------------------------------
    def insights_after(self, seq: int, *, decision: str | None = None, label: str | None = None,
                       product_id: str | None = None, alerts_only: bool = False,
                       limit: int = 500) -> list[dict[str, Any]]:
        """Insights with ``seq`` greater than ``seq`` (oldest first), filtered, at most ``limit``."""
        where, params = ["seq > ?"] + (["alert = 1"] if alerts_only else []), [seq]
        for column, value in (("decision", decision), ("label", label), ("product_id", product_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        rows = self.query(f"SELECT * FROM insights WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
                          (*params, limit))
        return [public_insight(r) for r in rows]

    def head(self) -> int:
        """The newest insight's ``seq`` (0 when none)."""
        return self.query("SELECT COALESCE(MAX(seq), 0) AS head FROM insights")[0]["head"]

    # ---- webhook deliveries ----------------------------------------------------------------------
    def subscribe(self, subscriber: str) -> int:
        """Register a webhook subscriber (its URL) and return its cursor.

        A subscriber first seen starts at the newest insight, like an SSE stream without
        ``Last-Event-ID``: it is owed what is published from then on. A known one keeps its cursor.
        """
        with self.transaction() as con:
            con.execute("INSERT OR IGNORE INTO webhook_cursors(subscriber, cursor) "
                        "SELECT ?, COALESCE(MAX(seq), 0) FROM insights", (subscriber,))
            return con.execute("SELECT cursor FROM webhook_cursors WHERE subscriber = ?",
                               (subscriber,)).fetchone()["cursor"]

    def enqueue_deliveries(self, subscriber: str, *, decisions: frozenset[str] = frozenset(),
                           alerts_only: bool = False) -> int:
        """Owe ``subscriber`` the insights published past its cursor that pass its filters, and move
        the cursor to the newest insight, atomically; returns how many deliveries were added.

        ``decisions`` empty means every decision. Idempotent: a (subscriber, insight) pair already
        owed is not added again, whatever the cursor says.

        Raises:
            KeyError: ``subscriber`` was never registered with :meth:`subscribe`.
        """
        # A read first: the worker polls often, and a write lock per poll would queue behind capture.
        rows = self.query("SELECT cursor, (SELECT COALESCE(MAX(seq), 0) FROM insights) AS head "
                          "FROM webhook_cursors WHERE subscriber = ?", (subscriber,))
        if not rows:
            raise KeyError(f"not a subscriber: {subscriber}")
        if rows[0]["head"] <= rows[0]["cursor"]:
            return 0
        filters = ""
        if decisions:
            filters += f" AND decision IN ({','.join('?' * len(decisions))})"
        if alerts_only:
            filters += " AND alert = 1"
        with self.transaction() as con:
            cursor = con.execute("SELECT cursor FROM webhook_cursors WHERE subscriber = ?",
                                 (subscriber,)).fetchone()["cursor"]
            head = con.execute("SELECT COALESCE(MAX(seq), 0) AS head FROM insights").fetchone()["head"]
            before = con.total_changes
            # next_try starts at the moment the delivery is owed: due at once, and the time the
            # privacy policy ages the row by (a 0 there made retention delete every delivered row).
            con.execute(f"INSERT OR IGNORE INTO deliveries(subscriber, insight_id, next_try) SELECT ?, insight_id, ? "
                        f"FROM insights WHERE seq > ? AND seq <= ?{filters} ORDER BY seq",
                        (subscriber, time.time(), cursor, head, *sorted(decisions)))
            added = con.total_changes - before
            con.execute("UPDATE webhook_cursors SET cursor = ? WHERE subscriber = ?", (head, subscriber))
        return added

    def due_deliveries(self, subscriber: str, now: float, limit: int = 32) -> list[Delivery]:
        """``subscriber``'s pending deliveries due at ``now`` (epoch s), oldest first."""
        rows = self.query("SELECT d.seq AS delivery_seq, d.subscriber, d.tries, i.* FROM deliveries d "
                          "JOIN insights i ON i.insight_id = d.insight_id WHERE d.subscriber = ? "
                          "AND d.state = 'pending' AND d.next_try <= ? ORDER BY d.seq LIMIT ?",
                          (subscriber, now, limit))
        return [Delivery(seq=r["delivery_seq"], subscriber=r["subscriber"], insight=public_insight(r),
                         published=r["published"], tries=r["tries"]) for r in rows]

    def mark_delivered(self, delivery: Delivery, at: float) -> None:
        """Count the attempt that a subscriber acknowledged (2xx) at ``at`` (epoch s)."""
        self._attempted(delivery, "state = 'delivered', delivered_at = ?", (at,))

    def retry_delivery(self, delivery: Delivery, error: str, next_try: float) -> None:
        """Count a failed attempt (unreachable, time-out, 5xx, 429) and set when to try again."""
        self._attempted(delivery, "next_try = ?, last_error = ?", (next_try, error))

    def dead_letter(self, delivery: Delivery, error: str) -> None:
        """Give a delivery up (a final answer, or out of tries): ``dead`` with the error."""
        self._attempted(delivery, "state = 'dead', last_error = ?", (error,))

    def _attempted(self, delivery: Delivery, assignments: str, params: tuple) -> None:
        with self.transaction() as con:
            con.execute(f"UPDATE deliveries SET tries = tries + 1, {assignments} WHERE seq = ?",
                        (*params, delivery.seq))

    def delivery_backlog(self, subscribers: list[str]) -> int:
        """What ``subscribers`` may still be owed: their pending deliveries plus the insights past their
        cursors (not yet filtered, so an upper bound)."""
        marks = ",".join("?" * len(subscribers))
        return self.query(
            f"SELECT (SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND subscriber IN ({marks})) + "
            f"(SELECT COUNT(*) FROM webhook_cursors c JOIN insights i ON i.seq > c.cursor "
            f"WHERE c.subscriber IN ({marks})) AS n", (*subscribers, *subscribers))[0]["n"]

    def redeliver(self, subscriber: str | None = None) -> int:
        """Put dead deliveries (of ``subscriber``, or of all) back in the queue, due now with no
        tries, their last error kept behind a note; returns how many. The insight and so the
        ``webhook-id`` are unchanged, so a receiver that did get one deduplicates it."""
        where, params = ("AND subscriber = ?", (subscriber,)) if subscriber else ("", ())
        with self.transaction() as con:
            return con.execute("UPDATE deliveries SET state = 'pending', tries = 0, next_try = ?, "
                               "last_error = 'redelivery asked; was: ' || COALESCE(last_error, '') "
                               f"WHERE state = 'dead' {where}", (time.time(), *params)).rowcount

    def deliveries(self, state: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` deliveries (of ``state`` if given), oldest first, with their insight's
        decision: what ``edge-insights deliveries`` lists."""
        where, params = ("WHERE d.state = ?", (state,)) if state else ("", ())
        rows = self.query(f"SELECT d.*, i.decision FROM deliveries d "
                          f"JOIN insights i ON i.insight_id = d.insight_id {where} ORDER BY d.seq DESC LIMIT ?",
                          (*params, limit))
        return rows[::-1]

    def counts(self) -> dict[str, Any]:
        """Totals for the CLI and the demo: products, visits, changes by state, insights, quarantine,
        webhook deliveries by state."""
        q = self.query
        return {
            "products": q("SELECT COUNT(*) AS n FROM products")[0]["n"],
            "visits": q("SELECT COALESCE(SUM(visits), 0) AS n FROM products")[0]["n"],
            "changes": {r["state"]: r["n"] for r in q("SELECT state, COUNT(*) AS n FROM changes GROUP BY state")},
            "insights": q("SELECT COUNT(*) AS n FROM insights")[0]["n"],
            "deliveries": {r["state"]: r["n"] for r in q("SELECT state, COUNT(*) AS n FROM deliveries "
                                                          "GROUP BY state")},
            "quarantined": {r["reason"]: r["n"] for r in q("SELECT reason, COUNT(*) AS n FROM quarantine "
                                                            "GROUP BY reason")},
        }


def _quarantine(con: sqlite3.Connection, stage: str, url: str | None, reason: str, row: dict[str, Any] | None,
                key: str | None = None) -> None:
    """The quarantine row of :meth:`LiveStore.quarantine`, inside the caller's transaction."""
    con.execute("INSERT OR IGNORE INTO quarantine(stage, url, reason, row, at, key) VALUES (?,?,?,?,?,?)",
                (stage, url, reason, json.dumps(row, default=str) if row is not None else None, time.time(), key))


def existing_store(path: Path, *, writable: bool = False) -> LiveStore:
    """The live store at ``path`` as the live loop left it, for commands that read it (or, ``writable``,
    update its rows): opened ``mode=ro`` (or ``rw``) by :func:`commons.existing_sqlite.open_existing`, so no schema
    or journal-mode change is made (a read may leave an empty ``-wal`` and its ``-shm`` index beside the file).
    A listing that created the schema would turn a damaged or foreign file into an empty store.

    Raises:
        StoreUnreadable: no file at ``path``, not an SQLite file, or no ``insights`` table in it (an
            empty file included).
    """
    path = Path(path)
    if not path.is_file():
        raise StoreUnreadable(f"no live store at {path}: run `edge-insights watch` first")
    store = LiveStore(path, open_mode="rw" if writable else "ro")
    try:
        tables = {row["name"] for row in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as err:  # as the insights_observer sensor: not a database, locked past the wait
        raise StoreUnreadable(f"the live store at {path} cannot be read: {err}") from None
    if "insights" not in tables:
        raise StoreUnreadable(f"the live store at {path} holds none of the live loop's tables"
                              f"{' (an empty file)' if not path.stat().st_size else ''}")
    return store


def public_insight(row: dict[str, Any]) -> dict[str, Any]:
    """An insights row as subscribers see it (:data:`INSIGHT_FIELDS`; before/after decoded, alert a bool)."""
    out = {k: row[k] for k in INSIGHT_FIELDS}
    out["before"], out["after"] = json.loads(row["before"]), json.loads(row["after"])
    out["alert"] = bool(row["alert"])
    return out


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()
