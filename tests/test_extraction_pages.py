"""Main-product price on small pages of our own, one per fault kind seen on unseen shops:
no structured data, a right-to-left page with an add-on and a carousel, a discount beside a
struck list price under a grid of other products, local currency symbols."""

from __future__ import annotations

import pytest

from crawlers.extraction.page import extract_product

RELATED = """<section class="related-products"><h2>{title}</h2><ul>
  <li class="product-tile"><a href="/p/2">Lamp shade</a><span class="price">{a}</span></li>
  <li class="product-tile"><a href="/p/3">Bulb pack</a><span class="price">{b}</span></li>
  <li class="product-tile"><a href="/p/4">Floor lamp</a><span class="price">{c}</span></li>
</ul></section>"""


def _price(html: str, url: str) -> tuple[str | None, str | None]:
    record = extract_product(html, url)
    return record["price"], record["currency"]


def test_class_named_price_beside_the_title_without_markup():
    html = """<html><head><title>Desk lamp | Lights Ltd</title></head><body>
      <nav class="menu"><a href="/basket">Basket (0)</a></nav>
      <div class="product"><h1>Desk lamp</h1>
        <p class="price price--large">£49.00</p>
        <p>Free delivery on orders over £50.</p>
        <button class="add-to-cart">Add to basket</button></div>
      </body></html>"""
    assert _price(html, "https://lights.example.com/desk-lamp") == ("49.00", "GBP")


def test_right_to_left_page_main_price_beats_add_on_and_carousel():
    html = """<html dir="rtl" lang="he"><body>
      <header class="site-header"><a href="/cart">סל קניות</a></header>
      <main><h1>נתב אלחוטי AX3000</h1>
        <div class="product-price"><span class="price">1,679 ₪</span></div>
        <div class="addons"><label><input type="checkbox"> Wi-Fi dongle – 99 ₪</label></div>
        <button class="add-to-cart">הוסף לסל</button>
      </main>
      <div class="swiper carousel"><h2>מוצרים דומים</h2>
        <div class="swiper-slide"><a href="/p/9">נתב AX1500</a><span class="price">899 ₪</span></div>
        <div class="swiper-slide"><a href="/p/8">מגדיל טווח</a><span class="price">349 ₪</span></div>
        <div class="swiper-slide"><a href="/p/7">נתב AX5400</a><span class="price">2,199 ₪</span></div>
      </div></body></html>"""
    assert _price(html, "https://www.shop.example.com/router-ax3000") == ("1679", "ILS")


def test_discount_beside_struck_list_price_under_an_earlier_grid():
    grid = RELATED.format(title="Preporučeno", a="120,00 Kn", b="89,00 Kn", c="1.250,00 Kn")
    html = f"""<html lang="hr"><body>{grid}
      <div class="product-detail"><h1>Stolna lampa Nova</h1>
        <div class="prices"><del class="old-price">540,00 Kn</del>
          <span class="special-price">270,00 Kn</span></div>
        <button type="submit" class="btn-cart">Dodaj u košaricu</button></div>
      </body></html>"""
    assert _price(html, "https://www.lampe.example.hr/nova") == ("270.00", "HRK")


@pytest.mark.parametrize(("shown", "lang", "url", "expected"), [
    ("270,00 Kn", "en", "https://shop.example.com/p", ("270.00", "HRK")),
    ("1,679 ₪", "en-US", "https://shop.example.com/p", ("1679", "ILS")),
    ("Rs. 1,499", "en", "https://shop.example.com/p", ("1499", "INR")),
    ("Rs 1,499", "ur", "https://shop.example.com/p", ("1499", "PKR")),
    ("39,90 лв.", "bg", "https://shop.example.de/p", ("39.90", "BGN")),
    ("45,99 zł", "de-DE", "https://shop.example.de/p", ("45.99", "PLN")),
])
def test_local_currency_symbol_beats_a_missing_or_contrary_locale(shown, lang, url, expected):
    html = f"""<html lang="{lang}"><body><h1>Desk lamp</h1>
      <div class="product-price">{shown}</div><button>Add to cart</button></body></html>"""
    assert _price(html, url) == expected


def test_currency_written_beside_the_price_element():
    html = """<html lang="he"><body><h1>Router</h1>
      <div class="buy-box"><span class="price">1,679</span> <span class="currency">₪</span></div>
      </body></html>"""
    assert _price(html, "https://shop.example.com/p") == ("1679", "ILS")
