"""Generic product extraction on real pages: benchmark pages, extruct's fixtures, the scorer."""

from __future__ import annotations

import dataclasses
import gzip
import importlib.util
import json
import time
from pathlib import Path

import pytest

from crawlers.extraction.page import declared_url, extract_product
from commons.record import SignalRecord

BENCH = "product_pages_zyte_benchmark"
FIXTURES = "schemaorg_fixtures_extruct"


def _page(data_dir: Path, prefix: str) -> tuple[bytes, str]:
    path = next((data_dir / BENCH / "html").glob(f"{prefix}*.html.gz"))
    truth = json.loads((data_dir / BENCH / "ground-truth.json").read_text(encoding="utf-8"))
    return gzip.decompress(path.read_bytes()), truth[path.name.split(".")[0]]["url"]


# Values read off each page's HTML (buy box, stock line, identifiers).
@pytest.mark.parametrize(("prefix", "expected"), [
    # IKEA GB: JSON-LD Product.
    ("0666abeb", {"price": "450", "currency": "GBP", "availability": "in_stock",
                  "product_id": "002.937.72", "title": "MÖCKELBY Table - oak 235x100 cm"}),
    # IKEA GB, sold out: schema.org OutOfStock.
    ("897bc5b5", {"price": "25", "currency": "GBP", "availability": "out_of_stock",
                  "product_id": "004.028.13"}),
    # amazon.com without markup, "Currently unavailable." in the availability block.
    ("0094967f", {"availability": "out_of_stock", "product_id": "B07FW264WL"}),
    # amazon.de without markup: buy-box price "8,71 €", "Auf Lager."
    ("95f9586d", {"price": "8.71", "currency": "EUR", "availability": "in_stock",
                  "product_id": "B006V2OP48"}),
    # mechta.kz without markup: "49 890 тг." struck through, "44 890 тг." to pay.
    ("5d84948a", {"price": "44890", "currency": "KZT"}),
    # zalando.ie: variants' offers mix OutOfStock and InStock sizes → buyable; JSON-LD 89.5.
    ("9d8d7e05", {"price": "89.5", "currency": "EUR", "availability": "in_stock"}),
    # emag.ro: JSON-LD price 173.34 in RON, shown as "173<sup>34</sup> Lei".
    ("2fa16d14", {"price": "173.34", "currency": "RON"}),
    # i3fresh.tw, no markup: "最低價$<span>29</span>元起", the span at 45px by a <style>
    # rule; the title is a <div> (no <h1>) matching <title>.
    ("24d6d89f", {"price": "29", "currency": "TWD"}),
    # pcstore.com.tw, no markup: <span style="font:bold 27px">294</span> 元, list price in <del>.
    ("412fe668", {"price": "294", "currency": "TWD"}),
    # lafeltrinelli.it: markup offers 18.00 (a hidden block) and 17.10; the buy box (in a
    # "no-slider", "detail-header" section) shows 17,10 and strikes 18,00 through.
    ("75cde739", {"price": "17.10", "currency": "EUR"}),
    # amazon.de: buy box 8,33 € (in an "accordion-header"); 8,32 € is another seller's offer.
    ("f09ca5f0", {"price": "8.33", "currency": "EUR"}),
    # vsezaoci.si: "<strong>Šifra:</strong> 0638": label and value in separate text nodes.
    ("16962698", {"product_id": "0638"}),
    # mechta.kz: "Код: 01245" under the title.
    ("5d84948a", {"product_id": "01245"}),
    # 1k.by: id at the end of a slug segment "BabyBjorn_One-987929".
    ("572368ce", {"product_id": "987929"}),
    # ebay.com: itemprop mpn "Fake Wounds" (digitless, no id) → the item number in the URL.
    ("21e72a8e", {"product_id": "302474151804"}),
])
def test_benchmark_pages(data_dir, prefix, expected):
    html, url = _page(data_dir, prefix)
    record = extract_product(html, url)
    assert {key: record[key] for key in expected} == expected


@pytest.mark.parametrize(("declarations", "px"), [
    ("font:bold 27px Verdana;color:#ff0000", 27.0), ("font-size: 1.5em", 24.0),
    ("font-size:18pt", 24.0), ("font-size: xx-large", 32.0), ("font-size: small", None),
    ("color: red", None), ("font: 16px/20px normal", 20.0),
])
def test_font_px(declarations, px):
    from crawlers.extraction.emphasis import font_px

    assert font_px(declarations) == px


def test_large_and_struck_elements():
    from parsel import Selector

    from crawlers.extraction.emphasis import is_struck, large_elements

    sel = Selector(text="<html><head><style>.deal span{font-size:45px} a:hover{font-size:30px}"
                        "</style></head><body><p class=deal>$<span id=a>29</span></p>"
                        "<span id=b style='font-size:12px'>1</span><font size=5 id=c>2</font>"
                        "<del><span id=d>45</span></del><span id=e style='text-decoration: "
                        "line-through'>9</span></body></html>")
    large = large_elements(sel)
    assert [i for i in "abcde" if sel.css(f"#{i}")[0].root in large] == ["a", "c"]
    assert [i for i in "abcde" if is_struck(sel.css(f"#{i}")[0])] == ["d", "e"]


