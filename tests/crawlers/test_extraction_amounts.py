"""Price strings holding several numbers or a sign: which amount the parser reads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crawlers.extraction.price import parse_price


@pytest.mark.parametrize(("text", "amount", "currency"), [
    # sign glued to the symbol, to the number, after an ISO code; U+2212 MINUS SIGN too
    ("-$5.00", "-5.00", "USD"), ("$-5.00", "-5.00", "USD"), ("−5,00 €", "-5.00", "EUR"),
    # A symbol past "," in code points before the sign ("£", "€"): the sign was once read as absent.
    ("£-5.00", "-5.00", "GBP"), ("€-5,00", "-5.00", "EUR"),
    ("USD -5.00", "-5.00", "USD"),
    # a dash between words or numbers is no sign
    ("Wi-Fi dongle – 99 ₪", "99", "ILS"), ("10-20 €", "10", "EUR"),
    # former-price cues lose to current ones, whichever comes first
    ("Was $20 Now $15", "15", "USD"), ("Now £15 Was £20", "15", "GBP"),
    ("Save $5 now $15", "15", "USD"), ("statt 49,99 € jetzt 39,99 €", "39.99", "EUR"),
    ("van €20 voor €15", "15", "EUR"),
    ("通常価格 1,000円 特価 800円", "800", "JPY"),  # Japanese regular and sale price: 1000 before
    # the amount beside the currency, not a count or a discount rate
    ("3 issues for only 14,85 EUR", "14.85", "EUR"), ("2-pack 9.99 $", "9.99", "USD"),
    ("-20% 15,99 €", "15.99", "EUR"),
    # a symbol between two numbers goes with the one it touches: a count or a name before it
    ("Pack of 3 $12.99", "12.99", "USD"), ("Mug 7\n$24.50", "24.50", "USD"),
    ("12.99$ 3 pcs", "12.99", "USD"),
    # one price in pieces stays one price
    ("35€ 99", "35.99", "EUR"), ("1 299 Kč", "1299", "CZK"),
    # a range: its low end, with the currency written at the other end
    ("From 26 to 50 €", "26", "EUR"),
    # a currency code inside a word is none
    ("365 EVERYDAY VALUE", "365", None), ("360 LD", "360", "LYD"),
])
def test_the_amount_to_pay(text, amount, currency):
    parsed = parse_price(text)
    assert (parsed.amount, parsed.currency) == (Decimal(amount), currency)


@pytest.mark.parametrize(("text", "amount", "currency"), [
    # digits of other scripts, Arabic thousands (U+066C) and decimal (U+066B) separators
    ("\u0661\u066c\u0662\u0663\u0664\u066b\u0665\u0660 ر.س", "1234.50", "SAR"),
    ("1\u066c234\u066b50 SAR", "1234.50", "SAR"),
    ("\u0967,\u0968\u0969\u096a रु", "1234", "NPR"),
    # invisible characters inside the number are not separators
    ("1\u200b299.00 €", "1299.00", "EUR"), ("\ufeff£51.77", "51.77", "GBP"),
])
def test_numbers_a_reader_sees(text, amount, currency):
    parsed = parse_price(text)
    assert (parsed.amount, parsed.currency) == (Decimal(amount), currency)


@pytest.mark.parametrize("text", ["1e5 USD", "$1,5e3", "2.5E+2 €"])
def test_exponent_notation_is_no_price(text):
    assert parse_price(text).amount is None


def test_a_model_code_with_e_keeps_the_price():
    assert parse_price("Galaxy S10e $499").amount == Decimal("499")


@pytest.mark.parametrize("text", ["1 " * 5000 + "€", "1" * 41 + " €", "1," * 30 + " €"])
def test_a_number_longer_than_any_price_is_none(text):
    """A flattened table or list of numbers: no price (price-parser's scan of one is quadratic)."""
    assert parse_price(text) == (None, None, None)


def test_a_long_price_with_every_separator_is_still_read():
    assert parse_price("1.234.567.890,12 €") == (Decimal("1234567890.12"), "EUR", "€")
    assert parse_price("12.99" + " " * 60 + "€").amount == Decimal("12.99")
