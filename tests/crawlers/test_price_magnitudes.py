"""Prices written with a magnitude ("£1.2k", "€2,5 Tsd."): the amount they mean, or none, never the bare number."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crawlers.extraction.price import parse_price
from crawlers.parsing import ParseError, parse_book_detail


@pytest.mark.parametrize(("text", "amount", "currency"), [
    ("£1.2k", "1200", "GBP"),  # price-parser reads 1.2
    ("$3.5K", "3500", "USD"),
    ("€2,5 Tsd.", "2500", "EUR"),
    ("2,5 Tsd. €", "2500", "EUR"),
    ("1,2 k€", "1200", "EUR"),  # the letter glued to the currency after it
    ("€3 Mio.", "3000000", "EUR"),
    ("$1.5M", "1500000", "USD"),
    ("£2.4m", "2400000", "GBP"),
    ("$2bn", "2000000000", "USD"),
    ("CHF 1,25 Mrd.", "1250000000", "CHF"),
    ("1.2万円", "12000", "JPY"),
    ("$5k-$10k", "5000", "USD"),  # a range gives its low end, as without a magnitude
    ("Was £2k now £1.5k", "1500", "GBP"),
    ("$1.5k/month", "1500", "USD"),  # k names no unit: before "/" it still scales (1.5 before)
    ("$2.5M/yr", "2500000", "USD"),
    ("₹1.5 lakh", "150000", "INR"),  # Indian magnitudes: 1.5 before, 100,000× too low
    ("Rs 2.5 crore", "25000000", "INR"),
    ("$1 trillion", "1000000000000", "USD"),
    ("$5 Mn", "5000000", "USD"),
    ("1.2万元", "12000", "CNY"),  # the currency after the magnitude: lost before
    ("1.5 Tausend Euro", "1500", "EUR"),
    ("1.2 K USD", "1200", "USD"),  # a spaced letter, a currency a space after it: 1.2 before
    ("5 M EUR", "5000000", "EUR"),
])
def test_a_magnitude_beside_a_currency_scales_the_amount(text, amount, currency):
    parsed = parse_price(text)
    assert (parsed.amount, parsed.currency) == (Decimal(amount), currency)


@pytest.mark.parametrize("text", [
    "5K",  # kyat (K) or 5,000: no other currency tells
    "1.2k",
    "10K gold ring $199",  # the first number priced by "K" alone: 10, read before, was no price either
])
def test_a_letter_that_may_be_a_currency_or_a_magnitude_gives_no_amount(text):
    assert parse_price(text).amount is None


@pytest.mark.parametrize(("text", "amount"), [
    ("£3.50 per m²", "3.50"), ("£3.50/m", "3.50"), ("€12 Kabel 1,5m", "12"),  # a length, not millions
    ("€5m/s", "5"), ("$12.50 2kg", "12.50"), ("$12 m long", "12"), ("€5 k 2", "5"), ("$5 m 3", "5"),
    ("$5 K-Cups", "5"), ("£10 Kindle edition", "10"), ("€9.99", "9.99"), ("¥1,200", "1200"),
])
def test_a_letter_that_is_no_magnitude_leaves_the_amount(text, amount):
    assert parse_price(text).amount == Decimal(amount)


@pytest.mark.parametrize(("text", "amount"), [
    ("$12.99 5k sold", "12.99"),  # a count after the price: 12,995,000 before (12.99 5 read as one number)
    ("£9.99 2K+ bought in past month", "9.99"),
    ("$12.99 2 k", "12.99"),
    ("$20 3M tape", "20"),  # 203,000,000 before: "20 3" was read as one number
    ("£15 2k sold", "15"),
    ("$20 3 pack", "20"),  # 203 before
    ("$20 250k sold", "20"), ("$20 250 k sold", "20"),  # 20,250,000 before: a count of three digits
    ("3 100р.", "3100"), ("1 299 k€", "1299000"),  # a group of thousands still joins
    ("1 299 k EUR", "1299000"),
])
def test_a_count_with_a_magnitude_after_a_price_leaves_the_price(text, amount):
    assert parse_price(text).amount == Decimal(amount)


def test_a_magnitude_written_twice_scales_once():
    assert parse_price("5 Mio. Mio. €").amount == Decimal(5_000_000)


def test_a_book_page_priced_with_an_unreadable_magnitude_says_why():
    page = ('<html><body><div class="product_main"><h1>A book</h1><p class="price_color">5K</p></div>'
            "</body></html>")
    with pytest.raises(ParseError, match=r"^no price \(5K: K may be a currency or a thousand\)$"):
        parse_book_detail(page, "http://shop.test/p/1")
