"""Retry with exponential backoff, a spider's say over redirects, and the crawl-stat extension of the harvest.

Scrapy 2.19's ``RetryMiddleware`` re-schedules a failed request at once: it has no backoff
setting (its settings are ``RETRY_ENABLED``, ``RETRY_TIMES``, ``RETRY_HTTP_CODES``,
``RETRY_EXCEPTIONS``, ``RETRY_PRIORITY_ADJUST``, ``RETRY_GIVE_UP_LOG_LEVEL``). A server that
answers 503 because it is overloaded gets hit again within milliseconds, which is both impolite and
unlikely to succeed. :class:`BackoffRetryMiddleware` keeps Scrapy's retry logic and stats and
waits before handing each retry back to the scheduler.

Both are enabled in :mod:`crawlers.settings`; their settings:

========================  =======  ===============================================================
setting                   default  meaning
========================  =======  ===============================================================
``RETRY_BACKOFF_BASE``    1.0      seconds before the first retry; doubles with every further one
``RETRY_BACKOFF_MAX``     30.0     cap in seconds on one wait, Retry-After included
========================  =======  ===============================================================
"""

from __future__ import annotations

import random
from collections.abc import Collection
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urldefrag, urlsplit

from scrapy import Request, signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.asyncio import sleep

from crawlers.pipelines import STATS_PREFIX


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's ``RetryMiddleware`` that sleeps before each retry (replaces it at order 550).

    The wait before retry ``n`` (1-based) is ``min(RETRY_BACKOFF_MAX, RETRY_BACKOFF_BASE ×
    2**(n-1))`` seconds scaled by a random factor in [0.5, 1] ("equal jitter", so that requests
    failing together do not retry in lockstep; M. Brooker, "Exponential Backoff And Jitter", AWS
    Architecture Blog, 2015). A ``Retry-After`` header on the failed response (RFC 9110 §10.2.3,
    seconds or HTTP-date) is honoured when it asks for longer, still capped at
    ``RETRY_BACKOFF_MAX``. What is retried is Scrapy's choice (``RETRY_HTTP_CODES``: 5xx, 408, 429;
    ``RETRY_EXCEPTIONS``: timeouts, refused or lost connections, data loss).

    The wait holds the request's place among the downloader's active requests, so a server that
    fails many requests at once also slows the crawl's intake of new ones.

    Stats: Scrapy's ``retry/count``, ``retry/max_reached``, ``retry/reason_count/…`` and
    ``edge_insights/retry_backoff_s`` (total seconds waited).
    """

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX", 30.0)

    async def process_response(self, request: Request, response: Response
                               ) -> Request | Response:
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await self._wait(result, retry_after_s(response))
        return result

    async def process_exception(self, request: Request, exception: Exception
                                ) -> Request | Response | None:
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await self._wait(result, None)
        return result

    def backoff_s(self, retry_number: int, server_wait_s: float | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (1 = first retry), jitter included.

        ``server_wait_s`` is the server's Retry-After in seconds, if it sent one.
        """
        delay = self.backoff_base * 2 ** (retry_number - 1) * random.uniform(0.5, 1.0)
        if server_wait_s is not None:
            delay = max(delay, server_wait_s)
        return min(self.backoff_max, delay)

    async def _wait(self, retry: Request, server_wait_s: float | None) -> None:
        delay = self.backoff_s(retry.meta["retry_times"], server_wait_s)
        self.crawler.stats.inc_value(STATS_PREFIX + "retry_backoff_s", delay)
        await sleep(delay)


def retry_after_s(response: Response) -> float | None:
    """The ``Retry-After`` header in seconds (from now), or None when absent or unreadable."""
    raw = response.headers.get(b"Retry-After")
    if not raw:
        return None
    text = raw.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 HTTP-dates are GMT
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class RedirectRefused(IgnoreRequest):
    """A redirect the spider would not follow; ``str(err)`` is its quarantine reason."""


class RedirectGuard:
    """Downloader middleware that lets the spider refuse a redirect before its target is contacted.

    Scrapy's redirect middlewares (HTTP 3xx and meta refresh) send the target back through the
    scheduler as a new request carrying ``redirect_urls``; this middleware sees it first (order 50,
    before robots.txt, which would fetch a new host's robots.txt) and asks the spider's
    ``redirect_refusal(request) -> str | None``. A reason fails the request with
    :class:`RedirectRefused`, which reaches the request's errback. Scrapy's own OffsiteMiddleware
    cannot serve here: it lets through every request with ``dont_filter``, and the harvest spider
    sets it on all of its requests. A spider without ``redirect_refusal`` follows every redirect.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> "RedirectGuard":
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        """Raises :class:`RedirectRefused` for a redirect target the spider refuses."""
        refusal = getattr(self.crawler.spider, "redirect_refusal", None)
        if refusal is not None and request.meta.get("redirect_urls"):
            reason = refusal(request)
            if reason is not None:
                raise RedirectRefused(reason)


def site_host(url: str) -> str | None:
    """The host that tells ``url``'s site: its host name, lower-cased; another scheme or port is the same site."""
    return urlsplit(url).hostname


def offsite_redirect(request: Request, hosts: Collection[str | None]) -> str | None:
    """``offsite: redirected to <host>`` when ``request``, a redirect's target, is on none of ``hosts``
    (each a :func:`site_host`), else None: another host's page is no record of this shop, and it is
    refused before that host is contacted."""
    host = site_host(request.url)
    return None if host in hosts else f"offsite: redirected to {host}"


def duplicate_redirect(request: Request, claims: dict[str, str]) -> str | None:
    """``duplicate: redirected to <url>`` when ``request``, a redirect's target, is a page another link
    claims, else None: the page is then claimed by the request's link (``meta["link"]``).

    ``claims`` maps a page (URL without fragment) to the link whose outcome it is: a page requested
    directly claims itself, a redirect target the first link redirected to it. One page then ends
    as one outcome under one link, however many links lead to it. The claiming link's own request
    passes again (a retry of a redirected request is checked anew on its way to the downloader), as
    does a target already in its chain: Scrapy's ``REDIRECT_MAX_TIMES`` ends a loop
    (``redirect_loop``).
    """
    link, target = request.meta["link"], urldefrag(request.url).url
    if target in {link, *request.meta["redirect_urls"]}:
        return None
    if claims.setdefault(target, link) != link:
        return f"duplicate: redirected to {target}"
    return None


class ThrottleStats:
    """Extension recording the AutoThrottle delay in force as each response arrives.

    AutoThrottle adjusts a per-slot (per-host) delay but keeps no record of it; this writes
    ``edge_insights/throttle_delay_max_s`` and, at close, ``edge_insights/throttle_delay_mean_s``
    (mean over responses downloaded from the network; cached responses carry no latency and
    do not count).
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self._total = 0.0
        self._count = 0
        crawler.signals.connect(self._response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> "ThrottleStats":
        return cls(crawler)

    def _response_downloaded(self, response: Response, request: Request, spider: Any) -> None:
        slot = self.crawler.engine.downloader.slots.get(request.meta.get("download_slot"))
        if slot is None:
            return
        self._total += slot.delay
        self._count += 1
        self.crawler.stats.max_value(STATS_PREFIX + "throttle_delay_max_s", slot.delay)

    def _spider_closed(self, spider: Any, reason: str) -> None:
        if self._count:
            self.crawler.stats.set_value(STATS_PREFIX + "throttle_delay_mean_s",
                                         self._total / self._count)
