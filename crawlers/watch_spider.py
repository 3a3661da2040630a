"""WatchSpider: revisits product pages for ever, as a revisit policy chooses, with conditional GETs.

The batch crawl walks a shop once; the live loop watches it. The spider reads the shop's
``sitemap.txt`` (one product URL a line), registers every URL with its ``policy`` (a fragment
dropped: ``p/1#reviews`` is the page ``p/1``, and a line naming a listed page again is quarantined
as ``sitemap_line_duplicate``), then asks the policy for the next URL at ``rate`` requests per
second and fetches it with ``If-None-Match`` set to the page's last ETag. Each outcome goes to one
of the owner's callbacks, in the reactor thread:

- ``on_page(url, record, etag, received_at)``: a 200 parsed and normalised exactly as the batch
  crawl does it (:func:`crawlers.parsing.parse_book_detail`, :func:`crawlers.pipelines.normalise`);
  ``record`` is ``SignalRecord.to_dict()``;
- ``on_unchanged(url, received_at)``: a 304 (the page is as last seen);
- ``on_failure(url, reason, http_status)``: anything else but a refused redirect, with the batch crawl's
  quarantine reasons (``http_<status>``, ``parse_error: …``, ``timeout``, …);
- ``on_refused(url, reason)``: a redirect refused (below), the first visit refused for that reason;
- ``on_still_refused(url, reason)``: a redirect refused for the reason the URL's previous visit was
  refused for: the redirect persists, and what its first refusal recorded stands for it;
- ``on_refusal_ended(url)``: a visit of a URL whose refusal was in force ended otherwise (called before
  that visit's own callback).

A revisit's redirect is followed unless its target is on a host none of the sitemap's URLs is on
(another shop's page is no record of this one) or is another watched page: a listed one (``p/1``
redirected to a listed ``p/1/``) or one another listed URL was redirected to first. That visit ends
as ``on_refused(url, "offsite: redirected to <host>")`` or ``on_refused(url, "duplicate: redirected to
<target>")``, the batch crawl's reasons (:func:`crawlers.middlewares.offsite_redirect`,
:func:`crawlers.middlewares.duplicate_redirect`), before the target is contacted. A watched page is
thus fetched under one URL only: under two, its product id was at two URLs, quarantined as ambiguous
at every visit of either. A refusal is reported through ``on_refused`` once while it persists: the
URL's next visits refused for the same reason go to ``on_still_refused`` (a quarantine row at every
revisit grew the quarantine for ever), and any other outcome of a visit ends it (``on_refusal_ended``),
so a redirect that goes away and comes back is reported again. The owner keeps the refusals in force
and hands them to its next spider (``refused``): a restarted watcher continues a refusal rather than
reporting it once more.

``received_at`` is epoch seconds when the response reached the spider: where harvest → insight
latency starts. The spider never closes on idle; its owner stops the crawler. It lives outside
``crawlers/spiders/`` because it runs only inside the watcher, which hands it its policy and
callbacks: ``scrapy crawl`` could not start it, so ``scrapy list`` does not offer it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol
from urllib.parse import urldefrag

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from twisted.internet import task
from twisted.python.failure import Failure

from commons.record import utcnow
from crawlers.intake.contract import url_problem
from crawlers.items import BookPage
from crawlers.middlewares import RedirectRefused, duplicate_redirect, offsite_redirect, site_host
from crawlers.parsing import ParseError, parse_book_detail
from crawlers.pipelines import normalise
from crawlers.spiders.base import SignalSpider
from crawlers.spiders.books import VERSION, failure_reason, readable


class RevisitPolicy(Protocol):
    """What the spider needs of a revisit policy (:mod:`live.revisit` has the real ones)."""

    def add(self, product_id: str, host: str) -> None: ...

    def next(self, now: float) -> str | None: ...


class WatchSpider(SignalSpider):
    """Watch the product pages a sitemap lists.

    Args:
        sitemap_url: ``…/sitemap.txt`` of the shop (absolute product URLs, one a line).
        crawl_id: id stamped on every record's provenance.
        policy: chooses the next URL (keys are URLs); see :class:`RevisitPolicy`.
        rate: requests per second spent on revisits (> 0).
        etag_of: the last ETag seen for a URL, or None (sent as ``If-None-Match``).
        refused: listed URL → the reason its redirect was refused for, of the refusals in force when the
            owner's previous spider stopped (module docstring).
        on_urls, on_page, on_unchanged, on_failure, on_refused, on_still_refused, on_refusal_ended: the
            owner's callbacks (module docstring).

    Raises:
        ValueError: ``rate`` is not positive.
    """

    name = "watch"
    source = "books_toscrape"  # the records are the batch crawl's, so their digests match it
    version = f"{source}@{VERSION}"

    def __init__(self, sitemap_url: str, crawl_id: str, policy: RevisitPolicy, rate: float,
                 etag_of: Callable[[str], str | None], refused: dict[str, str],
                 on_urls: Callable[[list[str]], None],
                 on_page: Callable[[str, dict[str, Any], str | None, float], None],
                 on_unchanged: Callable[[str, float], None],
                 on_failure: Callable[[str, str, int | None], None],
                 on_refused: Callable[[str, str], None], on_still_refused: Callable[[str, str], None],
                 on_refusal_ended: Callable[[str], None], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not rate > 0:
            raise ValueError(f"rate must be > 0 requests/s, got {rate}")
        self.sitemap_url, self.crawl_id, self.policy, self.rate = sitemap_url, crawl_id, policy, rate
        self.etag_of, self.on_urls, self.on_page = etag_of, on_urls, on_page
        self.on_unchanged, self.on_failure, self.on_refused = on_unchanged, on_failure, on_refused
        self.on_still_refused, self.on_refusal_ended = on_still_refused, on_refusal_ended
        self._loop: task.LoopingCall | None = None
        #: Watched page → the listed URL it is watched under (itself, or the first URL redirected to it).
        self._claims: dict[str, str] = {}
        #: The hosts the sitemap's URLs are on (site_host): a redirect elsewhere is refused.
        self._hosts: set[str | None] = set()
        #: Listed URL → the reason its last visit's redirect was refused for, while that persists.
        self._refused: dict[str, str] = dict(refused)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> "WatchSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._keep_open, signal=signals.spider_idle)
        crawler.signals.connect(spider._stop_loop, signal=signals.spider_closed)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield scrapy.Request(self.sitemap_url, callback=self.parse_sitemap, errback=self._sitemap_failed,
                             dont_filter=True)

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        """Register the listed URLs and start the revisit clock."""
        if response.status != 200:
            raise scrapy.exceptions.CloseSpider(f"sitemap answered {response.status}")
        kind = response.headers.get(b"Content-Type", b"text/plain").decode("latin-1").split(";")[0].strip().lower()
        if kind and kind != "text/plain":
            # A JSON health answer or an HTML page would be read as one "URL" a line and revisited for ever.
            raise scrapy.exceptions.CloseSpider(f"sitemap is {kind}, not a text sitemap (text/plain, one URL a line)")
        urls: dict[str, None] = {}  # ordered, and a quick test of a line naming a page already listed
        refused = 0
        for line in filter(None, (line.strip() for line in response.text.splitlines())):
            # A relative line is resolved against the sitemap, as a browser would; anything that is
            # not then an http(s) URL is quarantined, not requested (it would stop the revisit clock).
            try:
                url = response.urljoin(line)
            except ValueError:  # e.g. an unclosed "[" in the host
                url = line
            if url_problem(url) is not None:
                self.on_failure(line[:2000], "sitemap_line_not_http", None)
                refused += 1
            elif urldefrag(url).url in urls:
                # "p/1#reviews" beside "p/1" is one page: watched twice, it was one product id at two
                # URLs, quarantined as ambiguous at every visit.
                self.on_failure(line[:2000], "sitemap_line_duplicate", None)
            else:
                urls[urldefrag(url).url] = None
        # An empty sitemap is a watcher for pushed rows only; one whose every line was refused is a mistake.
        if refused and not urls:
            raise scrapy.exceptions.CloseSpider("sitemap lists no http(s) URL")
        self.on_urls(list(urls))
        self._claims.update((url, url) for url in urls)
        self._hosts.update(site_host(url) for url in urls)
        for url in urls:
            self.policy.add(url, response.urljoin(url).split("/")[2])
        self._loop = task.LoopingCall(self._revisit)
        self._loop.start(1.0 / self.rate, now=True)
        return iter(())

    def redirect_refusal(self, request: scrapy.Request) -> str | None:
        """Why a revisit's redirect to ``request`` must not be followed (the target is on a host the
        sitemap lists nothing on: ``offsite: redirected to <host>``; it is watched under another URL:
        ``duplicate: redirected to <url>``), or None to follow it;
        :class:`crawlers.middlewares.RedirectGuard` asks before each redirect's download."""
        if "link" not in request.meta:
            return None  # the sitemap's own redirect: no page is watched under it
        # Offsite first, as in the batch crawl: the reason names what is wrong, and no page is claimed for it.
        return offsite_redirect(request, self._hosts) or duplicate_redirect(request, self._claims)

    def _sitemap_failed(self, failure: Failure) -> None:
        raise scrapy.exceptions.CloseSpider(f"sitemap failed: {failure_reason(failure)}")

    def _revisit(self) -> None:
        url = self.policy.next(time.time())
        if url is None:
            return
        etag = self.etag_of(url)
        headers = {"If-None-Match": etag} if etag else {}
        self.crawler.engine.crawl(scrapy.Request(url, callback=self.parse_page, errback=self._failed,
                                                 headers=headers, dont_filter=True,
                                                 meta={"link": url, "handle_httpstatus_list": [304]}))

    def parse_page(self, response: Response) -> Iterator[Any]:
        """A revisit's response → exactly one of the three callbacks."""
        received_at = time.time()
        link = response.meta["link"]
        self._end_refusal(link)
        if response.status == 304:
            self.on_unchanged(link, received_at)
            return iter(())
        response, defect = readable(response)
        if defect is not None:
            self.on_failure(link, defect, response.status)
            return iter(())
        try:
            fields = parse_book_detail(response, response.url)
            record = normalise(BookPage(url=link, http_status=response.status,
                                        response_digest=hashlib.sha256(response.body).hexdigest(),
                                        crawled_at=utcnow(), fields=fields),
                               source=self.source, crawl_id=self.crawl_id, spider_version=self.version)
        except (ParseError, ValueError) as exc:
            self.on_failure(link, f"parse_error: {exc}", response.status)
            return iter(())
        etag = response.headers.get(b"ETag")
        self.on_page(link, record.to_dict(), etag.decode("latin-1") if etag else None, received_at)
        return iter(())

    def _failed(self, failure: Failure) -> None:
        link, reason = failure.request.meta["link"], failure_reason(failure)
        if not failure.check(RedirectRefused):
            self._end_refusal(link)
            self.on_failure(link, reason, None)
        elif self._refused.get(link) == reason:
            self.on_still_refused(link, reason)
        else:
            self._refused[link] = reason
            self.on_refused(link, reason)

    def _end_refusal(self, link: str) -> None:
        if self._refused.pop(link, None) is not None:
            self.on_refusal_ended(link)

    def _keep_open(self, spider: Any) -> None:
        if self._loop is not None:
            raise DontCloseSpider

    def _stop_loop(self, spider: Any) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