def test_record_has_the_signal_record_shape(data_dir):
    html, url = _page(data_dir, "0666abeb")
    record = extract_product(html, url, crawl_id="c1", http_status=200)
    assert set(record) == {f.name for f in dataclasses.fields(SignalRecord)}
    assert record["source"] == "generic"
    assert record["provenance"]["crawl_id"] == "c1"
    assert record["provenance"]["http_status"] == 200
    assert len(record["content_digest"]) == 64
    assert 0 <= record["rating"] <= 5


def test_declared_url(data_dir):
    html, _ = _page(data_dir, "0666abeb")
    assert declared_url(html) == "https://www.ikea.com/gb/en/p/moeckelby-table-oak-00293772/"


@pytest.mark.parametrize("name", ["schema.org/product.html", "schema.org/product-ref.html",
                                  "misc/product_microdata.html"])
def test_extruct_product_fixtures(data_dir, name):
    record = extract_product((data_dir / FIXTURES / name).read_bytes(), "http://example.com/p")
    assert record["price"] == "119.99"
    assert record["currency"] == "USD"
    assert record["title"] == "Executive Anvil"
    assert record["availability"] == "in_stock"
    assert record["product_id"] == "925872"  # the mpn: the page gives no sku
    assert record["rating"] == 4.4


def test_opengraph_product_fixture(data_dir):
    html = (data_dir / FIXTURES / "misc" / "opengraph_ns_product_test.html").read_bytes()
    record = extract_product(html, "https://www.fye.com/x.html")
    assert (record["price"], record["currency"], record["availability"]) == (
        "17.99", "USD", "in_stock")
    assert record["product_id"] == "fye.000000032429335302"


@pytest.mark.parametrize("name", ["JSONLD_with_JS_comment.html",
                                  "JSONLD_with_control_characters.html",
                                  "JSONLD_with_control_characters_comment.html"])
def test_malformed_json_ld_does_not_crash(data_dir, name):
    html = (data_dir / FIXTURES / "custom.invalid" / name).read_bytes()
    record = extract_product(html, "https://money.udn.com/money/story/5635/4158094")
    assert record["price"] is None  # a news article: no product, no invented price
    assert record["availability"] == "unknown"


