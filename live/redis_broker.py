"""The live loop's scale-out broker: the change and insight streams on Redis Streams with consumer groups.

Selected by ``EDGE_INSIGHTS_BROKER=redis://host:port/db`` (:func:`live.broker.open_broker`); it
answers the calls of :class:`live.store.LiveStore` that the capture, the decider and the feed make,
with the same shapes, so several watcher and decider processes share the work and survive one
dying. Keys (``N`` is the namespace, default ``edge-insights``):

=============================  ======  ================================================================
key                            type    holds
=============================  ======  ================================================================
``N:products``                 set     the watched page URLs
``N:product:{url}``            hash    a page's known state, each field JSON: ``product_id``, ``etag``,
                                       ``record``, ``prices``, ``stocks``, ``visits``, ``changes`` (the
                                       change counter change ids derive from), ``last_visit``
``N:changes``                  stream  the change stream: entry ``{seq}-0``, field ``change`` (JSON:
                                       :class:`Change` fields but ``seq``, plus ``padded``);
                                       groups ``deciders`` and ``warehouse``
``N:observations``             stream  field ``signal``: JSON of a stored record that fed no change (a
                                       page's first sight); group ``warehouse``, deleted once copied
``N:changes:seq``              string  the last change ``seq`` handed out
``N:change:{change_id}``       string  set once a change is on the stream: a re-detected change is
                                       not appended twice
``N:retry``                    zset    changes to decide again, scored by when (epoch s)
``N:insights``                 stream  the insight feed: entry ``{seq}-0``, field ``insight`` (JSON of
                                       the insights row as SQLite holds it); group ``warehouse``
``N:insights:seq``             string  the last insight ``seq`` handed out (= insights published)
``N:insight:{insight_id}``     string  the ``seq`` an insight was published at (publish once)
``N:alerts``                   hash    ``{url}\\n{decision}`` → JSON ``{alerted_at, value}`` (cooldown)
``N:quarantine``               stream  field ``entry``: JSON ``{stage, url, reason, row, at}``
``N:quarantined``              hash    reason → count
``N:counts``                   hash    ``visits``, ``captured``, ``done``, ``failed``
=============================  ======  ================================================================

How ``seq`` maps: both streams use explicit ids ``{seq}-0``, with ``seq`` taken from the stream's
counter in the same script that appends, so a change's or an insight's ``seq`` is an integer that
only grows, exactly as SQLite's rowid: the feed's SSE ``id:`` is that integer, and
``insights_after(seq)`` reads the stream after id ``{seq}-0``.

Why nothing is lost or published twice:

- capture is one Lua script (atomic: no other client sees or runs anything between its commands,
  and a watcher killed mid-call sent all of it or none): the page's state moves forward and its
  changes are appended together, each change only if its ``N:change:{id}`` key was not set yet
  (``SET NX`` semantics; a script rather than MULTI/EXEC, which cannot make the append depend on it);
- a decider claims changes in group ``deciders`` under its consumer name (``XREADGROUP``); a change
  stays in its pending list until settled, and one idle longer than the visibility timeout (its
  decider died, or hung) is taken over by the next decider that asks (``XAUTOCLAIM``);
- publish is one Lua script: each insight is appended only if its ``insight_id`` key is new, and
  the changes are acknowledged in the same call; a retry acknowledges the change and schedules a
  copy (``tries`` + 1) in ``N:retry`` in one MULTI/EXEC; a change that is due is appended again;
- deciding is at least once (a taken-over change may be decided twice), publishing exactly once.

What is kept: a watcher trims both streams after each warehouse flush (:meth:`RedisBroker.trim`):
an entry goes once every consumer group has settled it (read and acknowledged, so nothing unsettled
is ever lost) and it is not among the newest ``FEED_KEEP`` (the feed's replay window); the
quarantine stream keeps its newest ``FEED_KEEP`` (its counts by reason stay whole). The append-once
and publish-once keys expire after ``DEDUPE_TTL_S``, long past any take-over or re-detection.
Pages' state and alert cooldowns are kept (one hash per page).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from datetime import datetime, timezone
from typing import Any

import redis

from commons.warehouse import Warehouse, flatten
from data_quality.rules import INTAKE_OF_RULE_SET, rule_set_of
from live.store import INSIGHT_FIELDS, Change, public_insight
from live.wakeup import PublishSignal

log = logging.getLogger(__name__)

#: Default seconds a claimed change may stay unsettled before another decider takes it over. It
#: must exceed one decider step (up to 4 pod requests of ``timeout_s`` each), or live deciders'
#: changes are decided twice (harmless: published once).
VISIBILITY_S = 60.0
DECIDERS = "deciders"
WAREHOUSE = "warehouse"
#: Entries one warehouse flush reads from each stream per round.
FLUSH_BATCH = 1000
#: Newest entries of each stream kept once settled: the insight feed's replay window (an SSE client
#: resuming after an older id gets what is left).
FEED_KEEP = 100_000
#: Seconds an append-once (``N:change:{id}``) or publish-once (``N:insight:{id}``) key lives: a change
#: is re-detected, or re-decided after a take-over, within minutes.
DEDUPE_TTL_S = 7 * 86_400
#: Fields of a change's stream entry that are :class:`Change` attributes (``seq`` is the entry id).
CHANGE_KEYS = ("change_id", "url", "product_id", "decision", "kind", "before", "after", "record", "signal",
               "received_at", "changed_at", "tries")
PRODUCT_DEFAULTS: dict[str, Any] = {"product_id": None, "etag": None, "record": None, "prices": [], "stocks": [],
                                    "visits": 0, "changes": 0, "last_visit": None, "seeded": 0, "refused": None}

# KEYS: product hash, products set, changes stream, changes counter, counts hash, observations stream,
#       one dedupe key a change.
# ARGV: url, 1 if the change counter moves, k, the record as JSON when it feeds no change (else ''),
#       k field/value pairs of the product hash, one JSON a change.
CAPTURE_LUA = """
local url, bump, k, observed = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('SADD', KEYS[2], url)
redis.call('HSET', KEYS[1], unpack(ARGV, 5, 4 + 2 * k))
redis.call('HINCRBY', KEYS[1], 'visits', 1)
redis.call('HINCRBY', KEYS[1], 'changes', bump)
redis.call('HINCRBY', KEYS[5], 'visits', 1)
if observed ~= '' then
  redis.call('XADD', KEYS[6], '*', 'signal', observed)
