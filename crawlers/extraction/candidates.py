"""Every price a product page shows or marks up, with the evidence whether it is the product's.

A *DOM candidate* is a visible element whose short text (at most :data:`MAX_PRICE_TEXT`
characters) holds a number with a currency beside it, or whose class/id/``itemprop`` — its own
or a close ancestor's — names a price. Nested elements with the same text count once (the
innermost), and an element showing several prices is left to its parts. Never candidates:

* struck-through text (``<del>``, ``<s>``, line-through): HTML defines it as content that is no
  longer accurate, the price a sale replaces;
* a price after a former-price cue (:func:`crawlers.extraction.amounts.last_cue`: "was",
  "statt", "RRP", "建議售價");
* a text with "=" (a rate or conversion: "1 point = 1 元");
* the product's title (the anchor of the distance features) and what it holds: a number there
  is a model ("Nikon D3500", "iPhone 15"), and a price beside it in the page still counts;
* an instalment ("4 x $12.25", "$29/mo", "每期 $98":
  ``instalment`` in :data:`crawlers.extraction.vocabulary.CUES`), a part of the price, not the price;
* anything inside a section about other products or page chrome (related, recommended,
  carousel, menu, the page's header/footer: ``elsewhere_attr`` in :data:`crawlers.extraction.vocabulary.CUES`).
  As a feature this lifted nothing; as a rule it lifted the leave-one-domain-out score by two
  pages (the earlier hand rules excluded such sections too). The instalment rule changes no
  benchmark page; it is here for the fault kind, a part payment shown beside the price;
* on an auction that shows a current bid (a price labelled "current bid"/"aktuelles Gebot"/
  "puja actual", or beside a count of one or more bids: ``current_bid`` and ``bid_count`` in
  :data:`crawlers.extraction.vocabulary.CUES`; not in a list of look-alikes, where the bids are
  other lots'), every other price: the opening bid, the
  estimate, the next bid steps, and a markup price that is not a current bid (auction markup
  keeps the opening bid). An auction with bids is sold at its current bid, so this is a rule
  of what the price means, like the struck price above, not a weight: the benchmark's one
  auction shop with bids could teach a weight nothing once it is held out.

A *markup candidate* is a price from the page's structured data.

Each candidate carries :data:`FEATURES`, evidence that transfers between shops because it is
about how product pages are built, not about one shop: price words in class names (many
languages, :mod:`.vocabulary`), nearness to the title ``<h1>`` and to the add-to-cart control,
sitting in a grid of look-alikes or an accessory block, "now" context, a large font, a
currency beside the number, agreement with the markup and with the page's other price
elements. :mod:`.ranker` weighs them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from decimal import Decimal
from typing import Any, Callable, NamedTuple

from parsel import Selector

from crawlers.extraction.amounts import last_cue, priced_numbers
from crawlers.extraction.currencies import currency_candidates
from crawlers.extraction.emphasis import is_struck, large_elements
from crawlers.extraction.hints import PageHints
from crawlers.extraction.price import ParsedPrice, parse_price
from crawlers.extraction.vocabulary import CUES

MAX_PRICE_TEXT = 60
# The element count beyond which two elements are "far apart" for the distance features: a
# long product page has a few thousand elements (the log scale makes 10 vs 100 matter more than
# 1000 vs 2000).
FAR = 2000
# Elements (document order) within which a price counts as next to the title or buy control.
# A buy box is a few dozen elements; the ranker learns how much nearness is worth.
NEAR = 30
# Elements within which a large price still belongs to the buy box: table layouts put rating,
# list-price and discount rows between the title and a headline price. Twice NEAR.
NEAR_PROMINENT = 2 * NEAR
# Siblings with the same tag and class that make a list of look-alikes (product tiles, offer
# rows): three, as a pair is often just "old price / new price".
LIST_SIBLINGS = 3
# How far up a list item may sit above a price (tile → body → price box → price).
LIST_REACH = 6
# How far up a product tile may sit above its price when the page is checked for being a
# listing: Shopify Dawn's tile is 9 levels above its price, Magento 2 Luma's 6 (their default
# themes' category templates). Wider than LIST_REACH, which the ranker's weights were fitted with.
GRID_REACH = 12
# How many ancestors up a price word in a class still describes the element ("<div
# class=price><span><b>12</b>…").
CLASS_REACH = 3
# Text read before a price for "was"/"now" and instalment cues.
CONTEXT_CHARS = 40

FEATURES = (
    "bias_dom",         # a DOM candidate (1) or a markup one (0)
    "currency",         # a currency written beside the number
    "price_class",      # its own class/id/itemprop names a price
    "price_class_near",  # an ancestor within CLASS_REACH does
    "itemprop_price",   # itemprop="price"/"lowPrice" on it or its parent
    "not_price_class",  # it or an ancestor within CLASS_REACH is an old/unit/shipping price
    "current_class",    # ... or a sale/current/final price
    "accessory",        # inside an add-on/accessory/bundle/warranty section
    "hidden",           # hidden by class/attribute/style
    "large",            # set in a large font (it or its parent)
    "large_near",       # ... and within NEAR_PROMINENT elements of the title or buy control
    "in_list",          # inside one of LIST_SIBLINGS or more look-alike siblings that show a
                        # price in the same slot (a tile of a product grid, a row of an
                        # other-sellers table; not a row of a label/value table)
    "near_anchor",      # within NEAR elements of the title or add-to-cart control
    "title_distance",   # log-scaled distance to the title, 1 = FAR or no title
    "cart_distance",    # log-scaled distance to the add-to-cart control
    "before_title",     # comes before the title in the document
    "position",         # document position, 0 = first element, 1 = last
    "current_context",  # a "now/only/jetzt" cue is
    "wordy",            # letters in its text besides the currency, scaled (a line, not a price)
    "nearest",          # 1 / (1 + its rank by distance to the title among the page's
                        # candidates outside lists): relative, so it transfers between
                        # long and short pages
    "votes",            # log-scaled count of other candidates with the same amount, outside
                        # lists (a grid of look-alikes repeats its prices)
    "markup_match",     # the amount equals a structured-data price
    "markup_unshown",   # DOM: the page has markup prices, none shown in a price element
                        # (markup often keeps the regular price while the page shows a sale)
    "first_markup",     # markup: the first (in-stock first) offer's price
    "markup_shown",     # markup: a price element shows it
)


class Candidate(NamedTuple):
    """A price on the page with its evidence.

    Attributes:
        price: the parsed price (amount > 0).
        features: values in :data:`FEATURES` order, each in [0, 1].
        current_bid: a DOM price shown as an auction's current bid (see the module docstring).
        in_grid: a DOM price in a tile of a product grid as the listing check sees one
            (:func:`_in_grids`); not a feature, the ranker never sees it.
    """

    price: ParsedPrice
    features: tuple[float, ...]
    current_bid: bool = False
    in_grid: bool = False


def page_candidates(sel: Selector, hints: PageHints, currency_hint: str | None,
                    marked: list[ParsedPrice]) -> list[Candidate]:
    """Markup candidates (``marked``, first offer first) followed by the DOM candidates.

    Args:
        sel: the parsed page.
        hints: its locale hints (decimal separator, country).
        currency_hint: the structured data's currency, for numbers shown without one.
        marked: prices read from the structured data.

    Returns:
        Candidates in that order; empty when the page shows no price.
    """
    markup_amounts = {p.amount for p in marked}
    shown = dom_candidates(sel, hints, currency_hint, markup_amounts)
    bids = {c.price.amount for c in shown if c.current_bid}
    if bids:
        marked = [p for p in marked if p.amount in bids]
    index = FEATURES.index
    in_price_element = {c.price.amount for c in shown
                        if c.features[index("price_class")] or c.features[index("price_class_near")]
                        or c.features[index("itemprop_price")]}
    if marked and not markup_amounts & in_price_element:
        shown = [c._replace(features=tuple(1.0 if name == "markup_unshown" else x
                                           for name, x in zip(FEATURES, c.features)))
                 for c in shown]
    shown_amounts = Counter(c.price.amount for c in shown)
    found = []
    for i, price in enumerate(marked):
        values = [0.0] * len(FEATURES)
        values[index("currency")] = float(price.currency_raw is not None)
        values[index("first_markup")] = float(i == 0)
        values[index("markup_shown")] = float(price.amount in in_price_element)
        values[index("votes")] = _log_scale(shown_amounts[price.amount], 10)
        values[index("markup_match")] = 1.0
        found.append(Candidate(price, tuple(values)))
    return found + shown


def dom_candidates(sel: Selector, hints: PageHints, currency_hint: str | None,
                   markup_amounts: set[Decimal | None]) -> list[Candidate]:
    """The DOM candidates of the module docstring, in document order (only the current bids
    on an auction page that shows one)."""
    elements = [s.root for s in sel.xpath(
        "//body//*[not(ancestor-or-self::script or ancestor-or-self::style or "
        "ancestor-or-self::noscript or ancestor-or-self::template or ancestor-or-self::svg)]")]
    position = {el: i for i, el in enumerate(elements)}
    title_at, cart_at = _anchors(sel, elements)
    large = large_elements(sel)
    raw_length = _raw_lengths(elements)
    texts = _short_texts(elements, raw_length)
    picked: list[tuple[Any, ParsedPrice, str, bool]] = []  # element, price, text before it,
    # whether it is an auction's current bid
    title = elements[title_at] if title_at is not None else None
    for el in elements:
        text = texts.get(el)
        if text is None or any(texts.get(child) == text for child in el):
            continue  # no short price text, or a child element holds the same text
        if title is not None and (el is title or title in el.iterancestors()):
            continue  # the product's name: its numbers are a model ("Nikon D3500", "iPhone 15")
        if len(priced_numbers(text, _is_currency)) > 1:
            continue  # a box of several prices ("49 890 тг. 44 890 тг."): its parts count
        if is_struck(el):
            continue  # HTML: <del>/<s> content "is no longer accurate" — never the price to pay
        if "=" in text:
            continue  # a rate or conversion ("1 point = 1 元")
        if any(CUES["elsewhere_attr"].search(_attrs(a)) for a in _sections(el)):
            continue  # a section about other products or page chrome (related, carousel, menu)
        price = _read(el, text, hints, currency_hint, texts)
        if price is None or not (price.currency_raw or _classed(el)):
            continue
        # What is written before the number, outside the element and inside it ("Was $20"),
        # back to the previous number: "原價 $839 最低價 $29" — 原價 is 839's cue, not 29's.
        context = f"{_text_before(el, raw_length)} {re.split(r'[0-9]', text, 1)[0]}"
        own = re.split(r"[0-9]", context)[-1]
        if last_cue(own.lower()) == "former" or CUES["instalment"].search(f"{own} {text}"):
            continue  # a former price ("was", "RRP", "建議售價"), a part ("4 x $12.25", "/mo")
        picked.append((el, price, context, _is_current_bid(el, f"{own} {text}", texts)))
    listed = _in_lists([el for el, *_ in picked])
    gridded = _in_grids([el for el, *_ in picked])
    # Bids in a list of look-alikes are other lots'.
    picked = [(el, price, context, bid and el not in listed)
              for el, price, context, bid in picked]
    if any(bid for *_, bid in picked):
        picked = [item for item in picked if item[3]]
    votes = Counter(price.amount for el, price, *_ in picked if el not in listed)
    by_nearness = sorted((_gap(position[el], title_at), n)
                         for n, (el, *_) in enumerate(picked) if el not in listed)
    nearness_rank = {n: rank for rank, (_, n) in enumerate(by_nearness)}
    found = []
    for n, (el, price, context, bid) in enumerate(picked):
        i = position[el]
        text = texts[el]
        cue = last_cue(re.split(r"[0-9]", context)[-1].lower())
        values = {
            "bias_dom": 1.0,
            "currency": float(price.currency_raw is not None),
            "price_class": float(bool(CUES["price_attr"].search(_attrs(el)))),
            "price_class_near": float(any(CUES["price_attr"].search(_attrs(a))
                                          for a in _ancestors(el, CLASS_REACH))),
            "itemprop_price": float(any(n.get("itemprop") in ("price", "lowPrice")
                                        for n in [el, *_ancestors(el, 1)])),
            "not_price_class": float(any(CUES["not_price_attr"].search(_attrs(n))
                                         for n in [el, *_ancestors(el, CLASS_REACH)])),
            "current_class": float(any(CUES["current_attr"].search(_attrs(n))
                                       for n in [el, *_ancestors(el, CLASS_REACH)])),
            "accessory": float(any(CUES["accessory_attr"].search(_attrs(n))
                                   for n in [el, *el.iterancestors()])),
            "hidden": float(_hidden(el)),
            "large": float(el in large or el.getparent() in large),
            "large_near": float((el in large or el.getparent() in large)
                                and min(_gap(i, title_at), _gap(i, cart_at)) <= NEAR_PROMINENT),
            "in_list": float(el in listed),
            "near_anchor": float(min(_gap(i, title_at), _gap(i, cart_at)) <= NEAR),
            "title_distance": _log_scale(_gap(i, title_at), FAR),
            "cart_distance": _log_scale(_gap(i, cart_at), FAR),
            "before_title": float(title_at is not None and i < title_at),
            "position": i / max(len(elements) - 1, 1),
            "current_context": float(cue == "current"),
            "wordy": min(_letters(text, price.currency_raw) / 20, 1.0),
            "nearest": 1 / (1 + nearness_rank[n]) if n in nearness_rank else 0.0,
            "votes": _log_scale(votes[price.amount]
                                - (el not in listed), 10),
            "markup_match": float(price.amount in markup_amounts),
            "markup_unshown": 0.0,
            "first_markup": 0.0,
            "markup_shown": 0.0,
        }
        found.append(Candidate(price, tuple(values[name] for name in FEATURES), bid,
                               el in gridded or el in listed))
    return found


def _is_current_bid(el: Any, labelled: str, texts: dict[Any, str]) -> bool:
    """True for a price labelled as an auction's current bid, or shown beside a count of bids
    placed ("$200 · 2 bids"): the count in the parent's text, not in its own (an element whose
    text runs the two together, "$200 2 bids", is no price). A price labelled as the opening
    bid ("Starting price $150") is none, whatever stands beside it."""
    if CUES["opening_bid"].search(labelled):
        return False
    if CUES["current_bid"].search(labelled):
        return True
    around = texts.get(el.getparent()) or ""
    return bool(CUES["bid_count"].search(around)) and not CUES["bid_count"].search(texts[el])


def _raw_lengths(elements: list[Any]) -> dict[Any, int]:
    """Element → characters of text inside it (whitespace included), summed bottom-up so that
    large sections are never joined just to be measured."""
    raw_length: dict[Any, int] = {}
    for el in reversed(elements):
        raw_length[el] = len(el.text or "") + sum(
            raw_length.get(child, 0) + len(child.tail or "") for child in el)
    return raw_length


def _short_texts(elements: list[Any], raw_length: dict[Any, int]) -> dict[Any, str]:
    """Element → its whitespace-collapsed text, for texts of at most MAX_PRICE_TEXT characters
    with a digit."""
    texts = {}
    for el in elements:
        if raw_length[el] > 8 * MAX_PRICE_TEXT:
            continue
        text = " ".join(" ".join(el.itertext()).split())
        if text and len(text) <= MAX_PRICE_TEXT and any(ch.isdigit() for ch in text):
            texts[el] = text
    return texts


def _read(el: Any, text: str, hints: PageHints, currency_hint: str | None,
          texts: dict[Any, str]) -> ParsedPrice | None:
    """The element's price; a currency written in the parent (``<b>€ <span>17,10</span></b>``)
    or only in the structured data completes a bare number."""
    price = parse_price(text, None, hints.separator_for(text), hints.country)
    if price.amount is None or price.amount <= 0:
        return None
    if price.currency_raw is None:
        outer = texts.get(el.getparent())
        if outer:
            reread = parse_price(outer, None, hints.separator_for(outer), hints.country)
            if reread.amount == price.amount and reread.currency_raw:
                return reread
        if currency_hint:
            hinted = parse_price(currency_hint, None, None, hints.country)
            return price._replace(currency=hinted.currency)
    return price


def _is_currency(text: str) -> bool:
    return bool(currency_candidates(text))


def _classed(el: Any) -> bool:
    return any(CUES["price_attr"].search(_attrs(n)) or n.get("itemprop") in ("price", "lowPrice")
               for n in [el, *_ancestors(el, CLASS_REACH)])


def _anchors(sel: Selector, elements: list[Any]) -> tuple[int | None, int | None]:
    """Positions of the product title and of the first add-to-cart control.

    The title is the first ``<h1>``; on a page without one, the first childless element whose
    text is the name part of the document title (``<title>`` or ``og:title`` up to its
    " - " / " | " separator, where pages append the shop's name).
    """
    title_at = next((i for i, el in enumerate(elements) if el.tag == "h1"), None)
    if title_at is None:
        names = {re.split(r"\s+[-|–—:]+\s+|\s*[｜|]\s*", " ".join(value.split()))[0]
                 for value in (sel.xpath("//title/text()").get() or "",
                               sel.xpath("//meta[@property='og:title']/@content").get() or "")}
        names.discard("")
        title_at = next((i for i, el in enumerate(elements)
                         if len(el) == 0 and " ".join((el.text or "").split()) in names), None)
    # The buy box follows the title: the first control after it, a button before a link (the
    # page header's "basket" link comes first in most documents).
    carts = [(title_at is not None and i < title_at, el.tag == "a", i)
             for i, el in enumerate(elements) if _is_cart(el)]
    return title_at, min(carts)[2] if carts else None


def _is_cart(el: Any) -> bool:
    if el.tag not in ("button", "input", "a") or (
            el.tag == "input" and el.get("type", "").lower() not in ("submit", "button", "image")):
        return False
    label = " ".join([_attrs(el), el.get("value", ""), el.get("name", ""), *el.itertext()])
    return bool(CUES["cart"].search(label)) and not any(CUES["elsewhere_attr"].search(_attrs(a))
                                                for a in _sections(el))


def _attrs(el: Any) -> str:
    return f"{el.get('class', '')} {el.get('id', '')} {el.get('itemprop', '')}"


def _ancestors(el: Any, levels: int) -> list[Any]:
    found = []
    for node in el.iterancestors():
        if len(found) == levels:
            break
        found.append(node)
    return found


def _in_lists(priced: list[Any]) -> set[Any]:
    """The price elements that sit in a list of look-alikes: LIST_SIBLINGS or more siblings of
    the same tag and class, within LIST_REACH levels up, each holding a price at the same path
    (tags and classes from the sibling down to the price). Tiles of a grid repeat their price
    slot; the rows of a label/value table ("list price", "sale price", "shipping") are alike in
    tag but hold their amounts in different cells."""
    return _look_alikes(priced, LIST_REACH, lambda node: (node.tag, node.get("class")))


def _in_grids(priced: list[Any]) -> set[Any]:
    """The price elements in a grid of product tiles, as :func:`_in_lists` finds lists but
    within GRID_REACH levels up, tiles and path elements compared by tag and first class only.
    Platforms add per-tile classes after the first: WooCommerce's ``product post-{ID}
    first|last instock|outofstock product_cat-…``, Dawn's ``price price--on-sale``/
    ``price--sold-out``, a featured or sold-out tile."""
    return _look_alikes(priced, GRID_REACH,
                        lambda node: (node.tag, *(node.get("class") or "").split()[:1]))


def _look_alikes(priced: list[Any], reach: int, shape: Callable[[Any], tuple[Any, ...]]
                 ) -> set[Any]:
    """The elements with LIST_SIBLINGS or more siblings within ``reach`` levels up that hold a
    price at the same path, elements compared by ``shape``."""
    slots: dict[tuple[Any, ...], set[Any]] = {}
    keys: dict[Any, list[tuple[Any, ...]]] = {}
    for el in priced:
        node, path = el, ()
        for _ in range(reach):
            parent = node.getparent()
            if parent is None:
                break
            path = (shape(node), *path)
            key = (parent, path)
            slots.setdefault(key, set()).add(node)
            keys.setdefault(el, []).append(key)
            node = parent
    return {el for el in priced
            if any(len(slots[key]) >= LIST_SIBLINGS for key in keys.get(el, []))}


def _sections(el: Any) -> list[Any]:
    """The element's ancestors below ``<body>``: classes on ``<html>`` and ``<body>`` describe the
    page's state (Modernizr's "cookies", a closed "hidden-menu"), not a section of it."""
    return [a for a in el.iterancestors() if a.tag not in ("html", "body")]


def _hidden(el: Any) -> bool:
    for node in [el, *_sections(el)]:
        if (CUES["hidden_attr"].search(_attrs(node)) or node.get("hidden") is not None
                or node.get("aria-hidden") == "true"
                or "display:none" in (node.get("style") or "").replace(" ", "")):
            return True
    return False


def _gap(i: int, anchor: int | None) -> int:
    return FAR if anchor is None else abs(i - anchor)


def _log_scale(value: int, top: int) -> float:
    return min(math.log1p(max(value, 0)) / math.log1p(top), 1.0)


def _letters(text: str, currency_raw: str | None) -> int:
    rest = text.replace(currency_raw, "") if currency_raw else text
    return sum(ch.isalpha() for ch in rest)


def _text_before(el: Any, raw_length: dict[Any, int]) -> str:
    """Up to CONTEXT_CHARS characters of text right before the element, in document order
    (a long preceding section contributes only the text after it)."""
    parts: list[str] = []
    size = 0
    node = el
    while node is not None and size < CONTEXT_CHARS:
        previous = node.getprevious()
        if previous is None:
            node = node.getparent()
            if node is not None and node.text:
                parts.append(node.text)
                size += len(node.text)
            continue
        node = previous
        inner = (" ".join(previous.itertext())
                 if raw_length.get(previous, MAX_PRICE_TEXT * 8) <= 4 * CONTEXT_CHARS else "")
        piece = " ".join(filter(None, [inner, previous.tail]))
        parts.append(piece)
        size += len(piece)
    return " ".join(" ".join(reversed(parts)).split())[-CONTEXT_CHARS:]
