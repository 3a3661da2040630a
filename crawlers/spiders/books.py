"""BooksSpider: walks a books.toscrape listing, its pagination and every product page.

Every product link the spider requests ends as exactly one output: a parsed :class:`BookPage`
(normalised downstream into a record) or a quarantine row (non-200 status, download failure,
page that does not parse); both carry the requested link as ``url``, so the output files can be
checked against :attr:`BooksSpider.product_links`. Listing pages that fail are quarantined too.

Quarantine reasons of the harvest (``reason`` column; ``http_status`` is None where no response
was accepted):

==========================  =====================================================================
``http_<status>``           a non-200 response (after retries for 5xx, 408, 429)
``empty_page``              200 with an empty body
``encoding_error: …``       the body's bytes are not valid in the charset the page declares, or
                            it declares none and they read as no single legacy charset
``parse_error: …``          no title, no price, an unreadable rating, not a text page, a JSON
                            page, no product links on a listing; an unforeseen failure gives ``<Exception>: <message>``
``offsite: <host>``         a link (or a redirect, ``offsite: redirected to <host>``) to
                            another host than the start URL's: another shop's page; a redirect
                            is refused before that host is contacted
``bad_link: …``             a listing's link no crawler can fetch (``javascript:``, ``mailto:``,
                            a broken host or port) or one back to the listing page itself (``""``,
                            ``"#"``); ``url`` is the href as written (of a
                            ``mailto:``/``tel:``/… link only its scheme)
``robots_disallowed``       robots.txt forbids the URL
``redirect_loop``           more than ``REDIRECT_MAX_TIMES`` redirects
``duplicate: redirected…``  ``duplicate: redirected to <url>``: a redirect to a page the crawl
                            has requested already (another link's); it is not fetched again
``too_large``               body over ``DOWNLOAD_MAXSIZE`` (announced, streamed or decompressed)
``timeout``                 no complete answer within ``DOWNLOAD_TIMEOUT``, every attempt
``truncated_body``          connection closed before the announced Content-Length, every attempt
``download_error: <Name>``  any other download failure (refused connection, DNS, …)
==========================  =====================================================================
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import scrapy
from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError, IgnoreRequest, ResponseDataLossError
from scrapy.http import JsonResponse, Response, TextResponse
from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure

from commons.record import utcnow
from crawlers.extraction.charset_guess import CharsetUndecided
from crawlers.extraction.encoding import fallback_encoding
from crawlers.items import BookPage, Quarantined
from crawlers.middlewares import RedirectRefused, duplicate_redirect, offsite_redirect, site_host
from crawlers.parsing import ParseError, parse_book_detail, parse_listing
from crawlers.pipelines import STATS_PREFIX
from crawlers.spiders.base import SignalSpider

# Bump when parsing or normalisation changes what a page turns into.
VERSION = "1.3.0"


class BooksSpider(SignalSpider):
    """Crawl a books.toscrape shop from ``start_url``.

    Args:
        start_url: first listing page, e.g. ``http://127.0.0.1:8000/index.html``.
        crawl_id: id written into every record's provenance and every quarantine row.
        max_requests: optional cap on the requests this spider issues (robots.txt excluded);
            links beyond the cap are never requested, so the one-outcome-per-link invariant
            still holds on a capped slice.

    Stats written: ``edge_insights/pages`` (responses received, robots.txt excluded),
    ``edge_insights/listing_pages`` (listing pages that showed product links) and
    ``edge_insights/duplicate_links`` (product links met again: the same URL, fragment aside, on
    another tile or listing page; each page is requested once and has one outcome).
    """

    name = "books"  # `scrapy crawl books`
    source = "books_toscrape"
    version = f"{source}@{VERSION}"

    def __init__(self, start_url: str, crawl_id: str, max_requests: int | str | None = None,
                 *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.start_url = start_url
        self.crawl_id = crawl_id
        self.max_requests = int(max_requests) if max_requests not in (None, "") else None
        self.product_links: set[str] = set()
        # URL requested (or refused at sight) → the link whose outcome it is: itself, or for a redirect
        # target the link redirected to it (crawlers.middlewares.duplicate_redirect).
        self._requested: dict[str, str] = {}

    async def start(self) -> AsyncIterator[scrapy.Request]:
        request = self._request(self.start_url, self.parse_listing_page, product=False)
        if request is not None:
            yield request

    def parse_listing_page(self, response: Response) -> Iterator[Any]:
        """Listing page → product requests, the next listing request, or one quarantine row."""
        self._count_response(response)
        link = response.meta["link"]
        response, defect = readable(response)
        if defect is not None:
            yield self._quarantine(link, defect, response.status)
            return
        try:
            listing = parse_listing(response, response.url)
        except Exception as exc:  # a broken page must not stop the crawl
            self.logger.exception("listing parse failed: %s", response.url)
            yield self._quarantine(link, unexpected(exc), 200)
            return
        if not listing.product_urls and not listing.bad_links:
            yield self._quarantine(link, "parse_error: no product links", 200)
        else:
            self.crawler.stats.inc_value(STATS_PREFIX + "listing_pages")
        for href, why in listing.bad_links:
            # A link no crawler can fetch is its own outcome; the page's other links still are.
            if self._first_sight(href):
                yield self._quarantine(_recorded(href), f"bad_link: {why}", None)
        for url in listing.product_urls:
            if not self._on_site(url):
                # Another shop's page (a marketplace or affiliate tile) is no record of this source.
                if self._first_sight(url):
                    yield self._quarantine(url, f"offsite: {site_host(url)}", None)
                continue
            request = self._request(url, self.parse_book, product=True)
            if request is not None:
                yield request
        if listing.next_url and not self._on_site(listing.next_url):
            yield self._quarantine(listing.next_url, f"offsite: {site_host(listing.next_url)}", None)
        elif listing.next_url:
            request = self._request(listing.next_url, self.parse_listing_page, product=False)
            if request is not None:
                yield request

    def parse_book(self, response: Response) -> Iterator[Any]:
        """Product page → exactly one :class:`BookPage` or one quarantine row."""
        self._count_response(response)
        link, status = response.meta["link"], response.status
        response, defect = readable(response)
        if defect is not None:
            yield self._quarantine(link, defect, status)
            return
        try:
            fields = parse_book_detail(response, response.url)
        except ParseError as exc:
            yield self._quarantine(link, f"parse_error: {exc}", status)
            return
        except Exception as exc:  # a broken page must not stop the crawl
            self.logger.exception("detail parse failed: %s", response.url)
            yield self._quarantine(link, unexpected(exc), status)
            return
        yield BookPage(url=link, http_status=status,
                       response_digest=hashlib.sha256(response.body).hexdigest(),
                       crawled_at=utcnow(), fields=fields)

    def on_error(self, failure: Failure) -> Iterator[Quarantined]:
        """Download failure (robots.txt, redirect loop, size limit, timeout…) → one row."""
        yield self._quarantine(failure.request.meta["link"], failure_reason(failure), None)

    def redirect_refusal(self, request: scrapy.Request) -> str | None:
        """Why a redirect to ``request`` must not be fetched (its quarantine reason: another host, or a
        page already requested), or None to follow it, the target then noted as requested;
        :class:`crawlers.middlewares.RedirectGuard` asks before each redirect's download."""
        offsite = offsite_redirect(request, {site_host(self.start_url)})
        if offsite is not None:
            return offsite
        # A target followed is noted as requested, so a link to it met later is a duplicate, not a second fetch.
        return duplicate_redirect(request, self._requested)

    def _request(self, url: str, callback: Callable[..., Any], *, product: bool
                 ) -> scrapy.Request | None:
        """A request for ``url`` unless already requested (a product link counts as a duplicate
        link) or over the request cap."""
        if url in self._requested:
            if product:
                self.crawler.stats.inc_value(STATS_PREFIX + "duplicate_links")
            return None
        if self.max_requests is not None and len(self._requested) >= self.max_requests:
            return None
        self._requested[url] = url
        if product:
            self.product_links.add(url)
        # The spider deduplicates itself (above); the scheduler's filter would drop a
        # redirected duplicate silently and leave a link without an outcome.
        return scrapy.Request(url, callback=callback, errback=self.on_error, dont_filter=True,
                              meta={"link": url})

    def _first_sight(self, url: str) -> bool:
        """Whether a listing's link that is requested never (a bad or offsite link) is met for the
        first time: it is noted now; one met again is counted as a duplicate link."""
        if url in self._requested:
            self.crawler.stats.inc_value(STATS_PREFIX + "duplicate_links")
            return False
        self._requested[url] = url
        return True

    def _on_site(self, url: str) -> bool:
        """Whether ``url`` is on the start URL's host (any port or scheme)."""
        return site_host(url) == site_host(self.start_url)

    def _count_response(self, response: Response) -> None:
        self.crawler.stats.inc_value(STATS_PREFIX + "pages")