end
local added = 0
for i = 7, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', DEDUPE_TTL_S) then
    local seq = redis.call('INCR', KEYS[4])
    redis.call('XADD', KEYS[3], seq .. '-0', 'change', ARGV[4 + 2 * k + i - 6])
    added = added + 1
  end
end
redis.call('HINCRBY', KEYS[5], 'captured', added)
return added
"""

# KEYS: insights stream, insights counter, changes stream, counts hash, alerts hash, one dedupe key an insight.
# ARGV: group, n, n insight rows (JSON), n alert fields ('' = not an alert), n alert values, entry ids to ack.
PUBLISH_LUA = """
local group, n = ARGV[1], tonumber(ARGV[2])
local added = 0
for i = 1, n do
  if redis.call('EXISTS', KEYS[5 + i]) == 0 then
    local seq = redis.call('INCR', KEYS[2])
    redis.call('XADD', KEYS[1], seq .. '-0', 'insight', ARGV[2 + i])
    redis.call('SET', KEYS[5 + i], seq, 'EX', DEDUPE_TTL_S)
    if ARGV[2 + n + i] ~= '' then
      redis.call('HSET', KEYS[5], ARGV[2 + n + i], ARGV[2 + 2 * n + i])
    end
    added = added + 1
  end
end
for j = 3 + 3 * n, #ARGV do
  redis.call('HINCRBY', KEYS[4], 'done', redis.call('XACK', KEYS[3], group, ARGV[j]))
end
return added
"""

# KEYS: retry zset, changes stream, changes counter. ARGV: now (epoch s), how many at most.
PROMOTE_LUA = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, change in ipairs(due) do
  local seq = redis.call('INCR', KEYS[3])
  redis.call('XADD', KEYS[2], seq .. '-0', 'change', change)
  redis.call('ZREM', KEYS[1], change)
end
return #due
"""


def _seq(entry_id: str) -> int:
    """The ``seq`` of a stream entry id ``{seq}-0``."""
    return int(entry_id.partition("-")[0])


