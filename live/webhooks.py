"""Outgoing webhooks: every new insight POSTed to each subscriber, signed per Standard Webhooks.

The spec is Standard Webhooks 1.0.0 (https://www.standardwebhooks.com, ``spec/standard-webhooks.md``).
Each attempt is a ``POST`` whose body is the insight as the SSE feed sends it
(:data:`live.store.INSIGHT_FIELDS`, minified JSON), with the spec's headers:

- ``webhook-id``: the ``insight_id``, the same on every retry, so receivers use it as their
  idempotency key;
- ``webhook-timestamp``: the attempt's Unix time in whole seconds (receivers refuse stale ones,
  which stops replays);
- ``webhook-signature``: ``v1,`` + base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}`` under the
  shared ``whsec_`` secret (``standardwebhooks.Webhook.sign``).

Durable and at least once. What a subscriber is owed is rows of the live store (``deliveries``),
enqueued from the subscriber's cursor (:meth:`live.store.LiveStore.enqueue_deliveries`), so a
restarted watcher resumes where the last one stopped and never re-sends what a subscriber
acknowledged. A watcher killed between a subscriber's 2xx and its commit sends that insight once
more: receivers deduplicate on ``webhook-id``.

Answers (the spec's "Delivery success and failure"):

- ``2xx``: delivered;
- a failed connection, a time-out, ``429`` or ``5xx``: retried after ``backoff_s × 2^tries``
  (plus up to 25 % jitter, as the spec recommends), or after ``Retry-After`` (at most an hour)
  when that is longer, which also pauses the subscriber's other deliveries as long; ``dead`` after ``max_tries`` attempts;
- anything else (other ``4xx``; ``3xx``, since the spec asks senders not to follow redirects):
  ``dead`` at once, with the status and the receiver's reason; ``410 Gone`` also disables the
  subscriber for the rest of the run, as the spec advises (its later insights are dead-lettered
  unsent, so the CLI's ``deliveries --state dead`` shows what it missed).

Each subscriber has its own thread and HTTP client, so a slow or unreachable subscriber holds up
only itself; the decider never waits on any.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

from live.store import Delivery, LiveStore
from training.decisions import DECISIONS

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
#: The spec's shortest symmetric secret, bytes (192 bits).
MIN_SECRET_BYTES = 24
#: The filter word of ``--webhook`` that keeps only alerts.
ALERTS = "alerts"
BATCH = 32


@dataclass(frozen=True)
class Subscriber:
    """A webhook endpoint and the insights it wants.

    Attributes:
        url: where insights are POSTed (``http://`` or ``https://``); also its key in the store.
        decisions: the decisions it wants (empty: every decision).
        alerts_only: only insights that are alerts (``alert`` true).
    """

    url: str
    decisions: frozenset[str] = frozenset()
    alerts_only: bool = False


# "//user:pass@", "//user@" of a URL (or of a spec that only looks like one): credentials.
_USERINFO_RE = re.compile(r"//[^/?#\s]*@")


def parse_subscriber(spec: str) -> Subscriber:
    """A subscriber from ``--webhook``'s ``[FILTER[,FILTER…]=]URL``, a FILTER being a decision name or
    ``alerts``: ``https://hooks.example/in``, ``alerts=https://…``, ``price_spike,alerts=https://…``.

    Raises:
        ValueError: the URL is not ``http(s)://HOST…``, carries credentials (``user:pass@``: the URL is
            the subscriber's key in the live store and its logs, so they would be kept there; the
            receiver verifies the signature instead), or a filter is neither a decision nor ``alerts``.
    """
    shown = _USERINFO_RE.sub("//***@", spec)  # what an error may echo: never the credentials
    if shown != spec:
        # Refused before any other check, so that no other message can repeat them.
        raise ValueError(f"the webhook URL {shown!r} carries credentials (user:password@): they would be stored "
                         "as the subscriber's key; receivers authenticate deliveries by their signature")
    filters, url = "", spec.strip()
    # A bare URL may itself hold "=" (a query string), so only a non-URL prefix is read as filters.
    if not url.lower().startswith(("http://", "https://")):
        filters, _, url = url.partition("=")
    names = {name.strip() for name in filters.split(",") if name.strip()}
    unknown = names - set(DECISIONS) - {ALERTS}
    if unknown:
        raise ValueError(f"unknown webhook filter {', '.join(sorted(unknown))}: use a decision "
                         f"({', '.join(DECISIONS)}) or {ALERTS}")
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a webhook URL: {url!r} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"expected [FILTER,…=]http(s)://HOST/PATH, got {spec!r}")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise ValueError(f"port {parsed.port} of webhook URL {url!r} is not a TCP port (1-65535)")
    url = url.strip()
    return Subscriber(url=url, decisions=frozenset(names - {ALERTS}), alerts_only=ALERTS in names)


def signer(secret: str) -> Webhook:
    """The Standard Webhooks signer of a symmetric secret: ``whsec_`` + base64 of at least 24 random bytes.

    Raises:
        ValueError: another prefix, not base64, or too short (the message never repeats the secret).
    """
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"the webhook secret must start with {SECRET_PREFIX} (then base64)")
    encoded = secret[len(SECRET_PREFIX):]
    try:
        # Unpadded base64 is common in generated secrets; standardwebhooks accepts it too.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError(f"the webhook secret is not base64 after {SECRET_PREFIX}") from None
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"the webhook secret holds {len(key)} bytes; Standard Webhooks asks for at least "
                         f"{MIN_SECRET_BYTES}")
    return Webhook(secret)


class WebhookDelivery:
    """Delivers new insights to webhook subscribers (see the module docstring).

    Args:
        store: the live store (its ``deliveries`` and ``webhook_cursors`` tables).
        subscribers: the endpoints, each registered at construction (one first seen starts at the
            newest insight, see :meth:`live.store.LiveStore.subscribe`).
        secret: the ``whsec_`` signing secret shared with the subscribers (:func:`signer`).
        timeout_s: per-request time-out, seconds (the spec suggests 15 to 30).
        max_tries: attempts before a retryable failure is ``dead``.
        backoff_s: first retry delay, seconds (doubles per try).
        metrics: optional :class:`live.metrics.LiveMetrics` to count outcomes and delivery latency.

    Raises:
        ValueError: no subscriber, one URL twice, ``max_tries`` below 1, or a bad secret.
    """

    def __init__(self, store: LiveStore, subscribers: Sequence[Subscriber], secret: str, *,
                 timeout_s: float = 15.0, max_tries: int = 8, backoff_s: float = 0.5, metrics: Any = None) -> None:
        urls = [s.url for s in subscribers]
        if not urls:
            raise ValueError("no webhook subscriber")
        if len(set(urls)) != len(urls):
            raise ValueError("a webhook URL is given twice")
        if max_tries < 1:
            raise ValueError(f"max_tries must be at least 1, got {max_tries}")
        self._signer = signer(secret)
        self.store, self.subscribers, self.timeout_s = store, tuple(subscribers), timeout_s
        self.max_tries, self.backoff_s, self.metrics = max_tries, backoff_s, metrics
        for url in urls:
            store.subscribe(url)
        self._stop = threading.Event()
        #: Subscribers that answered 410 Gone: disabled for this run (the spec's advice).
        self.gone: set[str] = set()

    def run(self, idle_s: float = 0.05) -> None:
        """Deliver until :meth:`stop`, one thread per subscriber; new insights are picked up within
        ``idle_s`` seconds. Returns once every subscriber's thread has finished its attempt in flight."""
        threads = [threading.Thread(target=self._serve, args=(s, idle_s), name=f"webhook-{n}", daemon=True)
                   for n, s in enumerate(self.subscribers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def stop(self) -> None:
        self._stop.set()

    def drain(self, timeout_s: float) -> int:
        """Wait, while :meth:`run` delivers, until nothing is owed (retries due later included) or
        ``timeout_s`` passes; returns what is still owed (:meth:`LiveStore.delivery_backlog`)."""
        urls = [s.url for s in self.subscribers]
        deadline = time.monotonic() + timeout_s
        while (left := self.store.delivery_backlog(urls)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return left

    def _serve(self, subscriber: Subscriber, idle_s: float) -> None:
        # The spec: a redirect is a failure (the subscriber should update its URL), never followed.
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
            while not self._stop.is_set():
                self._stop.wait(self._step(subscriber, client, idle_s))

    def _step(self, subscriber: Subscriber, client: httpx.Client, idle_s: float) -> float:
        """Enqueue the subscriber's new insights, attempt its due deliveries; returns the seconds to
        wait before the next round."""
        self.store.enqueue_deliveries(subscriber.url, decisions=subscriber.decisions,
                                      alerts_only=subscriber.alerts_only)
        due = self.store.due_deliveries(subscriber.url, time.time(), limit=BATCH)
        for delivery in due:
            if self._stop.is_set():
                break
            if subscriber.url in self.gone:
                self._dead(delivery, "subscriber gone: it answered 410 Gone, so it is sent nothing more", quiet=True)
                continue
            pause_s = self._attempt(client, delivery)
            if pause_s:
                return pause_s
        return 0.0 if due else idle_s

    def _attempt(self, client: httpx.Client, delivery: Delivery) -> float:
        """POST one delivery and record its outcome; returns the seconds the subscriber asked to be
        left alone (``Retry-After``), else 0."""
        body = json.dumps(delivery.insight, separators=(",", ":"))
        msg_id = delivery.insight["insight_id"]
        sent = int(time.time())
        headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(sent),
                   "webhook-signature": self._signer.sign(msg_id, datetime.fromtimestamp(sent, timezone.utc), body)}
        try:
            response = client.post(delivery.subscriber, content=body.encode(), headers=headers)
        except httpx.TimeoutException:
            self._retry(delivery, f"timeout after {self.timeout_s:g} s", 0.0)
            return 0.0
        except httpx.HTTPError as exc:
            self._retry(delivery, f"unreachable: {type(exc).__name__}", 0.0)
            return 0.0
        status = response.status_code
        if 200 <= status < 300:
            self.store.mark_delivered(delivery, time.time())
            self._count("delivered", delivery.published)
            return 0.0
        reason = " ".join(response.text.split())[:200]
        error = f"http_{status} {response.reason_phrase}" + (f": {reason}" if reason else "")
        if status == 429 or status >= 500:
            pause_s = retry_after_s(response)
            self._retry(delivery, error, pause_s)
            return pause_s
        if status == 410:
            self.gone.add(delivery.subscriber)
            log.warning("webhook subscriber %s answered 410 Gone: disabled until the watcher restarts",
                        delivery.subscriber)
        self._dead(delivery, error)
        return 0.0

    def _retry(self, delivery: Delivery, error: str, at_least_s: float) -> None:
        tries = delivery.tries + 1
        if tries >= self.max_tries:
            self._dead(delivery, f"{error} (after {tries} tries)")
            return
        delay_s = max(self.backoff_s * 2 ** delivery.tries * random.uniform(1.0, 1.25), at_least_s)
        self.store.retry_delivery(delivery, error, time.time() + delay_s)
        self._count("retried")

    def _dead(self, delivery: Delivery, error: str, quiet: bool = False) -> None:
        self.store.dead_letter(delivery, error)
        self._count("dead")
        if not quiet:  # a disabled subscriber's deliveries were announced once, at its 410
            log.warning("webhook to %s dead-lettered for insight %s: %s", delivery.subscriber,
                        delivery.insight["insight_id"], error)

    def _count(self, outcome: str, published: float | None = None) -> None:
        if self.metrics is not None:
            self.metrics.webhook_outcome(outcome, published)


#: The longest wait a ``Retry-After`` is honoured for, seconds: a receiver asking for years
#: (``Retry-After: 99999999``) would otherwise pause its subscription with nothing ever dead-lettered.
MAX_RETRY_AFTER_S = 3600.0


def retry_after_s(response: httpx.Response) -> float:
    """The wait a response's ``Retry-After`` asks for, seconds (delay or HTTP date; 0 when absent or
    unreadable), at most :data:`MAX_RETRY_AFTER_S`."""
    value = response.headers.get("retry-after")
    if value is None:
        return 0.0
    try:
        wait = float(value)
    except ValueError:
        try:
            wait = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return 0.0
    return min(MAX_RETRY_AFTER_S, max(0.0, wait)) if wait == wait else 0.0
