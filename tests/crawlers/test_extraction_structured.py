"""Structured data read leniently: schema.org names in any case and without ``@context``, every
JSON-LD block parsed on its own with repairs, price and availability from the same offer."""

from __future__ import annotations

import json

import pytest

from crawlers.extraction.jsonld import parse_block
from crawlers.extraction.page import extract_product

PRODUCT = {"@type": "product", "name": "Desk lamp",
           "offers": {"@type": "Offer", "price": "49.00", "priceCurrency": "GBP",
                      "availability": "InStock"}}


def _page(*blocks: str, body: str = "<h1>Desk lamp</h1>") -> str:
    scripts = "".join(f'<script type="application/ld+json">{b}</script>' for b in blocks)
    return f"<html><head>{scripts}</head><body>{body}</body></html>"


def _fields(html: str, url: str = "https://shop.example.com/p/1") -> tuple:
    record = extract_product(html, url)
    return record["price"], record["currency"], record["availability"]


@pytest.mark.parametrize(("type_", "availability"), [
    ("product", "InStock"), ("PRODUCT", "instock"), ("schema:Product", "schema:InStock"),
    ("http://schema.org/Product", "https://schema.org/InStock"),
])
def test_lower_case_types_and_bare_availability_without_context(type_, availability):
    block = dict(PRODUCT, **{"@type": type_})
    block["offers"] = dict(PRODUCT["offers"], availability=availability)
    assert _fields(_page(json.dumps(block))) == ("49.00", "GBP", "in_stock")


def test_lower_case_out_of_stock():
    block = dict(PRODUCT, offers=dict(PRODUCT["offers"], availability="outofstock"))
    assert _fields(_page(json.dumps(block)))[2] == "out_of_stock"


def test_a_broken_block_does_not_drop_a_valid_one():
    valid = json.dumps(PRODUCT)
    broken = '{"@type": "BreadcrumbList", "itemListElement": []};'
    assert _fields(_page(broken, valid)) == ("49.00", "GBP", "in_stock")
    assert _fields(_page(valid, '{"@type": "WebSite", "name": ')) == ("49.00", "GBP", "in_stock")


@pytest.mark.parametrize("text", [
    json.dumps(PRODUCT) + "};",                              # statement semicolon
    json.dumps(PRODUCT) + "}",                               # one closing brace too many
    json.dumps(PRODUCT).replace('"', "&quot;"),              # a CMS escaped the block
    "<!--" + json.dumps(PRODUCT) + "-->",                    # hidden from old browsers
    json.dumps(PRODUCT)[:-1] + ",}",                         # JavaScript's trailing comma
    "/* product */\n" + json.dumps(PRODUCT),                 # a comment
])
def test_malformed_blocks_are_recovered(text):
    assert parse_block(text) == [PRODUCT]
    assert _fields(_page(text)) == ("49.00", "GBP", "in_stock")


def test_unrecoverable_block_is_none():
    assert parse_block('{"@type": "Product", "name": "x" "offers"') is None


def test_a_block_nested_past_the_decoders_depth_is_skipped_not_raised():
    # json raises RecursionError, no ValueError, on 5,000 nested arrays: it stopped the page.
    deep = "[" * 5000 + "]" * 5000
    assert parse_block(deep) is None
    assert _fields(_page(deep, json.dumps(PRODUCT))) == ("49.00", "GBP", "in_stock")


def test_price_and_availability_come_from_the_same_offer_in_stock_first():
    offers = [{"@type": "Offer", "price": price, "priceCurrency": "EUR",
               "availability": f"http://schema.org/{state}"}
              for price, state in (("18.00", "OutOfStock"), ("17.00", "InStock"),
                                   ("16.00", "InStock"))]
    block = {"@context": "https://schema.org", "@type": "Product", "name": "Desk lamp",
             "offers": offers}
    assert _fields(_page(json.dumps(block))) == ("17.00", "EUR", "in_stock")
    sold_out = [dict(o, availability="OutOfStock") for o in offers]
    assert _fields(_page(json.dumps(dict(block, offers=sold_out)))) == (
        "18.00", "EUR", "out_of_stock")


@pytest.mark.parametrize("price", ['"1e308"', "1e308", '"Infinity"', '"' + "9" * 60 + '"'])
def test_a_markup_price_in_exponent_form_or_too_long_is_no_amount(price):
    # Decimal takes "1e308" as a number: the record once held a 309-digit price.
    block = json.dumps(PRODUCT).replace('"49.00"', price)
    assert _fields(_page(block))[0] is None
    assert _fields(_page(json.dumps(PRODUCT).replace('"49.00"', '"1199.50"')))[0] == "1199.50"
