"""Fallbacks that read a product page's DOM when its structured data is missing or partial.

No rule names a shop: they use what product pages share across sites — ``itemprop`` attributes
outside an ``itemscope``, a class or id naming a price or the stock state, the title ``<h1>``,
the add-to-cart control, labelled identifiers ("SKU: …"), an identifier-shaped URL segment,
and how the page styles its prices (:mod:`.emphasis`: a large font marks the price to pay, a
strike-through the price it replaces).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from parsel import Selector

from crawlers.extraction import availability as avail
from crawlers.extraction.emphasis import is_struck, large_elements
from crawlers.extraction.hints import PageHints
from crawlers.extraction.price import ParsedPrice, parse_price

# Class/id words that mark a price element, in the shop languages we meet.
_PRICE_ATTR = re.compile(r"price|preis|prix|prezzo|precio|preco|preço|cena|цена|cost|amount|"
                         r"betrag|kaina|hinta|pret|fiyat|價|价", re.I)
# ... and words that mark a price that is not the one to pay now.
_NOT_PRICE_ATTR = re.compile(r"old|was|strike|regular|full-?price|list-?price|list_price|before|"
                             r"compare|orig|crossed|save|saving|discount|unit|per-|shipping|"
                             r"delivery|range|slider|filter|"
                             r"label|alert|tax|vat|instal|month|rrp|uvp|msrp|saved|econom", re.I)
# Sections that show other products (carousels, recommendations) or page chrome, and elements
# hidden until a script shows them: their prices and stock labels are not the product's.
# A token negated by "no-" ("no-slider") says the opposite.
_ELSEWHERE_ATTR = re.compile(r"(?<!no[-_])(?:related|recommend|similar|carousel|swiper|slider|"
                             r"last-?viewed|recently|upsell|cross-?sell|also-?bought|teaser|"
                             r"navbar|menu|modal|"
                             r"popup|tooltip|cookie|newsletter|"
                             # the page's own header and footer, not a component's
                             # ("accordion-header", "detail-header" hold the product's price)
                             r"(?:^|\s)(?:(?:site|page|global|main|top)[-_]?)?(?:header|footer))",
                             re.I)
_HIDDEN_ATTR = re.compile(r"(?:^|[\s_-])(?:hidden|hide|d-none|invisible|sr-only)(?:$|[\s_-])", re.I)
_STOCK_ATTR = re.compile(r"avail|stock|inventory|lager|dispon|sklad|nalich|наличи|vorrat", re.I)
_CART = re.compile(r"cart|basket|bag|warenkorb|panier|carrello|carrito|carrinho|koszyk|корзин|"
                   r"košík|kosár|sepet|ostukorv|coş|coș|購物車|购物车|カート|장바구니|buy|kaufen|"
                   r"acheter|comprar|купить", re.I)
# Labels shops print before an identifier ("SKU:", "Art.-Nr.", "Код:", "Šifra:" — sl/hr "code").
_ID_LABEL_WORDS = (r"(?:\bsku|item\s*(?:number|no\.?|#)|product\s*(?:code|id|number)|"
                   r"art(?:ikel)?\.?\s*-?\s*(?:nr|nummer)\.?|réf(?:érence)?|ref(?:erence)?\.?|"
                   r"código|codice|kod\s*produktu|код\s*товара|\bкод\b|артикул|"
                   r"katalógové číslo|kód|šifra|asin)")
_ID_LABEL = re.compile(_ID_LABEL_WORDS + r"\s*[:#]?\s*([A-Za-z0-9][\w./-]{2,40})", re.I)
# A text node that ends with such a label: its value is in the next text node.
_LABEL_AT_END = re.compile(_ID_LABEL_WORDS + r"\s*[:#]\s*$", re.I)
# A URL path segment or query value that looks like an id: letters and at least 5 digits, or an
# ASIN-style 10-character code; words, slugs and file names do not qualify.
_URL_ID = re.compile(r"^(?=(?:\D*\d){5})[A-Za-z0-9_-]{5,30}$|^[A-Z0-9]{10}$")
MAX_PRICE_TEXT = 60
# Elements (document order) between a shown price and the title or buy control within which it
# belongs to the buy box: a product's buy box sits next to its title, other products' prices
# further away. A judgment call checked on the benchmark pages, not a standard.
NEAR_ANCHOR = 30
# The same for a price set in a large font: its size already marks it as the buy box's, so it
# may sit further from the title (table layouts put rating, list-price and discount rows
# in between). Twice NEAR_ANCHOR; the benchmark pages score the same from 40 to 200.
NEAR_PROMINENT = 2 * NEAR_ANCHOR
# Where a document title's product name ends and the shop's name begins.
_TITLE_SEPARATOR = re.compile(r"\s+[-|–—:]+\s+|\s*[｜|]\s*")
# A currency sign or code glued to a number, on either side ("$99", "294 元", "44 890 тг.").
_CURRENCY_AMOUNT = re.compile(
    r"(?:[$€£¥₩₽₹元円]|\b[A-Z]{3}\b)\s?\d[\d\s.,]*\d?|\d[\d\s.,]*\s?(?:[$€£¥₩₽₹元円]|"
    r"тг\.?|руб\.?|zł|kr|Kč|Ft|lei|\b[A-Z]{3}\b)")


def title(sel: Selector) -> str | None:
    """The product title: first ``<h1>``, else ``og:title``, else ``<title>``."""
    for value in (" ".join(sel.css("h1 ::text").getall()),
                  sel.xpath("//meta[@property='og:title']/@content").get(),
                  sel.xpath("//title/text()").get()):
        text = " ".join((value or "").split())
        if text:
            return text
    return None


def itemprop(sel: Selector, *names: str) -> str | None:
    """``content`` or text of the first element with one of these ``itemprop`` names."""
    for name in names:
        for node in sel.xpath(f"//*[@itemprop='{name}']"):
            value = node.attrib.get("content") or " ".join(node.css("::text").getall())
            value = " ".join(value.split())
            if value:
                return value
    return None


class PriceCandidate(NamedTuple):
    """A price shown on the page.

    Attributes:
        price: the parsed price.
        distance: elements between it and the nearest anchor (title ``<h1>``, add-to-cart).
        votes: how many price elements on the page show the same amount.
        prominent: shown in a large font (:func:`crawlers.extraction.emphasis.large_elements`)
            within :data:`NEAR_PROMINENT` elements of an anchor.
    """

    price: ParsedPrice
    distance: int
    votes: int
    prominent: bool = False


def price_candidates(sel: Selector, hints: PageHints, currency_hint: str | None
                     ) -> list[PriceCandidate]:
    """Prices the page shows for its product, best first.

    Sources: visible elements whose class or id names a price (not an old, unit or shipping
    price, not struck through, and not in a section about other products); else, on pages
    without price classes, short texts with a currency right beside a number (``最低價$99元``);
    and, on every page, numbers set in a large font with a currency beside them
    (:func:`_prominent_prices`). Ranking: a shown currency first, then a large-font price near
    the title or buy control (the figure a shopper's eye lands on), then the amount most price
    elements agree on (a page repeats its price in the buy box, sticky bar and offers table; old
    and per-unit prices appear once), then nearness to the title or the add-to-cart control.
    """
    elements = sel.xpath("//body//*[not(self::script or self::style or self::noscript)]")
    anchors = _anchors(sel, elements)
    found = _classed_prices(elements, anchors, hints, currency_hint)
    if not found:
        found = _currency_texts(elements, anchors, hints)
    prominent = _prominent_prices(sel, elements, anchors, hints)
    counts = Counter(parsed.amount for parsed, _ in found)
    ranked = sorted([(p, d, False) for p, d in found] + [(p, d, True) for p, d in prominent],
                    key=lambda c: (c[0].currency_raw is None, not c[2], -counts[c[0].amount],
                                   c[1]))
    return [PriceCandidate(parsed, distance, counts[parsed.amount], is_prominent)
            for parsed, distance, is_prominent in ranked]


def _anchors(sel: Selector, elements: list[Selector]) -> list[int]:
    """Positions of the product title and of the first add-to-cart control.

    The title is the first ``<h1>``; on a page without one, the first childless element whose
    text is the name part of the document title (``<title>`` or ``og:title`` up to its
    " - " / " | " separator, where pages append the shop's name).
    """
    anchors = [i for i, el in enumerate(elements) if el.root.tag == "h1"][:1]
    if not anchors:
        names = {_TITLE_SEPARATOR.split(" ".join(value.split()))[0]
                 for value in (sel.xpath("//title/text()").get() or "",
                               sel.xpath("//meta[@property='og:title']/@content").get() or "")}
        names.discard("")
        anchors = [i for i, el in enumerate(elements)
                   if len(el.root) == 0 and " ".join((el.root.text or "").split()) in names][:1]
    return anchors + [i for i, el in enumerate(elements) if _is_cart(el)][:1]


def _distance(i: int, anchors: list[int]) -> int:
    return min((abs(i - a) for a in anchors), default=i)


def _classed_prices(elements: list[Selector], anchors: list[int], hints: PageHints,
                    currency_hint: str | None) -> list[tuple[ParsedPrice, int]]:
    """Prices in visible elements whose class or id names a price (see :data:`_PRICE_ATTR`)."""
    found: list[tuple[ParsedPrice, int]] = []
    for i, el in enumerate(elements):
        attrs = _attrs(el)
        if not _PRICE_ATTR.search(attrs) or _NOT_PRICE_ATTR.search(attrs):
            continue
        text = _short_text(el)
        if text is None or any(_NOT_PRICE_ATTR.search(_attrs(a)) for a in el.xpath("..")) \
                or is_struck(el) or _off_product(el):
            continue
        parsed = parse_price(text, currency_hint, hints.separator_for(text), hints.country)
        if parsed.amount is not None and parsed.currency_raw is None:
            # "<strong>€ <span class=price>17,10</span></strong>": the sign sits in the parent.
            outer = _short_text(el.xpath("..")[0]) if el.xpath("..") else None
            reparsed = parse_price(outer, None, hints.separator_for(outer or ""), hints.country)
            if outer and reparsed.amount == parsed.amount and reparsed.currency_raw:
                parsed = reparsed
        if parsed.amount is not None and parsed.amount > 0:
            found.append((parsed, _distance(i, anchors)))
    return found


def _prominent_prices(sel: Selector, elements: list[Selector], anchors: list[int],
                      hints: PageHints) -> list[tuple[ParsedPrice, int]]:
    """Numbers in a large font near an anchor, read with the currency written beside them.

    A large element whose own short text is a number (``<span style="font:bold 27px">294</span>
    元``) is read together with the text right before and after it, and kept when that reading
    gives a currency and the same amount. Only elements within :data:`NEAR_PROMINENT` of the
    title or buy control count: a sidebar of other offers uses large prices too.
    """
    large = large_elements(sel)
    found = []
    for i, el in enumerate(elements):
        if el.root not in large or _distance(i, anchors) > NEAR_PROMINENT:
            continue
        text = _short_text(el)
        if text is None or is_struck(el) or _off_product(el):
            continue
        own = parse_price(text, None, hints.separator_for(text), hints.country)
        if own.amount is None or own.amount <= 0:
            continue
        if own.currency_raw is None:
            own = _with_adjacent_currency(el, text, own, hints)
        if own is not None and own.currency_raw:
            found.append((own, _distance(i, anchors)))
    return found


def _with_adjacent_currency(el: Selector, text: str, own: ParsedPrice, hints: PageHints
                            ) -> ParsedPrice | None:
    """``own`` re-read with the text nodes just before and after ``el``
    (``最低價$`` … ``元起``); None when no currency sits beside the same amount."""
    before = el.xpath("preceding::text()[normalize-space()][1]").get() or ""
    after = el.xpath("following::text()[normalize-space()][1]").get() or ""
    context = " ".join(f"{before[-MAX_PRICE_TEXT:]} {text} {after[:MAX_PRICE_TEXT]}".split())
    for match in _CURRENCY_AMOUNT.finditer(context):
        parsed = parse_price(match.group(0), None, hints.separator_for(match.group(0)),
                             hints.country)
        if parsed.amount == own.amount and parsed.currency_raw:
            return parsed
    return None


def _short_text(el: Selector) -> str | None:
    text = " ".join(" ".join(el.css("::text").getall()).split())
    if not text or len(text) > MAX_PRICE_TEXT or not any(ch.isdigit() for ch in text):
        return None
    return text


def _currency_texts(elements: list[Selector], anchors: list[int], hints: PageHints
                    ) -> list[tuple[ParsedPrice, int]]:
    """Amounts written right beside a currency in short visible texts."""
    found = []
    for i, el in enumerate(elements):
        text = _short_text(el)
        if text is None or el.xpath("*[string-length(normalize-space()) > 0]/*") \
                or is_struck(el) or _off_product(el):
            continue
        for match in _CURRENCY_AMOUNT.finditer(text):
            parsed = parse_price(match.group(0), None, hints.separator_for(match.group(0)),
                                 hints.country)
            if parsed.amount is not None and parsed.amount > 0 and parsed.currency_raw:
                found.append((parsed, _distance(i, anchors)))
                break
    return found


def _is_cart(el: Selector) -> bool:
    if el.root.tag not in ("button", "input", "a"):
        return False
    label = " ".join([_attrs(el), el.attrib.get("value", ""), el.attrib.get("name", ""),
                      *el.css("::text").getall()])
    return bool(_CART.search(label))


def _attrs(el: Selector) -> str:
    return f"{el.attrib.get('class', '')} {el.attrib.get('id', '')}"


def _off_product(el: Selector) -> bool:
    """True for an element that is hidden or sits in a section about other things."""
    for node in [el, *el.xpath("ancestor::*")]:
        attrs = _attrs(node)
        if (_HIDDEN_ATTR.search(attrs) or "hidden" in node.attrib
                or node.attrib.get("aria-hidden") == "true"
                or "display:none" in node.attrib.get("style", "").replace(" ", "")):
            return True
        if node is not el and _ELSEWHERE_ATTR.search(attrs):
            return True
    return False


def availability(sel: Selector) -> str:
    """Stock state from stock-classed elements' text, else from an add-to-cart control.

    Each visible element whose class or id names availability or stock, outside sections about
    other products, votes with its wording (:func:`crawlers.extraction.availability.from_text`);
    ``out_of_stock`` needs more votes than ``in_stock`` (pages keep stray "unavailable" labels
    for images or wish lists). Without votes, an enabled add-to-cart control means
    ``in_stock``; otherwise ``unknown``.
    """
    votes = {"in_stock": 0, "out_of_stock": 0, "preorder": 0}
    for el in sel.xpath("//body//*[@class or @id]"):
        if not _STOCK_ATTR.search(_attrs(el)):
            continue
        text = " ".join(" ".join(el.css("::text").getall()).split())
        if not text or len(text) > 200 or _off_product(el):
            continue
        state = avail.from_text(text)
        if state != "unknown":
            votes[state] += 1
    if votes["out_of_stock"] > votes["in_stock"]:
        return "out_of_stock"
    if votes["preorder"] or votes["in_stock"]:
        return "preorder" if votes["preorder"] > votes["in_stock"] else "in_stock"
    carts = [el for el in sel.xpath("//button | //input[@type='submit'] | //a") if _is_cart(el)]
    if any("disabled" not in el.attrib for el in carts):
        return "in_stock"
    return "unknown"


def product_id(sel: Selector, url: str) -> str | None:
    """A shop identifier: ``itemprop`` id, a labelled one ("SKU: 123"), or one in the URL.

    Identifiers carry digits; a digitless ``itemprop`` value ("Fake Wounds") is skipped (see
    :func:`crawlers.extraction.structured.read_structured`).
    """
    value = itemprop(sel, "sku", "productID", "gtin13", "gtin", "mpn")
    if value and any(ch.isdigit() for ch in value):
        return value
    return _labelled_id(sel) or _url_id(url)


def _labelled_id(sel: Selector) -> str | None:
    """The first identifier written after a label (:data:`_ID_LABEL`) in a short text; a label
    that ends its text node ("<strong>Šifra:</strong> 0638") is read with the next one."""
    texts = sel.xpath("//body//text()[string-length(normalize-space()) < 80]").getall()
    for i, text in enumerate(texts):
        if _LABEL_AT_END.search(text) and i + 1 < len(texts):
            text = f"{text} {texts[i + 1]}"
        match = _ID_LABEL.search(text)
        if match and any(ch.isdigit() for ch in match.group(1)):
            return match.group(1).rstrip("./-")
    return None


def _url_id(url: str) -> str | None:
    """An identifier-shaped piece of the URL (:data:`_URL_ID`), last path segment first.

    A segment is taken whole ("B07FW264WL", "NI_AT3484-623") unless it is a slug, i.e. it has a
    piece that is a plain word ("BabyBjorn_One-987929"): then the id-shaped piece is the id.
    """
    parts = urlsplit(url)
    segments = [unquote(s) for s in parts.path.split("/") if s]
    segments = [s.rsplit(".", 1)[0] if "." in s else s for s in segments]
    segments += [v for kv in parts.query.split("&") for v in kv.split("=")[1:]]
    for segment in reversed(segments):
        pieces = re.split(r"[-_~]", segment)
        is_slug = any(len(piece) >= 3 and piece.isalpha() for piece in pieces)
        for piece in ([segment] if _URL_ID.match(segment) and not is_slug else pieces[::-1]):
            if _URL_ID.match(piece):
                return piece
    return None
