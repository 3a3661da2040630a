"""What the live loop needs of its broker, and which broker a process opens.

Two brokers carry the change and insight streams:

- :class:`live.store.LiveStore`, the embedded default: one SQLite file under the state folder, no
  server, one watcher process with its decider thread (a second process may read the feed);
- :class:`live.redis_broker.RedisBroker`, for scale-out: Redis Streams with consumer groups, so
  several ``watch --no-decider`` and ``decide`` processes share the work and a dead decider's
  changes are taken over.

Both keep the same shapes: :class:`live.store.Change` on the change stream, insight dicts of
:data:`live.store.INSIGHT_FIELDS` on the feed, whose ``seq`` is an integer that only grows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import redis

from commons.errors import EdgeInsightsError
from live.redis_broker import VISIBILITY_S, RedisBroker
from live.store import Change, LiveStore
from live.wakeup import PublishSignal


class BrokerError(EdgeInsightsError):
    """The broker named by ``EDGE_INSIGHTS_BROKER`` cannot be reached."""


class Broker(Protocol):
    """The calls the capture, the decider and the feed make (each documented on :class:`LiveStore`)."""

    # The capture (watcher): a page's known state, moved forward together with its changes.
    def product(self, url: str) -> dict[str, Any] | None: ...

    def add_products(self, urls: list[str]) -> int: ...

    def etags(self) -> dict[str, str | None]: ...

    def record_visit(self, url: str, visited_at: float, etag: str | None = None) -> None: ...

    def capture(self, url: str, *, product_id: str, etag: str | None, record: dict[str, Any],
                prices: list[float], stocks: list[float], changes: list[dict[str, Any]], visited_at: float) -> None: ...

    def quarantine(self, stage: str, url: str | None, reason: str, row: dict[str, Any] | None) -> None: ...

    # The watcher: a refused redirect's record and the refusals in force, kept across restarts.
    def refusals(self) -> dict[str, str]: ...

    def refuse(self, url: str, reason: str) -> None: ...

    def end_refusal(self, url: str) -> None: ...

    # The decider: claim due changes, settle each one (publish, retry later, or fail).
    def pending(self, now: float, limit: int = 64) -> list[Change]: ...

    def retry_later(self, change: Change, reason: str, next_try: float, *, counted: bool = True) -> None: ...

    def fail(self, change: Change, reason: str) -> None: ...

    def publish(self, insights: list[dict[str, Any]], done: list[str]) -> int: ...

    def last_alert(self, url: str, decision: str) -> dict[str, Any] | None: ...

    # The feed and the summaries; ``published`` wakes the feed's streams after a publish in this process.
    published: PublishSignal

    def insights_after(self, seq: int, *, decision: str | None = None, label: str | None = None,
                       product_id: str | None = None, alerts_only: bool = False,
                       limit: int = 500) -> list[dict[str, Any]]: ...

    def head(self) -> int: ...

    def counts(self) -> dict[str, Any]: ...


def redacted(url: str) -> str:
    """``url`` with its password replaced by ``***``, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


def open_broker(url: str | None, sqlite_path: Path, *, consumer: str | None = None,
                visibility_s: float | None = None) -> Broker:
    """The broker ``url`` names (``Settings.broker``): None → the SQLite store at ``sqlite_path``.

    Args:
        url: a Redis URL (``redis://``, ``rediss://``, ``unix://``), or None for the embedded store.
        sqlite_path: the embedded store's file (used only when ``url`` is None).
        consumer: this process's consumer name in the Redis groups (default: host and pid).
        visibility_s: seconds a claimed change may stay unsettled before another decider takes it
            over (Redis only; default :data:`live.redis_broker.VISIBILITY_S`).

    Raises:
        BrokerError: the Redis server does not answer.
    """
    if url is None:
        return LiveStore(sqlite_path)
    try:
        return RedisBroker(url, consumer=consumer,
                           visibility_s=VISIBILITY_S if visibility_s is None else visibility_s)
    except redis.ConnectionError as exc:
        raise BrokerError(f"no Redis broker answers at {redacted(url)}: {exc}") from None
