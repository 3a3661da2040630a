"""BooksSpider: walks a books.toscrape listing, its pagination and every product page.

Every product link the spider requests ends as exactly one output: a parsed :class:`BookPage`
(normalised downstream into a record) or a quarantine row (non-200 status, download failure,
page that does not parse); both carry the requested link as ``url``, so the output files can be
checked against :attr:`BooksSpider.product_links`. Listing pages that fail are quarantined too.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawlers.items import BookPage, Quarantined
from crawlers.parsing import ParseError, parse_book_detail, parse_listing
from crawlers.pipelines import STATS_PREFIX
from crawlers.quarantine import quarantine_row
from crawlers.record import utcnow

# Bump when parsing or normalisation changes what a page turns into.
VERSION = "1.0.0"


class BooksSpider(scrapy.Spider):
    """Crawl a books.toscrape shop from ``start_url``.

    Args:
        start_url: first listing page, e.g. ``http://127.0.0.1:8000/index.html``.
        crawl_id: id written into every record's provenance and every quarantine row.
        max_requests: optional cap on the requests this spider issues (robots.txt excluded);
            links beyond the cap are never requested, so the one-outcome-per-link invariant
            still holds on a capped slice.

    Stats written: ``edge_insights/pages`` (responses received, robots.txt excluded).
    """

    name = "books_toscrape"
    version = f"{name}@{VERSION}"

    def __init__(self, start_url: str, crawl_id: str, max_requests: int | str | None = None,
                 *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.start_url = start_url
        self.crawl_id = crawl_id
        self.max_requests = int(max_requests) if max_requests not in (None, "") else None
        self.product_links: set[str] = set()
        self._requested: set[str] = set()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        request = self._request(self.start_url, self.parse_listing_page, product=False)
        if request is not None:
            yield request

    def parse_listing_page(self, response: Response) -> Iterator[Any]:
        """Listing page → product requests, the next listing request, or one quarantine row."""
        self._count_response(response)
        link = response.meta["link"]
        if response.status != 200:
            yield self._quarantine(link, f"http_{response.status}", response.status)
            return
        try:
            listing = parse_listing(response, response.url)
        except Exception as exc:  # a broken page must not stop the crawl
            self.logger.exception("listing parse failed: %s", response.url)
            yield self._quarantine(link, f"parse_error: {type(exc).__name__}", 200)
            return
        if not listing.product_urls:
            yield self._quarantine(link, "parse_error: no product links", 200)
        for url in listing.product_urls:
            request = self._request(url, self.parse_book, product=True)
            if request is not None:
                yield request
        if listing.next_url:
            request = self._request(listing.next_url, self.parse_listing_page, product=False)
            if request is not None:
                yield request

    def parse_book(self, response: Response) -> Iterator[Any]:
        """Product page → exactly one :class:`BookPage` or one quarantine row."""
        self._count_response(response)
        link, status = response.meta["link"], response.status
        if status != 200:
            yield self._quarantine(link, f"http_{status}", status)
            return
        if not isinstance(response, TextResponse):
            yield self._quarantine(link, "parse_error: not a text page", status)
            return
        try:
            fields = parse_book_detail(response, response.url)
        except ParseError as exc:
            yield self._quarantine(link, f"parse_error: {exc}", status)
            return
        except Exception as exc:  # a broken page must not stop the crawl
            self.logger.exception("detail parse failed: %s", response.url)
            yield self._quarantine(link, f"parse_error: {type(exc).__name__}", status)
            return
        yield BookPage(url=link, http_status=status,
                       response_digest=hashlib.sha256(response.body).hexdigest(),
                       crawled_at=utcnow(), fields=fields)

    def on_error(self, failure: Failure) -> Iterator[Quarantined]:
        """Download failure (DNS, timeout, robots.txt refusal…) → one quarantine row."""
        request = failure.request
        if failure.check(IgnoreRequest) and "robots" in str(failure.value).lower():
            reason = "robots_disallowed"
        else:
            reason = f"download_error: {type(failure.value).__name__}"
        yield self._quarantine(request.meta["link"], reason, None)

    def _request(self, url: str, callback: Callable[..., Any], *, product: bool
                 ) -> scrapy.Request | None:
        """A request for ``url`` unless already requested or over the request cap."""
        if url in self._requested:
            return None
        if self.max_requests is not None and len(self._requested) >= self.max_requests:
            return None
        self._requested.add(url)
        if product:
            self.product_links.add(url)
        # The spider deduplicates itself (above); the scheduler's filter would drop a
        # redirected duplicate silently and leave a link without an outcome.
        return scrapy.Request(url, callback=callback, errback=self.on_error, dont_filter=True,
                              meta={"link": url})

    def _count_response(self, response: Response) -> None:
        self.crawler.stats.inc_value(STATS_PREFIX + "pages")

    def _quarantine(self, url: str, reason: str, http_status: int | None) -> Quarantined:
        return Quarantined(quarantine_row(source=self.name, reason=reason,
                                          crawl_id=self.crawl_id, url=url,
                                          http_status=http_status))
