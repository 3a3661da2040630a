"""The price parser on price-parser's own cases, its currency set, and locale round trips."""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawlers.extraction.currencies import to_iso
from crawlers.extraction.price import parse_price

# Reported in the task report; the test keeps the count from sliding back.
XFAIL_PASSED = 69
CURRENCY_EVAL_CORRECT = 101


@pytest.fixture(scope="module")
def bench():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "price_strings.py"
    spec = importlib.util.spec_from_file_location("price_strings_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_case_the_library_passes_passes(bench, data_dir):
    cases = [c for c in bench.load_cases(data_dir) if c["expected_to_pass_in_price_parser"]]
    failing = [c["price_raw"] for c in cases if not bench.case_passes(c)]
    assert len(cases) > 700
    assert failing == []


def test_xfail_cases_passed(bench, data_dir):
    passed, total = bench.case_counts(data_dir)["xfail"]
    assert total > 80
    assert passed >= XFAIL_PASSED


def test_currency_eval(bench, data_dir):
    correct, total = bench.currency_accuracy(data_dir)
    assert total == 116
    assert correct >= CURRENCY_EVAL_CORRECT


@pytest.mark.parametrize(("text", "country", "amount", "currency"), [
    ("US $1.23", None, "1.23", "USD"),
    ("CAN$1.23", None, "1.23", "CAD"),
    ("2000 zl", None, "2000", "PLN"),
    ("22000.00元/台", "TW", "22000.00", "TWD"),
    ("22000.00元/台", None, "22000.00", "CNY"),
    ("$24.990", "CL", "24990", "CLP"),
    ("$1,234.50", "CA", "1234.50", "CAD"),
    ("44 890 тг.", None, "44890", "KZT"),
    ("1 099 kr", "SE", "1099", "SEK"),
    ("Rs 100", None, "100", "INR"),  # the dominant reading (DEFAULT_FOR_SYMBOL)
    ("Rs 100", "PK", "100", "PKR"),
])
def test_symbols_resolve_with_the_page_country(text, country, amount, currency):
    separator = "," if country == "CL" else None
    parsed = parse_price(text, decimal_separator=separator, country=country)
    assert parsed.amount == Decimal(amount)
    assert parsed.currency == currency


def test_ambiguous_kr_stays_unresolved_without_a_country():
    assert to_iso("kr") is None
    assert to_iso("kr", "NO") == "NOK"


def _group(digits: str, sep: str) -> str:
    head = len(digits) % 3 or 3
    return sep.join([digits[:head], *(digits[i:i + 3] for i in range(head, len(digits), 3))])


def _format(amount: Decimal, style: str) -> str:
    units, cents = f"{amount:.2f}".split(".")
    if style == "en_code":
        return f"{_group(units, ',')}.{cents} USD"
    if style == "en_dollar":
        return f"${_group(units, ',')}.{cents}"
    if style == "de_euro":
        return f"{_group(units, '.')},{cents} €"
    if style == "ie_euro":
        return f"€{_group(units, ',')}.{cents}"
    if style == "gb_pound":
        return f"£{_group(units, ',')}.{cents}"
    if style == "pl_zloty":
        return f"{_group(units, ' ')},{cents} zł"
    if style == "ch_franc":
        return f"CHF {_group(units, chr(39))}.{cents}"
    if style == "br_real":
        return f"R$ {_group(units, '.')},{cents}"
    if style == "ru_rouble":
        return f"{_group(units, chr(160))},{cents} руб."
    raise AssertionError(style)


STYLES = {"en_code": "USD", "en_dollar": "USD", "de_euro": "EUR", "ie_euro": "EUR",
          "gb_pound": "GBP", "pl_zloty": "PLN", "ch_franc": "CHF", "br_real": "BRL",
          "ru_rouble": "RUB"}
AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999.99"), places=2,
                      allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(amount=AMOUNTS, style=st.sampled_from(sorted(STYLES)))
def test_formatted_prices_round_trip(amount, style):
    parsed = parse_price(_format(amount, style))
    assert parsed.amount == amount
    assert parsed.currency == STYLES[style]


@settings(max_examples=200, deadline=None)
@given(units=st.integers(min_value=1, max_value=99_999_999))
def test_yen_without_decimals_round_trips(units):
    parsed = parse_price(f"¥{_group(str(units), ',')}")
    assert parsed.amount == Decimal(units)
    assert parsed.currency == "JPY"


@pytest.mark.parametrize(("text", "amount"), [
    ("0.999", "0.999"),  # price-parser alone reads 999
    ("0,500 €", "0.500"),
    ("$0.129 per kWh", "0.129"),
    ("10.000", "10000"),  # no leading zero: grouping, as before
    ("1.000,50 €", "1000.50"),
])
def test_a_leading_zero_makes_the_separator_decimal(text, amount):
    assert parse_price(text).amount == Decimal(amount)


@pytest.mark.parametrize(("text", "hint", "amount", "currency"), [
    # ISO 4217 minor unit 3: the dinars' shops write thousandths
    ("KWD 12.500", None, "12.500", "KWD"), ("12.500 KD", None, "12.500", "KWD"),
    ("KWD 1,250.500", None, "1250.500", "KWD"), ("TND 12,500", None, "12.500", "TND"),
    ("12.500", "KWD", "12.500", "KWD"),
    # two decimals elsewhere: a group of thousands, as before
    ("EUR 12.500", None, "12500", "EUR"),
])
def test_three_decimal_currencies_read_thousandths(text, hint, amount, currency):
    parsed = parse_price(text, hint)
    assert (parsed.amount, parsed.currency) == (Decimal(amount), currency)



@pytest.mark.parametrize(("text", "amount", "currency"), [
    ("Free shipping", None, None),  # what else comes free: no price of 0
    ("FREE DELIVERY", None, None),
    ("Free gift with purchase", None, None),
    ("Free express shipping", None, None),
    ("Shipping: Free", None, None),
    ("FreeShipping", None, None),
    ("Free 30-day trial", None, None),  # a number inside the note is no price
    ("free returns within 30 days", None, None),
    ("Free shipping over $50", None, None),
    ("Free shipping ①", None, None),  # no decimal digit left
    ("Free shipping to the lower 48 states", None, None),  # an area is no price
    ("Free shipping on orders of 2+ items", None, None),
    ("$12.99 Free shipping on orders of $35 or more", "12.99", "USD"),
    ("Free shipping on orders of $35 or more to the lower 48 states", None, None),  # qualifiers in a row
    ("Shipping: Free to the lower 48 states", None, None),
    ("Free 2-day express shipping", None, None),
    ("Free delivery to all 48 states - $24.99", "24.99", "USD"),  # a separating dash is no minus
    ("Free shipping to Canada 19.99 CAD", "19.99", "CAD"),  # a place is no area: the price stays whole
    ("Free delivery to Germany 24,50 €", "24.50", "EUR"),
    ("Free shipping to USA 1,299.00", "1299.00", None),
    ("Free!", "0", None),  # the product itself is free (price-parser's own case)
    ("Free! Free shipping", "0", None),
    ("FREE\nFree delivery", "0", None),
    ("£5.00 Free shipping", "5.00", "GBP"),
    ("$19.99 Free 2-day shipping", "19.99", "USD"),
    ("Free (was $9.99)", "0", "USD"),  # a free product beside the price it had
    ("was £9.99 now FREE", "0", "GBP"),
])
def test_free_extras_are_no_price(text, amount, currency):
    parsed = parse_price(text)
    assert parsed.amount == (None if amount is None else Decimal(amount))
    assert parsed.currency == currency


@pytest.mark.parametrize(("text", "amount"), [
    ("free" + "-" * 20_000 + "x", 0), ("Free\n" + "-" * 20_000 + "\nSee details", 0),
    ("free-" + "ab-" * 7_000, None),  # a compound the free word starts ("Free-range") is no price
    ("shipping" + " " * 20_000 + "x", None), ("free " * 5_000, 0),
    # price-parser's own scan was quadratic in a window of separators (13 s): it reads the number's
    # neighbourhood (WINDOW_REACH) only.
    ("1" + ", " * 20_000 + "2 €", 2), ("$" + ". " * 20_000 + "5", 5),
])
@pytest.mark.timeout(60)
def test_a_long_run_of_separators_or_words_is_read_in_one_pass(text, amount):
    # Each was quadratic or worse (20,000 dashes ran for minutes); now a pass over the text.
    assert parse_price(text).amount == amount


def test_a_free_extra_keeps_the_hinted_currency():
    assert parse_price("Free shipping", "USD") == (None, "USD", "USD")


@pytest.mark.parametrize(("text", "amount", "currency"), [
    ("XXX", None, None),  # ISO 4217: "no currency"
    ("10 XXX", "10", None),
    ("XTS 5", "5", None),  # reserved for testing
    ("1 oz gold XAU 2,350.00", "2350.00", None),  # the metal still marks the priced number
    ("XAG 25.00 USD", "25.00", "USD"),  # a real currency past a metal's code
    ("XAU/USD 2,350.00", "2350.00", "USD"),
    ("Sucre 2,50 CAD", "2.50", "CAD"),  # XSU's symbol, and French for sugar
])
def test_codes_that_name_no_money_give_no_currency(text, amount, currency):
    parsed = parse_price(text)
    assert parsed.amount == (None if amount is None else Decimal(amount))
    assert parsed.currency == currency
    assert to_iso("XXX") is None


@pytest.mark.parametrize(("text", "amount", "currency"), [
    ("USD 10 / EUR 9", "10", "USD"), ("10 € (12 $)", "12", "USD"),  # price-parser took the first symbol
    ("$1,190.00 AUD", "1190.00", "AUD"), ("€10 ($12)", "10", "EUR"),
])
def test_the_currency_nearer_the_chosen_number_is_its_currency(text, amount, currency):
    parsed = parse_price(text)
    assert (parsed.amount, parsed.currency) == (Decimal(amount), currency)

