"""Any product page (HTML + URL) → one signal record, without per-shop rules.

Order of evidence, per field: schema.org / OpenGraph markup (:mod:`.structured`), then the DOM
fallbacks (:mod:`.dom`). Prices are read by :func:`crawlers.extraction.price.parse_price` with the
page's locale hints (:mod:`.hints`): currency from the markup, the price text, or the country.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from parsel import Selector
from w3lib.encoding import html_to_unicode
from w3lib.url import canonicalize_url

from crawlers.extraction import availability as avail
from crawlers.extraction import dom
from crawlers.extraction.currencies import COUNTRY_CURRENCY
from crawlers.extraction.hints import PageHints, page_hints
from crawlers.extraction.price import ParsedPrice, parse_price
from crawlers.extraction.structured import read_structured
from commons.record import Provenance, SignalRecord, utcnow

SOURCE = "generic"
# Bump when extraction changes what a page turns into.
VERSION = "1.1.0"
SPIDER_VERSION = f"{SOURCE}@{VERSION}"
# Elements (document order) between a shown price and the title or buy control within which the
# shown price may overrule the markup's (see :data:`crawlers.extraction.dom.NEAR_ANCHOR`).
NEAR_TITLE = dom.NEAR_ANCHOR


def extract_product(html: str | bytes, url: str, **provenance: Any) -> dict[str, Any]:
    """:func:`extract_record` as a plain dict (:meth:`SignalRecord.to_dict`: price as a string)."""
    return extract_record(html, url, **provenance).to_dict()


def extract_record(html: str | bytes, url: str, *, crawl_id: str = "adhoc",
                   http_status: int | None = None, crawled_at: datetime | None = None,
                   spider_version: str = SPIDER_VERSION) -> SignalRecord:
    """Extract the product a page shows as a signal record.

    Args:
        html: page HTML; bytes are decoded by their BOM / ``<meta charset>``, else as UTF-8.
        url: the page's URL: base for relative links, country hint (ccTLD), last-resort id.
        crawl_id: provenance crawl id.
        http_status: provenance HTTP status (None for a saved file).
        crawled_at: observation time (UTC); defaults to now.
        spider_version: provenance ``name@version`` of the caller.

    Returns:
        A :class:`~commons.record.SignalRecord` with ``source="generic"``;
        ``price``/``currency``/``title`` None when the page shows none, ``availability``
        ``unknown`` when nothing says, ``product_id`` the SKU/GTIN/MPN or else the canonical URL.
        Never raises on malformed markup.
    """
    body = html if isinstance(html, bytes) else html.encode("utf-8")
    text = html if isinstance(html, str) else html_to_unicode(None, html)[1]
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
    price = _choose_price(marked, dom.price_candidates(sel, hints, found.currency_text))
    currency = price.currency if price else None
    if price and price.amount is not None and currency is None:
        currency = COUNTRY_CURRENCY.get(hints.country or "")

    availability = avail.from_schema(found.availability)
    if availability == "unknown":
        availability = dom.availability(sel)

    return SignalRecord(
        source=SOURCE, url=url,
        product_id=found.product_id or dom.product_id(sel, url) or canonicalize_url(url),
        title=found.title or shown_title,
        price=price.amount if price else None, currency=currency,
        availability=availability, stock_count=None, rating=found.rating, review_text=None,
        crawled_at=crawled_at or utcnow(),
        provenance=Provenance(crawl_id=crawl_id, spider_version=spider_version,
                              http_status=http_status,
                              response_digest=hashlib.sha256(body).hexdigest()))


def declared_url(html: str | bytes) -> str | None:
    """The URL a saved page declares for itself: ``<link rel=canonical>``, else ``og:url``."""
    text = html if isinstance(html, str) else html_to_unicode(None, html)[1]
    sel = Selector(text=text)
    for value in (sel.xpath("//link[contains(concat(' ', normalize-space(@rel), ' '),"
                            " ' canonical ')]/@href").get(),
                  sel.xpath("//meta[@property='og:url']/@content").get()):
        if value and value.strip().startswith(("http://", "https://")):
            return value.strip()
    return None


def _choose_price(marked: list[ParsedPrice], shown: list[dom.PriceCandidate]
                  ) -> ParsedPrice | None:
    """Pick the price to record.

    The markup's price the page shows most prominently; else the best shown price when it names
    a currency within :data:`NEAR_TITLE` elements of the title or buy control and no markup price
    appears among the page's price elements (markup often keeps the regular price while the page
    shows a sale price); else the markup's first price; else the best shown price.
    """
    by_amount = {price.amount: price for price in reversed(marked)}
    for candidate in shown:
        if candidate.price.amount in by_amount:
            return by_amount[candidate.price.amount]
    if shown and (not marked or (shown[0].price.currency_raw is not None
                                 and shown[0].distance <= NEAR_TITLE)):
        best = shown[0].price
        if marked and best.currency is None:
            return best._replace(currency=marked[0].currency, currency_raw=marked[0].currency_raw)
        return best
    return marked[0] if marked else None


def _structured_price(price_text: str | None, currency_text: str | None, hints: PageHints
                      ) -> ParsedPrice | None:
    """A markup price: a machine number ("1199.00", schema.org's rule for ``price``) is taken as
    is; anything else ("1.199,00 €") is parsed like shown text."""
    if not price_text:
        return None
    try:
        amount = Decimal(price_text)
    except InvalidOperation:
        return parse_price(price_text, currency_text, hints.separator_for(price_text),
                           hints.country)
    currency = parse_price(currency_text or "", None, None, hints.country) if currency_text \
        else None
    return ParsedPrice(amount if amount.is_finite() and amount > 0 else None,
                       currency.currency if currency else None,
                       currency.currency_raw if currency else None)
