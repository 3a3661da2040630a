"""Pure parsing functions for shop pages: text or HTML in, typed fields out.

They take a Scrapy response, a parsel ``Selector`` or raw HTML, so real saved pages can be unit
tested without a crawl. Selectors target books.toscrape.com (a django-oscar shop).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, NamedTuple
from urllib.parse import urldefrag, urljoin, urlsplit

from parsel import Selector
from w3lib.url import canonicalize_url

from commons.errors import HarvestError
from crawlers.extraction import availability, stock
from crawlers.extraction import price as extraction_price

STAR_WORDS = {"zero": 0.0, "one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0}

# A negative count is a broken page for the rules to quarantine ("stock_count_negative"), not
# units: read here with its sign, as the shared stock reader refuses it.
_SIGNED_COUNT = re.compile(r"((?<![\w-])[-−]\d+)\s*(?:available|left|in stock)")


class ParseError(HarvestError, ValueError):
    """A page lacks a field a record cannot do without; ``str(err)`` is a short reason."""


class Listing(NamedTuple):
    """Links found on a listing page.

    Attributes:
        product_urls: absolute URLs of the product detail pages, in page order.
        next_url: absolute URL of the next listing page, or None on the last page.
        bad_links: ``(href as written, why it cannot be fetched)`` for each product or next-page
            link that is no http(s) URL (``javascript:void(0)``, ``mailto:``, a broken host or
            port) or that leads back to the listing page itself (``""``, ``"#"``), in page order.
    """

    product_urls: list[str]
    next_url: str | None
    bad_links: tuple[tuple[str, str], ...] = ()


def parse_price(text: str | None, currency_hint: str | None = None
                ) -> tuple[Decimal | None, str | None]:
    """Read an amount and its ISO-4217 currency from a price string.

    Delegates to :func:`crawlers.extraction.price.parse_price`, the project's one price parser.

    Args:
        text: e.g. ``"£51.77"``, ``"1.234,56 €"``, ``"GBP 12.00"``.
        currency_hint: symbol or code to assume when the text names none.

    Returns:
        ``(amount, currency)``: amount in currency units (not cents) or None when the text holds
        no number; currency as an ISO code, or None when absent, unknown or ambiguous (``"kr"``).
    """
    parsed = extraction_price.parse_price(text, currency_hint=currency_hint)
    return parsed.amount, parsed.currency


def parse_availability(text: str | None) -> tuple[str, int | None]:
    """Map an availability phrase to the record's enum and a stock count.

    Args:
        text: e.g. ``"In stock (19 available)"``, ``"In stock"``, ``"Out of stock"``,
            ``"Pre-order"``; whitespace and case do not matter.

    Returns:
        ``(availability, stock_count)``: availability is one of ``in_stock``, ``out_of_stock``,
        ``preorder``, ``unknown``; stock_count is the number of units when the text states one,
        else None (an out-of-stock phrase states no number, so it is None, not 0). The wording
        and the count are read as the generic extractor reads them
        (:func:`crawlers.extraction.availability.from_text`,
        :func:`crawlers.extraction.stock.from_text`): "not available" is out of stock, "1,000
        available" is 1000, a bound ("More than 10") is no count, and 0 available is out of
        stock. A negative count is kept with its sign for the rules to quarantine.
    """
    phrase = " ".join((text or "").lower().split())
    state = availability.from_text(phrase)
    if state == "unknown" and "unavailable" in phrase:
        # The page's own availability row, not a stray label beside an image.
        return "out_of_stock", None
    if state != "in_stock":
        return state, None
    signed = _SIGNED_COUNT.search(phrase)
    if signed:
        return state, int(signed.group(1).replace("−", "-"))
    count = stock.from_text(phrase)
    # None left is out of stock, whatever the wording says ("In stock (0 available)").
    return ("out_of_stock" if count == 0 else state), count


def parse_star_rating(class_attr: str | None) -> float | None:
    """Stars from an oscar rating class: ``"star-rating Three"`` → ``3.0``.

    None when the page shows no rating element or a bare ``"star-rating"`` (django-oscar's
    ``as_stars`` filter renders an unrated product so).

    Raises:
        ParseError: the class holds a word that is no star count (``"star-rating Six"``) or two
            counts (``"star-rating Five One"``): the rating is unreadable, not absent.
    """
    tokens = (class_attr or "").split()
    others = [token for token in tokens if token != "star-rating"]
    stars = [STAR_WORDS[token.lower()] for token in others if token.lower() in STAR_WORDS]
    if len(stars) == 1 and len(others) == 1:
        return stars[0]
    if not others:
        return None
    raise ParseError(f"unreadable rating ({' '.join(tokens)[:80]})")


def parse_book_detail(page: Any, url: str) -> dict[str, Any]:
    """Fields of one books.toscrape detail page.

    Args:
        page: Scrapy response, parsel ``Selector``, or the page's HTML (str or UTF-8 bytes).
        url: the page's URL; becomes the product id when the page shows no UPC.

    Returns:
        ``{"title": str, "price": Decimal, "currency": str | None, "availability": str,
        "stock_count": int | None, "rating": float | None, "product_id": str,
        "num_reviews": int | None}``. Price is the "Price (incl. tax)" row, falling back to the
        headline price; the description is not read.

    Raises:
        ParseError: no title (``"no title"``), no readable price (``"no price"``, with why where a
            magnitude letter may be the currency: :func:`crawlers.extraction.price.no_amount_reason`) or a rating
            class naming no single star count (``"unreadable rating (…)"``).
    """
    sel = _selector(page)
    main = sel.css(".product_main")
    title = _clean(main.css("h1::text").get())
    if not title:
        raise ParseError("no title")
    shown = _table_value(sel, "Price (incl. tax)") or _clean(main.css("p.price_color::text").get())
    amount, currency = parse_price(shown)
    if amount is None:
        raise ParseError(extraction_price.no_amount_reason(shown))
    availability, stock = parse_availability(
        _table_value(sel, "Availability")
        or _clean(" ".join(main.css("p.availability ::text").getall())))
    reviews = _table_value(sel, "Number of reviews")
    return {
        "title": title,
        "price": amount,
        "currency": currency,
        "availability": availability,
        "stock_count": stock,
        "rating": parse_star_rating(main.css("p.star-rating::attr(class)").get()),
        "product_id": _table_value(sel, "UPC") or canonicalize_url(url),
        "num_reviews": int(reviews) if reviews and reviews.isdigit() else None,
    }


def parse_listing(page: Any, url: str) -> Listing:
    """Product links and the next-page link of a listing page.

    Args:
        page: Scrapy response, parsel ``Selector``, or the page's HTML.
        url: the page's URL, against which relative links are resolved.

    Returns:
        :class:`Listing` with absolute URLs without their fragment (``p/1#reviews`` is the page
        ``p/1``); an empty list when the page shows no products.
    """
    sel = _selector(page)
    products, bad = [], []
    for href in sel.css("article.product_pod h3 a::attr(href)").getall():
        absolute, why = _fetchable(url, href)
        products += [absolute] if absolute else []
        bad += [(href, why)] if why else []
    next_href = sel.css("ul.pager li.next a::attr(href)").get()
    next_url, why = _fetchable(url, next_href) if next_href else (None, None)
    return Listing(products, next_url, tuple(bad + ([(next_href, why)] if why else [])))


def _fetchable(base: str, href: str) -> tuple[str | None, str | None]:
    """``(absolute URL without fragment, None)`` for a link a crawler can fetch, ``(None, why)`` otherwise."""
    try:
        absolute = urljoin(base, href.strip())
        parts = urlsplit(absolute)
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError as exc:
        return None, str(exc)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, f"not an http(s) URL ({parts.scheme or 'no scheme'})"
    page = urldefrag(absolute).url  # a fragment is a place in a page: the server never sees it
    if page == urldefrag(base).url:
        # An empty or "#" href: a tile that names no page of its own (the crawl has this one already).
        return None, "links to the listing page itself"
    return page, None


def _selector(page: Any) -> Selector:
    if isinstance(page, Selector):
        return page
    if isinstance(page, bytes):
        return Selector(text=page.decode("utf-8", errors="replace"))
    if isinstance(page, str):
        return Selector(text=page)
    return page.selector


def _table_value(sel: Selector, header: str) -> str | None:
    """Text of the product-information cell whose row header is ``header``."""
    cell = sel.xpath("//table//tr[normalize-space(th)=$h]/td//text()", h=header).getall()
    return _clean(" ".join(cell))


def _clean(text: str | None) -> str | None:
    text = " ".join((text or "").split())
    return text or None
