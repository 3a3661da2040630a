"""A free product's price in several languages is 0; a note that shipping (or a gift) comes free is no price, and
the real price beside it stays the price."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crawlers.extraction.price import parse_price


@pytest.mark.parametrize("text", [
    "Free", "FREE!", "Price: Free", "Free download", "Gratis", "Gratis!", "Kostenlos", "Preis: kostenlos",
    "Gratuit", "Gratuito", "無料", "価格：無料", "免费", "무료", "Бесплатно", "Now FREE", "Jetzt gratis", "Today: free",
    "Gratis (statt 9,99 €)",  # beside only the price it had, as "Free (was $9.99)"
    "無料 (通常 1,000円)",  # 1000 before: "通常" (regular price) was no former-price cue
])
def test_a_free_product_costs_0(text):
    assert parse_price(text).amount == Decimal(0)


@pytest.mark.parametrize("text", [
    "Kostenloser Versand", "Versand kostenlos", "Gratis Versand", "versandkostenfrei", "Livraison gratuite",
    "Envío gratis", "Spedizione gratuita", "Gratis verzending", "送料無料", "包邮", "무료배송", "Бесплатная доставка",
    # A word that holds "free", or says what a product is free of, is no price at all.
    "Freedom", "Carefree", "Gluten free", "Sugar-free", "Duty free",
    # A free word that starts a compound or a name is no price: both were 0 before.
    "Free-range eggs", "Free People",
])
def test_a_free_extra_or_a_word_holding_free_is_no_price(text):
    assert parse_price(text).amount is None


@pytest.mark.parametrize(("text", "amount", "currency"), [
    ("Gratis Versand 19,99 €", "19.99", "EUR"), ("19,99 € Versand kostenlos", "19.99", "EUR"),
    ("¥1,200 送料無料", "1200", "JPY"), ("1 200 ₽ Бесплатная доставка", "1200", "RUB"),
    ("29,90 € Livraison gratuite", "29.90", "EUR"), ("$19.99 Free shipping", "19.99", "USD"),
    ("Gluten free £3.49", "3.49", "GBP"),
])
def test_a_real_price_beside_free_shipping_stays_the_price(text, amount, currency):
    parsed = parse_price(text)
    assert (parsed.amount, parsed.currency) == (Decimal(amount), currency)
