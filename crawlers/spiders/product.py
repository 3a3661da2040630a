"""ProductSpider: fetches the product pages it is given and extracts each one generically.

No per-shop code: every page goes through :func:`crawlers.extraction.page.extract_record`.
Each start URL ends as exactly one output: a :class:`~commons.record.SignalRecord` or a
quarantine row (non-200 status, download failure, a page showing neither title nor price, a
listing page, a page declaring no charset that no single legacy charset reads: ``encoding_error: …``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from commons.record import SignalRecord
from crawlers.extraction.charset_guess import CharsetUndecided
from crawlers.extraction.page import VERSION, ListingPage, extract_record
from crawlers.items import Quarantined
from crawlers.spiders.base import SignalSpider


class ProductSpider(SignalSpider):
    """Extract one signal record per product page.

    Args:
        start_urls: product page URLs, a list or one comma-separated string (``-a`` form).
        crawl_id: id written into every record's provenance and every quarantine row.
    """

    name = "product"  # `scrapy crawl product -a start_urls=URL,URL -a crawl_id=ID`
    source = "generic"
    version = f"{source}@{VERSION}"

    def __init__(self, start_urls: list[str] | str, crawl_id: str, *args: Any,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(start_urls, str):
            start_urls = [u.strip() for u in start_urls.split(",") if u.strip()]
        self.start_urls = list(start_urls)
        self.crawl_id = crawl_id

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse, errback=self.on_error,
                                 dont_filter=True, meta={"link": url})

    def parse(self, response: Response, **kwargs: Any) -> Iterator[SignalRecord | Quarantined]:
        """One page → one record, or one quarantine row."""
        link, status = response.meta["link"], response.status
        if status != 200:
            yield self._quarantine(link, f"http_{status}", status)
            return
        if not isinstance(response, TextResponse):
            yield self._quarantine(link, "parse_error: not a text page", status)
            return
        try:
            record = extract_record(response.body, response.url, crawl_id=self.crawl_id,
                                    http_status=status, spider_version=self.version,
                                    content_type=response.headers.get(b"Content-Type", b"").decode("latin-1"))
        except ListingPage as listing:
            yield self._quarantine(link, f"parse_error: listing page ({listing.prices} prices)",
                                   status)
            return
        except CharsetUndecided as undecided:
            yield self._quarantine(link, str(undecided), status)
            return
        if record.title is None and record.price is None:
            yield self._quarantine(link, "parse_error: no product", status)
            return
        yield record

    def on_error(self, failure: Failure) -> Iterator[Quarantined]:
        """Download failure (DNS, timeout, robots.txt refusal…) → one quarantine row."""
        yield self._quarantine(failure.request.meta["link"],
                               f"download_error: {type(failure.value).__name__}", None)