class RedisBroker:
    """The change and insight streams on one Redis server; safe to share between threads.

    Args:
        url: ``redis://host:port/db`` (also ``rediss://``, ``unix://``; redis-py's ``from_url``).
        namespace: prefix of every key (several loops may share one server).
        consumer: this process's name in the consumer groups (default ``host:pid``): a process
            restarted under the same name resumes its own unsettled changes at once; under a new
            one they are taken over after ``visibility_s``.
        visibility_s: seconds a claimed change may stay unsettled before another consumer takes it.

    Raises:
        redis.exceptions.ConnectionError: the server does not answer.
    """

    def __init__(self, url: str, *, namespace: str = "edge-insights", consumer: str | None = None,
                 visibility_s: float = VISIBILITY_S) -> None:
        # RESP2 pinned: the stream replies are parsed as its lists ([[stream, [(id, fields)…]]]).
        self.redis = redis.Redis.from_url(url, decode_responses=True, protocol=2)
        self.consumer = consumer or f"{socket.gethostname()}:{os.getpid()}"
        self.visibility_ms = int(visibility_s * 1000)
        self.ns = namespace
        self.changes, self.insights = f"{namespace}:changes", f"{namespace}:insights"
        self.observations = f"{namespace}:observations"
        self.retry, self.counters = f"{namespace}:retry", f"{namespace}:counts"
        self._capture = self.redis.register_script(CAPTURE_LUA.replace("DEDUPE_TTL_S", str(DEDUPE_TTL_S)))
        self._publish = self.redis.register_script(PUBLISH_LUA.replace("DEDUPE_TTL_S", str(DEDUPE_TTL_S)))
        self._promote = self.redis.register_script(PROMOTE_LUA)
        # change_id → (seq, stream entry) of the changes this instance claimed and has not settled:
        # publish is handed change ids, the acknowledgement needs the entry.
        self._claimed: dict[str, tuple[int, dict[str, Any]]] = {}
        #: Notified after each publish of this instance: the feed's streams in this process wake on it.
        self.published = PublishSignal()
        self._cursors: dict[tuple[str, str], str] = {}
        for stream, group in ((self.changes, DECIDERS), (self.changes, WAREHOUSE), (self.insights, WAREHOUSE),
                              (self.observations, WAREHOUSE)):
            try:
                self.redis.xgroup_create(stream, group, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def _key(self, kind: str, name: str) -> str:
        return f"{self.ns}:{kind}:{name}"

    # ---- products -------------------------------------------------------------------------
    def product(self, url: str) -> dict[str, Any] | None:
        """The known state of ``url`` (the SQLite row's keys, values decoded), or None if never seen."""
        raw = self.redis.hgetall(self._key("product", url))
        if not raw:
            return None
        return {**PRODUCT_DEFAULTS, **{k: json.loads(v) for k, v in raw.items()}, "url": url}

    def add_products(self, urls: list[str]) -> int:
        """Register pages to watch; returns how many were new."""
        return self.redis.sadd(f"{self.ns}:products", *urls) if urls else 0

    def etags(self) -> dict[str, str | None]:
        """URL → last ETag (None if none) of every registered page."""
        return self._product_field("etag")

    def refusals(self) -> dict[str, str]:
        """URL → the reason its redirect is refused for, of every page whose refusal is in force."""
        return {url: reason for url, reason in self._product_field("refused").items() if reason is not None}

    def _product_field(self, name: str) -> dict[str, Any]:
        """URL → the decoded field ``name`` (None if unset) of every registered page's hash."""
        urls = sorted(self.redis.smembers(f"{self.ns}:products"))
        pipe = self.redis.pipeline(transaction=False)
        for url in urls:
            pipe.hget(self._key("product", url), name)
        return {url: json.loads(value) if value else None for url, value in zip(urls, pipe.execute())}

    def refuse(self, url: str, reason: str) -> None:
        """Quarantine a refused redirect of a registered page and keep the refusal in force, atomically
        (:meth:`LiveStore.refuse`)."""
        pipe = self.redis.pipeline(transaction=True)
        self._quarantine(pipe, "harvest", url, reason, {"http_status": None})
        pipe.hset(self._key("product", url), "refused", json.dumps(reason))
        pipe.execute()

    def end_refusal(self, url: str) -> None:
        """The refusal of ``url`` no longer holds: its return is recorded again."""
        self.redis.hdel(self._key("product", url), "refused")

    def record_visit(self, url: str, visited_at: float, etag: str | None = None) -> None:
        """Count a visit that saw no change (304, or a 200 whose observed fields are unchanged)."""
        key = self._key("product", url)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hincrby(key, "visits", 1)
        pipe.hset(key, "last_visit", json.dumps(visited_at))
        if etag is not None:
            pipe.hset(key, "etag", json.dumps(etag))
        pipe.hincrby(self.counters, "visits", 1)
        pipe.execute()

    def capture(self, url: str, *, product_id: str, etag: str | None, record: dict[str, Any],
                prices: list[float], stocks: list[float], changes: list[dict[str, Any]], visited_at: float) -> None:
        """Move a page's known state forward and append its changes to the stream, atomically (one script).

        ``changes`` as for :meth:`LiveStore.capture`; a change whose ``change_id`` is already on the
        stream is not appended again. A record that feeds no change goes to ``N:observations``.
        """
        state = {"product_id": product_id, "etag": etag, "record": record, "prices": prices, "stocks": stocks,
                 "last_visit": visited_at}
        pairs = [part for name, value in state.items() for part in (name, json.dumps(value))]
        entries = [json.dumps({**c, "url": url, "product_id": product_id, "tries": 0}) for c in changes]
        self._capture(keys=[self._key("product", url), f"{self.ns}:products", self.changes, f"{self.changes}:seq",
                            self.counters, self.observations, *(self._key("change", c["change_id"]) for c in changes)],
                      args=[url, 1 if changes else 0, len(state), "" if changes else json.dumps(record), *pairs,
                            *entries])

    def quarantine(self, stage: str, url: str | None, reason: str, row: dict[str, Any] | None) -> None:
        """Keep a page or change the loop could not use, with the reason."""
        pipe = self.redis.pipeline(transaction=True)
        self._quarantine(pipe, stage, url, reason, row)
        pipe.execute()

    def _quarantine(self, pipe: Any, stage: str, url: str | None, reason: str, row: dict[str, Any] | None) -> None:
        entry = {"stage": stage, "url": url, "reason": reason, "row": row, "at": time.time()}
        pipe.xadd(f"{self.ns}:quarantine", {"entry": json.dumps(entry, default=str)})
        pipe.hincrby(f"{self.ns}:quarantined", reason, 1)

    # ---- the change stream -----------------------------------------------------------------
    def _take(self, stream: str, group: str, count: int) -> list[tuple[str, dict[str, str]]]:
        """Up to ``count`` entries of ``stream`` for this consumer in ``group``: its own unsettled ones
        first (a restart under the same name, or a settle that failed), then ones other consumers
        left idle past the visibility timeout, then new ones."""
        taken = self.redis.xreadgroup(group, self.consumer, {stream: "0"}, count=count)
        entries = list(taken[0][1]) if taken else []
        if len(entries) < count:
            cursor = self._cursors.get((stream, group), "0-0")
            # XAUTOCLAIM scans the pending list from the cursor; "0-0" back means it went round.
            cursor, claimed, _deleted = self.redis.xautoclaim(stream, group, self.consumer, self.visibility_ms,
                                                              start_id=cursor, count=count - len(entries))
            self._cursors[(stream, group)] = cursor
            entries += claimed
        if len(entries) < count:
            fresh = self.redis.xreadgroup(group, self.consumer, {stream: ">"}, count=count - len(entries))
            entries += fresh[0][1] if fresh else []
        return entries

    def pending(self, now: float, limit: int = 64) -> list[Change]:
        """Claim up to ``limit`` due changes for this consumer (retries due at ``now`` are appended
        again first), oldest first within each source (see :meth:`_take`)."""
        self._promote(keys=[self.retry, self.changes, f"{self.changes}:seq"], args=[now, limit])
        out = []
        for entry_id, fields in self._take(self.changes, DECIDERS, limit):
            data = json.loads(fields["change"])
            self._claimed[data["change_id"]] = (_seq(entry_id), data)
            out.append(Change(seq=_seq(entry_id), **{k: data[k] for k in CHANGE_KEYS}))
        return out

    def _settle(self, change: Change) -> dict[str, Any]:
        """Forget a claimed change; returns its stream entry's data (rebuilt from ``change`` when a
        duplicate claim of the same change, after a takeover, settled it already)."""
        claimed = self._claimed.pop(change.change_id, None)
        return claimed[1] if claimed else {k: getattr(change, k) for k in CHANGE_KEYS}

    def retry_later(self, change: Change, reason: str, next_try: float, *, counted: bool = True) -> None:
        """Schedule the change again at ``next_try`` (epoch s), counting the failed attempt unless
        not ``counted`` (see :meth:`LiveStore.retry_later`)."""
        data = self._settle(change)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(self.retry, {json.dumps({**data, "tries": change.tries + int(counted), "reason": reason}): next_try})
        pipe.xack(self.changes, DECIDERS, f"{change.seq}-0")
        pipe.execute()

    def fail(self, change: Change, reason: str) -> None:
        """Give a change up: acknowledged, counted ``failed`` and quarantined with the reason."""
        self._settle(change)
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(self.changes, DECIDERS, f"{change.seq}-0")
        pipe.hincrby(self.counters, "failed", 1)
        self._quarantine(pipe, "decide", change.url, reason, change.record)
        pipe.execute()

    def publish(self, insights: list[dict[str, Any]], done: list[str]) -> int:
        """Append insights not yet published and acknowledge the changes ``done`` (change ids this
        instance claimed), in one script; returns how many insights were new."""
        published = time.time()
        published_at = datetime.fromtimestamp(published, timezone.utc).isoformat()
        rows, fields, values = [], [], []
        for i in insights:
            # The row as SQLite holds it (before/after JSON text, alert 0/1), so public_insight reads both.
            rows.append(json.dumps({**{k: i[k] for k in INSIGHT_FIELDS if k not in ("seq", "published_at")},
                                    "change_id": i["change_id"], "alert": int(i["alert"]),
                                    "before": json.dumps(i["before"]), "after": json.dumps(i["after"]),
                                    "published_at": published_at, "published": published}))
            fields.append(f"{i['url']}\n{i['decision']}" if i["alert"] else "")
            values.append(json.dumps({"alerted_at": published, "value": i.get("alert_value")}) if i["alert"] else "")
        acks = [f"{self._claimed.pop(c)[0]}-0" for c in done if c in self._claimed]
        added = self._publish(keys=[self.insights, f"{self.insights}:seq", self.changes, self.counters,
                                    f"{self.ns}:alerts", *(self._key("insight", i["insight_id"]) for i in insights)],
                              args=[DECIDERS, len(insights), *rows, *fields, *values, *acks])
        self.published.notify()
        return added

    def last_alert(self, url: str, decision: str) -> dict[str, Any] | None:
        """When ``url`` was last alerted for ``decision`` (epoch s) and the value it was alerted at."""
        raw = self.redis.hget(f"{self.ns}:alerts", f"{url}\n{decision}")
        return json.loads(raw) if raw else None

    def wake_on_changes(self, wake: threading.Event, stop: threading.Event, block_s: float = 1.0) -> None:
        """Set ``wake`` whenever a change is appended (a blocking ``XREAD``, which claims nothing),
        until ``stop``: a decider in another process than the capture then starts at once instead
        of at its next poll. Runs in its own thread. While the server does not answer it tries again
        every ``block_s`` seconds (the decider polls meanwhile, and reports the failure itself)."""
        last = "$"
        while not stop.is_set():
            try:
                got = self.redis.xread({self.changes: last}, block=int(block_s * 1000))
            except redis.ConnectionError as exc:
                log.warning("change stream unreadable, wake-ups paused: %s", exc)
                stop.wait(block_s)
                continue
            if got:
                last = got[0][1][-1][0]
                wake.set()

    # ---- the feed ------------------------------------------------------------------------------
    def insights_after(self, seq: int, *, decision: str | None = None, label: str | None = None,
                       product_id: str | None = None, alerts_only: bool = False,
                       limit: int = 500) -> list[dict[str, Any]]:
        """Insights with ``seq`` greater than ``seq`` (oldest first), filtered, at most ``limit``."""
        wanted = {k: v for k, v in (("decision", decision), ("label", label), ("product_id", product_id))
                  if v is not None}
        out: list[dict[str, Any]] = []
        start = f"({seq}-0"
        while len(out) < limit:
            entries = self.redis.xrange(self.insights, min=start, count=max(limit, 100))
            for entry_id, fields in entries:
                row = {**json.loads(fields["insight"]), "seq": _seq(entry_id)}
                if all(row[k] == v for k, v in wanted.items()) and (row["alert"] or not alerts_only):
                    out.append(public_insight(row))
                    if len(out) == limit:
                        break
            if len(entries) < max(limit, 100):
                break
            start = f"({entries[-1][0]}"
        return out

    def head(self) -> int:
        """The newest insight's ``seq`` (0 when none)."""
        return int(self.redis.get(f"{self.insights}:seq") or 0)

    def counts(self) -> dict[str, Any]:
        """Totals as :meth:`LiveStore.counts` gives them; ``pending`` counts changes not yet read by
        any decider, claimed but unsettled, and waiting for a retry."""
        counters = self.redis.hgetall(self.counters)
        group = next(g for g in self.redis.xinfo_groups(self.changes) if g["name"] == DECIDERS)
        states = {"pending": int(group["pending"]) + int(group["lag"] or 0) + self.redis.zcard(self.retry),
                  "done": int(counters.get("done", 0)), "failed": int(counters.get("failed", 0))}
        return {
            "products": self.redis.scard(f"{self.ns}:products"),
            "visits": int(counters.get("visits", 0)),
            "changes": {state: n for state, n in states.items() if n},
            "insights": self.head(),
            "quarantined": {reason: int(n) for reason, n in self.redis.hgetall(f"{self.ns}:quarantined").items()},
        }

    # ---- trimming ------------------------------------------------------------------------------
    def _settled_below(self, stream: str, group: dict[str, Any]) -> int:
        """The lowest ``seq`` ``group`` has not settled: its oldest unacknowledged entry, else the
        one after the last it read."""
        summary = self.redis.xpending(stream, group["name"])
        if summary["pending"]:
            return _seq(summary["min"])
        return _seq(group["last-delivered-id"]) + 1

    def trim(self, keep: int = FEED_KEEP) -> dict[str, int]:
        """Remove the stream entries every group has settled, keeping the newest ``keep`` of each
        stream (module docstring); returns entries removed per stream key."""
        removed = {}
        for stream in (self.changes, self.insights):
            newest = self.redis.xrevrange(stream, count=1)
            groups = self.redis.xinfo_groups(stream)
            if not newest or not groups:
                removed[stream] = 0
                continue
            bound = min(min(self._settled_below(stream, g) for g in groups), _seq(newest[0][0]) - keep + 1)
            removed[stream] = self.redis.xtrim(stream, minid=f"{bound}-0", approximate=False) if bound > 1 else 0
        quarantine = f"{self.ns}:quarantine"
        removed[quarantine] = self.redis.xtrim(quarantine, maxlen=keep, approximate=False)
        return removed

    # ---- the warehouse ---------------------------------------------------------------------------
    def flush_to_warehouse(self, warehouse: Warehouse, run_id: str) -> tuple[int, int]:
        """Copy insights and captured signals not yet in the warehouse (group ``warehouse`` of both
        streams, so several watchers share the copying); returns (insights, signal rows) added.

        Entries are acknowledged only after the warehouse took them, so a busy warehouse (another
        process holds the DuckDB file) or a crash leaves them for the next flush; the warehouse
        skips what it already holds.
        """
        added = history_added = 0
        while True:
            insights = self._take(self.insights, WAREHOUSE, FLUSH_BATCH)
            changes = self._take(self.changes, WAREHOUSE, FLUSH_BATCH)
            observed = self._take(self.observations, WAREHOUSE, FLUSH_BATCH)
            if not insights and not changes and not observed:
                return added, history_added
            rows = [json.loads(fields["insight"]) for _, fields in insights]
            added += warehouse.append_insights([{**r, "alert": bool(r["alert"])} for r in rows])
            records = [*(json.loads(fields["change"])["signal"] for _, fields in changes),
                       *(json.loads(fields["signal"]) for _, fields in observed)]
            signals = [flatten(signal, run_id, INTAKE_OF_RULE_SET[rule_set_of(signal)], "live") for signal in records]
            if signals:
                history_added += warehouse.append_rows_to_history(run_id, signals)[0]
            pipe = self.redis.pipeline(transaction=False)
            if insights:
                pipe.xack(self.insights, WAREHOUSE, *(entry_id for entry_id, _ in insights))
            if changes:
                pipe.xack(self.changes, WAREHOUSE, *(entry_id for entry_id, _ in changes))
            if observed:  # the warehouse is their only reader: copied, they are done with
                pipe.xack(self.observations, WAREHOUSE, *(entry_id for entry_id, _ in observed))
                pipe.xdel(self.observations, *(entry_id for entry_id, _ in observed))
            pipe.execute()
            if max(len(insights), len(changes), len(observed)) < FLUSH_BATCH:
                return added, history_added