def _recorded(href: str) -> str:
    """A bad link as the quarantine keeps it: a ``mailto:``/``tel:`` link's address is personal
    data, so links of other schemes keep only their scheme."""
    scheme, colon, _ = href.strip().partition(":")
    if colon and scheme.isalpha() and scheme.lower() not in ("http", "https"):
        return f"{scheme.lower()}:…"
    return href


def unexpected(exc: Exception) -> str:
    """Quarantine reason for a parser that failed unforeseen: the exception's type and message
    (parsel's "Cannot use css on a Selector of type 'json'" says a page came as JSON), cut to
    200 characters."""
    return f"parse_error: {type(exc).__name__}: {exc}"[:200]


def readable(response: Response) -> tuple[Response, str | None]:
    """The response read in its charset (:func:`with_fallback_encoding`) and why it cannot be parsed as a shop
    page (:func:`response_defect`; ``encoding_error: no charset declared, …`` where no single legacy charset
    reads a page declaring none), or None when it can be tried."""
    try:
        response = with_fallback_encoding(response)
    except CharsetUndecided as undecided:
        return response, str(undecided)
    return response, response_defect(response)


def with_fallback_encoding(response: Response) -> Response:
    """The response, read in :func:`crawlers.extraction.encoding.fallback_encoding` where its
    declared charset is wrong or it declares none and is not UTF-8.

    Other responses are returned unchanged, non-200 ones too: :func:`response_defect` quarantines
    them on their status alone, so their charset is never looked at (most responses of a crawl are
    404s).

    Raises:
        CharsetUndecided: the page declares no charset, is not UTF-8, and no single legacy charset reads it.
    """
    if response.status != 200 or not isinstance(response, TextResponse):
        return response
    content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
    encoding = fallback_encoding(response.body, content_type)
    return response.replace(encoding=encoding) if encoding else response


