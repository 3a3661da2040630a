"""Parsing functions on real saved books.toscrape pages and on price/availability strings."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from crawlers.parsing import (ParseError, parse_availability, parse_book_detail, parse_listing,
                              parse_price, parse_star_rating)

BASE = "http://books.example/"


@pytest.fixture(scope="module")
def site(data_dir: Path) -> Path:
    return data_dir / "books_toscrape" / "site"


@pytest.mark.parametrize(("text", "hint", "expected"), [
    ("£51.77", None, (Decimal("51.77"), "GBP")),
    ("$1,234.50", None, (Decimal("1234.50"), "USD")),
    ("1.234,56 €", None, (Decimal("1234.56"), "EUR")),
    ("¥1000", None, (Decimal("1000"), "JPY")),
    ("GBP 12.00", None, (Decimal("12.00"), "GBP")),
    ("12 CHF", None, (Decimal("12"), "CHF")),
    ("12.50", "£", (Decimal("12.50"), "GBP")),
    ("Rs 100", None, (Decimal("100"), "INR")),  # the dominant reading of "Rs"
    ("100 kr", None, (Decimal("100"), None)),  # SEK, NOK, DKK or ISK: unresolved
    ("no price here", None, (None, None)),
    ("", None, (None, None)),
    (None, None, (None, None)),
])
def test_parse_price(text, hint, expected):
    assert parse_price(text, currency_hint=hint) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("In stock (19 available)", ("in_stock", 19)),
    ("\n   In stock (22 available)\n", ("in_stock", 22)),
    ("In stock", ("in_stock", None)),
    ("Only 3 left in stock", ("in_stock", 3)),
    # A broken page's sign is kept for the rules to refuse (stock_count_negative), not dropped.
    ("In stock (-3 available)", ("in_stock", -3)),
    ("In stock (−3 available)", ("in_stock", -3)),
    ("In stock (SKU-12 available)", ("in_stock", None)),
    ("Out of stock", ("out_of_stock", None)),
    ("SOLD OUT", ("out_of_stock", None)),
    ("Pre-order", ("preorder", None)),
    ("Available for preorder", ("preorder", None)),
    # Read as the generic extractor reads them: a negation, grouped thousands, a bound, none left.
    ("Currently not available", ("out_of_stock", None)),
    ("Available soon", ("out_of_stock", None)),
    ("Unavailable", ("out_of_stock", None)),
    ("In stock (1,000 available)", ("in_stock", 1000)),
    ("More than 10 available", ("in_stock", None)),
    ("In stock (0 available)", ("out_of_stock", 0)),
    # An in-stock phrase after a negation, in the shops' languages; "No reviews available" is no
    # negation of the stock (only a closed list of words may stand between).
    ("Nicht auf Lager", ("out_of_stock", None)),
    ("Non disponible", ("out_of_stock", None)),
    ("Не в наличии", ("out_of_stock", None)),
    ("Nie dostępny", ("out_of_stock", None)),
    ("Não está disponível", ("out_of_stock", None)),
    ("Zero in stock", ("out_of_stock", None)),
    ("Notify me when back in stock", ("out_of_stock", None)),
    ("在庫なし", ("out_of_stock", None)),
    ("Em estoque", ("in_stock", None)),
    ("Back in stock!", ("in_stock", None)),
    ("No reviews available", ("in_stock", None)),
    ("", ("unknown", None)),
    ("call us", ("unknown", None)),
])
def test_parse_availability(text, expected):
    assert parse_availability(text) == expected


@pytest.mark.parametrize(("cls", "expected"), [
    ("star-rating Three", 3.0), ("star-rating One", 1.0), ("star-rating Five", 5.0),
    ("star-rating", None), ("", None), (None, None),
])
def test_parse_star_rating(cls, expected):
    assert parse_star_rating(cls) == expected


@pytest.mark.parametrize("cls", ["star-rating Six", "star-rating Five One", "star-rating five-ish"])
def test_an_unreadable_rating_is_an_error_not_an_absent_rating(cls):
    with pytest.raises(ParseError, match=r"unreadable rating \(star-rating "):
        parse_star_rating(cls)


# Values read by hand from the saved HTML (h1, "Price (incl. tax)", UPC, Availability rows, the
# product_main star-rating class).
KNOWN_PAGES = [
    ("a-light-in-the-attic_1000", "A Light in the Attic", "51.77", "a897fe39b1053632", 22, 3.0),
    ("tipping-the-velvet_999", "Tipping the Velvet", "53.74", "90fa61229261140a", 20, 1.0),
    ("soumission_998", "Soumission", "50.10", "6957f44c3847a760", 20, 1.0),
    ("a-murder-in-time_877", "A Murder in Time", "16.64", "f733e8c19d40ec2e", 16, 1.0),
]


@pytest.mark.parametrize(("slug", "title", "price", "upc", "stock", "rating"), KNOWN_PAGES)
def test_parse_book_detail_known_pages(site, slug, title, price, upc, stock, rating):
    html = (site / "catalogue" / slug / "index.html").read_bytes()
    fields = parse_book_detail(html, f"{BASE}catalogue/{slug}/index.html")
    assert fields == {"title": title, "price": Decimal(price), "currency": "GBP",
                      "availability": "in_stock", "stock_count": stock, "rating": rating,
                      "product_id": upc, "num_reviews": 0}


def test_parse_book_detail_falls_back_to_headline_price_and_url_id(site):
    html = (site / "catalogue" / "a-light-in-the-attic_1000" / "index.html").read_text("utf-8")
    start, end = html.index("<table"), html.index("</table>") + len("</table>")
    url = f"{BASE}catalogue/a-light-in-the-attic_1000/index.html"
    fields = parse_book_detail(html[:start] + html[end:], url)
    assert fields["price"] == Decimal("51.77")
    assert (fields["availability"], fields["stock_count"]) == ("in_stock", 22)
    assert fields["product_id"] == url
    assert fields["num_reviews"] is None


def test_parse_book_detail_rejects_pages_without_title_or_price(site):
    html = (site / "catalogue" / "a-light-in-the-attic_1000" / "index.html").read_text("utf-8")
    with pytest.raises(ParseError, match="no price"):
        parse_book_detail(html.replace("£", "").replace("51.77", "n/a"), BASE)
    with pytest.raises(ParseError, match="no title"):
        parse_book_detail(html.replace("<h1>A Light in the Attic</h1>", ""), BASE)
    with pytest.raises(ParseError, match="no title"):
        parse_book_detail("<html><body>Not found</body></html>", BASE)


def test_parse_listing_first_and_last_pages(site):
    first = parse_listing((site / "index.html").read_text("utf-8"), f"{BASE}index.html")
    assert len(first.product_urls) == 20
    assert first.product_urls[0] == f"{BASE}catalogue/a-light-in-the-attic_1000/index.html"
    assert first.product_urls[1] == f"{BASE}catalogue/tipping-the-velvet_999/index.html"
    assert first.next_url == f"{BASE}catalogue/page-2.html"

    url = f"{BASE}catalogue/page-49.html"
    last = parse_listing((site / "catalogue" / "page-49.html").read_text("utf-8"), url)
    assert len(last.product_urls) == 20
    assert all(u.startswith(f"{BASE}catalogue/") for u in last.product_urls)
    assert last.next_url == f"{BASE}catalogue/page-50.html"


def test_parse_listing_without_pager_has_no_next():
    listing = parse_listing("<html><body><p>empty</p></body></html>", BASE)
    assert listing.product_urls == [] and listing.next_url is None


def test_links_no_crawler_can_fetch_are_named_and_the_rest_kept(site):
    html = (site / "index.html").read_text("utf-8")
    first = 'href="catalogue/a-light-in-the-attic_1000/index.html"'
    html = html.replace(first, 'href="tel:+44 20 7946 0321"')  # the image's link and the title's
    html = html.replace('href="catalogue/page-2.html"', 'href="http://127.0.0.1:99999/page-2.html"')
    listing = parse_listing(html, f"{BASE}index.html")
    assert len(listing.product_urls) == 19
    assert listing.product_urls[0] == f"{BASE}catalogue/tipping-the-velvet_999/index.html"
    assert listing.next_url is None
    assert listing.bad_links == (("tel:+44 20 7946 0321", "not an http(s) URL (tel)"),
                                 ("http://127.0.0.1:99999/page-2.html", "Port out of range 0-65535"))