@pytest.fixture(scope="module")
def scores(data_dir):
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "extraction_score.py"
    spec = importlib.util.spec_from_file_location("extraction_score", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    start = time.perf_counter()
    result = module.score_all(data_dir)
    return result, time.perf_counter() - start


@pytest.mark.slow
def test_scorer_table(scores):
    result, _ = scores
    assert set(result) == {"ours", "ours, leave-one-domain-out", "ours, leave-one-shop-out",
                           "Zyte", "Diffbot", "extruct"}
    assert all(r["n"] == 97 for r in result.values())
    ours = result["ours"]
    # No product page is taken for a listing (which would give no record).
    assert ours["listing_pages"] == []
    others = [r for name, r in result.items() if not name.startswith("ours")]
    # Whole set, measured: price 0.948 (92/97; the 5 misses are pages whose ground truth
    # reads CLP/ARS thousands dots as decimals), currency 1.000, availability 0.969, sku 0.856.
    assert ours["price"] >= 0.94
    assert ours["currency"] >= 0.99
    assert all(ours[m] > r[m] for r in others for m in ("price", "currency", "availability",
                                                         "sku"))
    # Held out by domain and by shop (a brand's country sites together), measured: price 0.948,
    # currency 1.000 (the ranker fitted without the page's shop; the rules are the same).
    for name in ("ours, leave-one-domain-out", "ours, leave-one-shop-out"):
        held_out = result[name]
        assert held_out["price"] >= 0.94
        assert held_out["currency"] >= 0.95
        assert held_out["availability"] == ours["availability"] >= 0.96
        assert held_out["sku"] == ours["sku"] >= 0.851


def test_product_spider_yields_one_outcome_per_page(data_dir):
    from scrapy.http import HtmlResponse, Request

    from crawlers.items import Quarantined
    from crawlers.spiders.product import ProductSpider

    html, url = _page(data_dir, "0666abeb")
    spider = ProductSpider(start_urls=f"{url}, https://example.com/gone", crawl_id="c7")
    assert spider.start_urls == [url, "https://example.com/gone"]

    def respond(link: str, status: int, body: bytes) -> HtmlResponse:
        return HtmlResponse(link, status=status, body=body, encoding="utf-8",
                            request=Request(link, meta={"link": link}))

    [record] = spider.parse(respond(url, 200, html))
    assert (record.price, record.currency, record.product_id) == (450, "GBP", "002.937.72")
    assert record.provenance.crawl_id == "c7" and record.provenance.http_status == 200
    [gone] = spider.parse(respond("https://example.com/gone", 404, b"<html></html>"))
    assert isinstance(gone, Quarantined) and gone.row["reason"] == "http_404"
    listing_url = "http://books.toscrape.com/index.html"
    listing_html = (data_dir / "books_toscrape" / "site" / "index.html").read_bytes()
    [listing] = spider.parse(respond(listing_url, 200, listing_html))
    assert isinstance(listing, Quarantined)
    assert listing.row["reason"] == "parse_error: listing page (20 prices)"


def test_every_books_listing_page_is_refused_as_a_listing(data_dir):
    from crawlers.extraction.page import ListingPage

    site = data_dir / "books_toscrape" / "site"
    listings = [site / "index.html", *sorted((site / "catalogue").glob("page-*.html"))]
    refused = []
    for page in listings:
        with pytest.raises(ListingPage) as caught:
            extract_product(page.read_bytes(), f"http://books.toscrape.com/{page.name}")
        refused.append(caught.value.prices)
    # 20 books a page, the last page's fewer; some pages repeat a price.
    assert len(refused) == len(listings) >= 40
    assert all(10 <= n <= 20 for n in refused)


_PRICES = ("19.99", "24.50", "9.95", "31.00", "12.49", "45.00")


def _dawn_tile(i: int, price: str) -> str:
    # Shopify Dawn's card-product/price snippets: the tile is 9 levels above its price.
    state = " price--on-sale" if i == 0 else ""
    return (f'<li class="grid__item"><div class="card-wrapper"><div class="card"><div class="card__content">'
            f'<div class="card__information"><h3><a href="/products/p{i}">Mug {i}</a></h3>'
            f'<div class="card-information"><div class="price{state}"><div class="price__container">'
            f'<div class="price__regular"><span class="price-item">${price} USD</span></div>'
            f'</div></div></div></div></div></div></div></li>')


def _woo_tile(i: int, price: str) -> str:
    # wc_product_class(): a class per post id, row position and stock state on every tile.
    place = "first" if i % 3 == 0 else "last" if i % 3 == 2 else ""
    return (f'<li class="product type-product post-{100 + i} status-publish {place} '
            f'{"outofstock" if i == 4 else "instock"} product_cat-mugs"><a href="/p/{i}">'
            f'<h2 class="woocommerce-loop-product__title">Mug {i}</h2>\n<span class="price">'
            f'<span class="woocommerce-Price-amount amount"><bdi>${price}</bdi></span></span></a></li>')


def _item_list(prices: tuple[str, ...]) -> str:
    items = ",".join(f'{{"@type":"ListItem","position":{i + 1},"item":{{"@type":"Product","name":"Mug {i}",'
                     f'"offers":{{"@type":"Offer","price":"{p}","priceCurrency":"USD"}}}}}}'
                     for i, p in enumerate(prices))
    return ('<script type="application/ld+json">{"@context":"https://schema.org","@type":"ItemList",'
            f'"itemListElement":[{items}]}}</script>')


@pytest.mark.parametrize("body", [
    '<ul class="product-grid">' + "".join(_dawn_tile(i, p) for i, p in enumerate(_PRICES)) + "</ul>",
    '<ul class="products columns-3">' + "".join(_woo_tile(i, p) for i, p in enumerate(_PRICES)) + "</ul>",
    # An ItemList of products is a listing, whatever else the page shows.
    _item_list(_PRICES) + '<div class="promo">Free shipping over $50</div><ul>'
    + "".join(f'<li><a href="/p/{i}">Mug {i}</a> ${p}</li>' for i, p in enumerate(_PRICES)) + "</ul>",
    # Microdata tiles, none of them the page's title.
    '<div class="products">' + "".join(
        f'<article class="product-miniature" itemscope itemtype="http://schema.org/Product"><h2 itemprop="name">'
        f'Mug {i}</h2><div itemprop="offers" itemscope itemtype="http://schema.org/Offer"><span class="price" '
        f'itemprop="price" content="{p}">{p} €</span><meta itemprop="priceCurrency" content="EUR"></div></article>'
        for i, p in enumerate(_PRICES)) + "</div>",
])
def test_platform_category_pages_are_refused_as_listings(body):
    from crawlers.extraction.page import ListingPage

    html = f"<html><body><h1>Mugs</h1>{body}</body></html>"
    with pytest.raises(ListingPage) as caught:
        extract_product(html, "https://shop.example.com/collections/mugs")
    assert caught.value.prices == len(_PRICES)


def test_a_product_page_with_related_products_in_an_item_list_is_a_product():
    related = _item_list(_PRICES)
    main = ('<script type="application/ld+json">{"@context":"https://schema.org","@type":"Product",'
            '"name":"Blue Mug","offers":{"@type":"Offer","price":"14.00","priceCurrency":"USD"}}</script>')
    html = f"<html><body>{main}{related}<h1>Blue Mug</h1><p class='price'>$14.00</p></body></html>"
    record = extract_product(html, "https://shop.example.com/p/blue-mug")
    assert (record["title"], record["price"]) == ("Blue Mug", "14.00")