def response_defect(response: Response) -> str | None:
    """Why a response cannot be parsed as a shop page, or None when it can be tried.

    Checks, in order: status other than 200 (``http_<status>``), empty body (``empty_page``),
    non-text body (``parse_error: not a text page``), a body served as JSON (``parse_error: a
    JSON page, not HTML``) and bytes invalid in the page's charset
    (``encoding_error: not valid <charset>``). The charset is the response's: declared by the
    page, else as :func:`with_fallback_encoding` settles it. A page whose declared charset its
    bytes break would otherwise be read with replacement characters: its "£" lost, a price
    without currency.
    """
    if response.status != 200:
        return f"http_{response.status}"
    if not response.body:
        return "empty_page"
    if not isinstance(response, TextResponse):
        return "parse_error: not a text page"
    if isinstance(response, JsonResponse):  # parsel refuses CSS on it; say why, not "ValueError"
        return "parse_error: a JSON page, not HTML"
    try:
        response.body.decode(response.encoding)
    except UnicodeDecodeError:
        return f"encoding_error: not valid {response.encoding}"
    return None


def failure_reason(failure: Failure) -> str:
    """Quarantine reason for a request that ended without a response (see the module table)."""
    if failure.check(RedirectRefused):
        return str(failure.value)
    if failure.check(IgnoreRequest):
        message = str(failure.value).lower()
        if "robots" in message:
            return "robots_disallowed"
        if "max redirections" in message:
            return "redirect_loop"
        if "download_maxsize" in message:  # a compressed body that inflates past the limit
            return "too_large"
    # The size limit is the only cause of a cancelled download in a crawl: Scrapy raises
    # DownloadCancelledError when Content-Length announces too much and cancels the transfer
    # (Twisted's CancelledError) when a body without a length streams past the limit.
    if failure.check(DownloadCancelledError, CancelledError):
        return "too_large"
    if failure.check(DownloadTimeoutError):
        return "timeout"
    if failure.check(ResponseDataLossError):
        return "truncated_body"
    return f"download_error: {type(failure.value).__name__}"
