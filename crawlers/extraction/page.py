"""Any product page (HTML + URL) → one signal record, without per-shop rules.

:func:`read_page` gathers the evidence: structured data (:mod:`.structured`), every price the
page marks up or shows with its features (:mod:`.candidates`), the DOM fallbacks for the other
fields (:mod:`.dom`). :func:`record_from` turns evidence into a record; the price is the
candidate the ranker (:mod:`.ranker`, weights shipped as data) scores highest. The two steps
are apart so the benchmark can score held-out weights on the same evidence.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from parsel import Selector
from w3lib.url import canonicalize_url

from crawlers.extraction import availability as avail
from crawlers.extraction import dom
from crawlers.extraction import ranker as price_ranker
from crawlers.extraction.candidates import FEATURES, Candidate, page_candidates
from crawlers.extraction.currencies import COUNTRY_CURRENCY
from crawlers.extraction.encoding import decode_page
from crawlers.extraction.hints import PageHints, page_hints
from crawlers.extraction.price import MAX_NUMBER_CHARS, ParsedPrice, parse_price
from crawlers.extraction.structured import StructuredProduct, read_structured
from crawlers.settings import DOWNLOAD_MAXSIZE
from commons.record import Provenance, SignalRecord, utcnow

SOURCE = "generic"
# Bump when extraction changes what a page turns into.
VERSION = "1.6.0"
SPIDER_VERSION = f"{SOURCE}@{VERSION}"
# A product page can show its only prices as a few look-alike rows (net/VAT/gross, sizes, packs,
# ticket types, quantity tiers: 3 to 5 in a bad-input pass); a listing page shows a page of
# products (10 to 20 different amounts on the books sandbox's).
LISTING_MIN_PRICES = 6
_DOM = FEATURES.index("bias_dom")
# A machine number as schema.org writes ``price``: digits and a dot, no sign, exponent or grouping.
_MACHINE_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass
class PageEvidence:
    """What a page says, before the price is chosen.

    Attributes:
        url: the page URL.
        digest: SHA-256 of the page bytes (hex).
        hints: locale hints.
        found: the structured data's product.
        shown_title: the visible title.
        candidates: price candidates, markup ones first (:func:`page_candidates`).
        availability: the record's availability enum.
        stock_count: units left as the page states them, or None.
        product_id: SKU/GTIN/MPN, or the canonical URL.
    """

    url: str
    digest: str
    hints: PageHints
    found: StructuredProduct
    shown_title: str | None
    candidates: list[Candidate]
    availability: str
    stock_count: int | None
    product_id: str

    @property
    def listed_prices(self) -> int:
        """The number of different amounts a listing or category page shows (many products and
        none of them the page's own), 0 for a product page. A listing is a page whose every
        price sits in a grid of product tiles (:attr:`Candidate.in_grid`) and whose markup gives
        none; or whose markup lists products (:attr:`StructuredProduct.listed`) as an
        ``ItemList``, or as products none named as the page's title with every shown price in a
        grid. Either way with at least :data:`LISTING_MIN_PRICES` different amounts.

        On the 97 benchmark shop pages the chosen price is never in such a grid and every page
        has a price outside one; on the books sandbox's 49 listing pages every price is.
        """
        shown = [c for c in self.candidates if c.features[_DOM]]
        if self.found.listed >= LISTING_MIN_PRICES and (
                self.found.in_item_list or all(c.in_grid for c in shown)):
            return self.found.listed
        if not self.candidates or not all(c.in_grid for c in self.candidates):
            return 0
        amounts = len({c.price.amount for c in self.candidates})
        return amounts if amounts >= LISTING_MIN_PRICES else 0


class ListingPage(ValueError):
    """A page that lists many products (:attr:`PageEvidence.listed_prices`) where one product's
    page was expected.

    Attributes:
        prices: how many different amounts its grid of items shows.
    """

    def __init__(self, url: str, prices: int) -> None:
        super().__init__(f"{url} is a listing page: its {prices} different prices all sit in a "
                         "grid of look-alike items, none is the page's own product")
        self.prices = prices


def extract_product(html: str | bytes, url: str, **provenance: Any) -> dict[str, Any]:
    """:func:`extract_record` as a plain dict (:meth:`SignalRecord.to_dict`: price as a string);
    raises :class:`ListingPage` as it does."""
    return extract_record(html, url, **provenance).to_dict()


def extract_record(html: str | bytes, url: str, *, crawl_id: str = "adhoc",
                   http_status: int | None = None, crawled_at: datetime | None = None,
                   spider_version: str = SPIDER_VERSION, content_type: str = "") -> SignalRecord:
    """Extract the product a page shows as a signal record.

    Args:
        html: page HTML; bytes are decoded by :func:`~crawlers.extraction.encoding.decode_page`
            (BOM, ``content_type``'s or ``<meta>`` charset; UTF-8, or windows-1252 when they
            declare none and the bytes are not UTF-8).
        url: the page's URL: base for relative links, country hint (ccTLD), last-resort id.
        crawl_id: provenance crawl id.
        http_status: provenance HTTP status (None for a saved file).
        crawled_at: observation time (UTC); defaults to now.
        spider_version: provenance ``name@version`` of the caller.
        content_type: the HTTP ``Content-Type`` header the bytes came with ("" for a saved file).

    Returns:
        A :class:`~commons.record.SignalRecord` with ``source="generic"``;
        ``price``/``currency``/``title`` None when the page shows none, ``availability``
        ``unknown`` when nothing says, ``product_id`` the SKU/GTIN/MPN or else the canonical URL.
        Never raises on malformed markup.

    Raises:
        ListingPage: the page lists many products (a category or search page), so no record
            would be one product's.
        CharsetUndecided: ``html`` is bytes declaring no charset, not UTF-8, that no single legacy
            charset reads (:func:`~crawlers.extraction.encoding.decode_page`).
    """
    evidence = read_page(html, url, content_type)
    if evidence.listed_prices:
        raise ListingPage(url, evidence.listed_prices)
    return record_from(evidence, price_ranker.load(), crawl_id=crawl_id,
                       http_status=http_status, crawled_at=crawled_at,
                       spider_version=spider_version)


def read_page(html: str | bytes, url: str, content_type: str = "") -> PageEvidence:
    """Gather a page's evidence (see :class:`PageEvidence`); never raises on bad markup. Bytes
    are read as :func:`~crawlers.extraction.encoding.decode_page` reads them with ``content_type``
    (which raises ``CharsetUndecided`` where no single charset reads undeclared bytes)."""
    body = html if isinstance(html, bytes) else html.encode("utf-8")
    text = html if isinstance(html, str) else decode_page(html, content_type)
    sel = Selector(text=text)
    hints = page_hints(sel, url)
    shown_title = dom.title(sel)
    found = read_structured(text, url, shown_title)

    marked = [p for p in (_structured_price(offer_price, found.currency_text, hints)
                          for offer_price in (found.price_text, *found.other_prices))
              if p is not None and p.amount is not None]
    if not marked:
        # itemprop attributes outside any itemscope: markup extruct does not collect.
        loose_text = dom.itemprop(sel, "price", "lowPrice")
        currency_text = dom.itemprop(sel, "priceCurrency") or found.currency_text
        loose = parse_price(loose_text, currency_text, hints.separator_for(loose_text or ""),
                            hints.country) if loose_text else None
        marked = [loose] if loose and loose.amount is not None and loose.amount > 0 else []
    availability = avail.from_schema(found.availability)
    if availability == "unknown":
        availability = dom.availability(sel)
    stock_count = dom.stock_count(sel)
    # A stated count settles what the wording left open ("3 left"), and none left is out of stock
    # whatever else the page says ("0 in stock").
    if stock_count == 0 or (stock_count and availability == "unknown"):
        availability = "in_stock" if stock_count else "out_of_stock"
    return PageEvidence(
        url=url, digest=hashlib.sha256(body).hexdigest(), hints=hints, found=found,
        shown_title=shown_title,
        candidates=page_candidates(sel, hints, found.currency_text, marked),
        availability=availability, stock_count=stock_count,
        product_id=found.product_id or dom.product_id(sel, url) or canonicalize_url(url))


def record_from(evidence: PageEvidence, ranker: price_ranker.Ranker, *, crawl_id: str = "adhoc",
                http_status: int | None = None, crawled_at: datetime | None = None,
                spider_version: str = SPIDER_VERSION) -> SignalRecord:
    """The record a page's evidence gives with this ranker (arguments as :func:`extract_record`)."""
    best = ranker.best(evidence.candidates)
    # The amount as the markup writes it when the markup has it ("89.5", not the shown "89,50"):
    # markup candidates come first. A markup price without a currency takes the shown one's.
    price = next(c.price for c in evidence.candidates
                 if c.price.amount == best.price.amount) if best else None
    if price is not None and price.currency is None:
        price = price._replace(currency=best.price.currency, currency_raw=best.price.currency_raw)
    return SignalRecord(
        source=SOURCE, url=evidence.url, product_id=evidence.product_id,
        title=evidence.found.title or evidence.shown_title,
        price=price.amount if price else None,
        currency=page_currency(price, evidence) if price else None,
        availability=evidence.availability, stock_count=evidence.stock_count, rating=evidence.found.rating,
        review_text=None, crawled_at=crawled_at or utcnow(),
        provenance=Provenance(crawl_id=crawl_id, spider_version=spider_version,
                              http_status=http_status, response_digest=evidence.digest))


def page_currency(price: ParsedPrice, evidence: PageEvidence) -> str | None:
    """The chosen price's currency from the page's own signals, most specific first.

    The currency written beside the price (resolved with the page's country); the structured
    data's; the one most of the page's shown prices name (a symbol the price element left to a
    sibling); the country's (ccTLD or locale region) last: a shop abroad or on a generic TLD
    still writes its own currency.
    """
    if price.currency:
        return price.currency
    markup = parse_price(evidence.found.currency_text or "", None, None, evidence.hints.country)
    if markup.currency:
        return markup.currency
    shown = Counter(c.price.currency for c in evidence.candidates
                    if c.price.currency and c.price.currency_raw)
    if shown:
        return shown.most_common(1)[0][0]
    return COUNTRY_CURRENCY.get(evidence.hints.country or "")


class PageUnreadable(ValueError):
    """A saved page that cannot be read: not gzip where named ``.gz``, or over the size limit."""


def read_saved_page(path: Path, limit: int = DOWNLOAD_MAXSIZE) -> bytes:
    """The HTML bytes of a saved page, ``.gz`` inflated, at most ``limit`` bytes.

    The limit is the crawl's (``DOWNLOAD_MAXSIZE``, 5 MiB; over it a fetched page is
    ``too_large``), and a ``.gz`` is inflated only that far: a 48 KB file can hold 50 MB of spaces.

    Raises:
        PageUnreadable: the page is over ``limit`` bytes (inflated), or a ``.gz`` is not valid gzip.
        OSError: the file cannot be opened or read.
    """
    if path.suffix != ".gz":
        if (size := path.stat().st_size) > limit:
            raise PageUnreadable(f"{size:,} bytes; a page may hold at most {limit:,} (the crawl's too_large)")
        return path.read_bytes()
    try:
        with gzip.open(path) as inflating:
            html = inflating.read(limit + 1)
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise PageUnreadable(f"not a valid gzip file ({err})") from None
    if len(html) > limit:
        raise PageUnreadable(f"over {limit:,} bytes inflated; a page may hold at most {limit:,} "
                             "(the crawl's too_large)")
    return html


def declared_url(html: str | bytes) -> str | None:
    """The URL a saved page declares for itself: ``<link rel=canonical>``, else ``og:url``.

    Raises:
        CharsetUndecided: as :func:`~crawlers.extraction.encoding.decode_page`, for bytes.
    """
    text = html if isinstance(html, str) else decode_page(html)
    sel = Selector(text=text)
    for value in (sel.xpath("//link[contains(concat(' ', normalize-space(@rel), ' '),"
                            " ' canonical ')]/@href").get(),
                  sel.xpath("//meta[@property='og:url']/@content").get()):
        if value and value.strip().startswith(("http://", "https://")):
            return value.strip()
    return None


def _structured_price(price_text: str | None, currency_text: str | None, hints: PageHints
                      ) -> ParsedPrice | None:
    """A markup price: a machine number ("1199.00", schema.org's rule for ``price``) of at most
    :data:`~crawlers.extraction.price.MAX_NUMBER_CHARS` characters is taken as is; anything else
    ("1.199,00 €") is parsed like shown text, so exponents ("1e308", which :class:`Decimal` takes)
    and overlong numbers give no amount there."""
    if not price_text:
        return None
    if len(price_text) > MAX_NUMBER_CHARS or not _MACHINE_NUMBER.fullmatch(price_text):
        return parse_price(price_text, currency_text, hints.separator_for(price_text),
                           hints.country)
    amount = Decimal(price_text)
    currency = parse_price(currency_text or "", None, None, hints.country) if currency_text \
        else None
    return ParsedPrice(amount if amount.is_finite() and amount > 0 else None,
                       currency.currency if currency else None,
                       currency.currency_raw if currency else None)
