"""Main-product price on small pages of our own, one per fault kind seen on unseen shops:
no structured data, a right-to-left page with an add-on and a carousel, a discount beside a
struck list price under a grid of other products, local currency symbols."""

from __future__ import annotations

import pytest

from crawlers.extraction.page import extract_product

# A grid of other products whose class names say nothing ("products-grid", "item"): two tiles
# share a price, so "the amount most price elements agree on" picks theirs.
GRID = """<ul class="products-grid">
  <li class="item"><a href="/p/2">{a_name}</a><span class="price">{a}</span></li>
  <li class="item"><a href="/p/3">{b_name}</a><span class="price">{b}</span></li>
  <li class="item"><a href="/p/4">{c_name}</a><span class="price">{b}</span></li>
</ul>"""


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
    grid = GRID.format(a_name="נתב AX1500", a="899 ₪", b_name="מגדיל טווח", b="349 ₪",
                       c_name="מתאם רשת")
    html = f"""<html dir="rtl" lang="he"><body>
      <header class="site-header"><a href="/cart">סל קניות</a></header>
      <main><h1>נתב אלחוטי AX3000</h1>
        <div class="product-price"><span class="price">1,679 ₪</span></div>
        <div class="product-addons"><label><input type="checkbox">
          <span class="addon-price">Wi-Fi dongle – 99 ₪</span></label></div>
        <button class="add-to-cart">הוסף לסל</button>
      </main>
      <h2>מוצרים נוספים</h2>{grid}</body></html>"""
    assert _price(html, "https://www.shop.example.com/router-ax3000") == ("1679", "ILS")


def test_discount_beside_struck_list_price_under_an_earlier_grid():
    grid = GRID.format(a_name="Sjenilo", a="120,00 Kn", b_name="Žarulje", b="89,00 Kn",
                       c_name="Podna lampa")
    html = f"""<html lang="hr"><body>{grid}
      <div class="product-detail"><h1>Stolna lampa Nova</h1>
        <div class="prices"><del class="old-price">540,00 Kn</del>
          <span class="special-price">270,00 Kn</span></div>
        <button type="submit" class="btn-cart">Dodaj u košaricu</button></div>
      </body></html>"""
    assert _price(html, "https://www.lampe.example.hr/nova") == ("270.00", "HRK")


# The markup gives the amount but no priceCurrency (common); the page shows a local symbol
# while the TLD/locale say another currency or nothing.
@pytest.mark.parametrize(("amount", "shown", "lang", "url", "expected"), [
    ("270.00", "270,00 Kn", "hr", "https://shop.example.hr/p", "HRK"),  # .hr is EUR since 2023
    ("1679", "1,679 ₪", "en-US", "https://shop.example.com/p", "ILS"),
    ("1499", "Rs. 1,499", "en", "https://shop.example.com/p", "INR"),
    ("1499", "Rs 1,499", "ur", "https://shop.example.com/p", "PKR"),
    ("39.90", "39,90 лв.", "de", "https://shop.example.de/p", "BGN"),
    ("45.99", "45,99 zł", "de-DE", "https://shop.example.de/p", "PLN"),
])
def test_local_currency_symbol_beats_a_missing_or_contrary_locale(amount, shown, lang, url,
                                                                  expected):
    markup = ('{"@context": "https://schema.org", "@type": "Product", "name": "Desk lamp", '
              f'"offers": {{"@type": "Offer", "price": "{amount}"}}}}')
    html = f"""<html lang="{lang}"><head><script type="application/ld+json">{markup}</script>
      </head><body><h1>Desk lamp</h1>
      <div class="product-price">{shown}</div><button>Add to cart</button></body></html>"""
    assert _price(html, url) == (amount, expected)


def test_currency_written_beside_the_price_element():
    html = """<html lang="he"><body><h1>Router</h1>
      <div class="buy-box"><span class="price">1,679</span> <span class="currency">₪</span></div>
      </body></html>"""
    assert _price(html, "https://shop.example.com/p") == ("1679", "ILS")
