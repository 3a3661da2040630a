"""Fallbacks that read a product page's DOM when its structured data is missing or partial:
title, loose ``itemprop`` values, availability, stock count and identifiers (prices:
:mod:`.candidates`).

No rule names a shop: they use what product pages share across sites — ``itemprop`` attributes
outside an ``itemscope``, a class or id naming the stock state, the title ``<h1>``, the
add-to-cart control, labelled identifiers ("SKU: …"), an identifier-shaped URL segment.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from parsel import Selector

from crawlers.extraction import availability as avail
from crawlers.extraction import stock
from crawlers.extraction.vocabulary import CUES

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
# Class/id words of an element that states a stock count: the stock words, or a quantity
# ("qtySubTxt", "product-quantities").
_STOCK_COUNT_ATTR = re.compile(CUES["stock_attr"].pattern + r"|qty|quantit", re.I)
# Elements whose text a page does not show as such.
_UNSHOWN = "ancestor-or-self::*[self::script or self::style or self::noscript or self::template]"


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


def _is_cart(el: Selector) -> bool:
    if el.root.tag not in ("button", "input", "a"):
        return False
    label = " ".join([_attrs(el), el.attrib.get("value", ""), el.attrib.get("name", ""),
                      *el.css("::text").getall()])
    return bool(CUES["cart"].search(label))


def _attrs(el: Selector) -> str:
    return f"{el.attrib.get('class', '')} {el.attrib.get('id', '')}"


def _off_product(el: Selector) -> bool:
    """True for an element that is hidden or sits in a section about other things."""
    # Classes on <html> and <body> describe the page's state, not a section of it.
    for node in [el, *el.xpath("ancestor::*[not(self::html or self::body)]")]:
        attrs = _attrs(node)
        if (CUES["hidden_attr"].search(attrs) or "hidden" in node.attrib
                or node.attrib.get("aria-hidden") == "true"
                or "display:none" in node.attrib.get("style", "").replace(" ", "")):
            return True
        if node is not el and CUES["elsewhere_attr"].search(attrs):
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
        if not CUES["stock_attr"].search(_attrs(el)):
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


def stock_count(sel: Selector) -> int | None:
    """Units left of the product: the one count the page's stock elements state.

    As for :func:`availability`, each visible element whose class or id names stock,
    availability, inventory or a quantity, outside sections about other products, is read whole
    (its inline parts joined: Magento's ``Only <strong>3</strong> left``) by
    :func:`crawlers.extraction.stock.from_text`; a description, a review or a banner that
    mentions a number "available" is not such an element.

    Returns:
        The count (int ≥ 0), or None when no stock element states one, when only bounds are
        stated ("More than 10 available"), or when they state different counts (variants).
    """
    counts: set[int] = set()
    for el in sel.xpath("//body//*[@class or @id]"):
        if not _STOCK_COUNT_ATTR.search(_attrs(el)):
            continue
        text = " ".join(" ".join(el.css("::text").getall()).split())
        if not text or len(text) > 200:
            continue
        count = stock.from_text(text)
        if count is not None and not el.xpath(_UNSHOWN) and not _off_product(el):
            counts.add(count)
    return counts.pop() if len(counts) == 1 else None


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
