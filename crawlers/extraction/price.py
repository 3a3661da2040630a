"""Price strings → amount (Decimal) and currency (ISO-4217): the project's one price parser.

price-parser (``Price.fromstring``) does the reading; this module adds what it lacks, each step
only where price-parser found nothing or found less:

* a currency only where it stands as a word: price-parser finds ``"DA"`` (Algerian dinar) in
  ``"365 EVERYDAY VALUE"``;
* currency spellings it does not know (:data:`crawlers.extraction.currencies.EXTRA_SYMBOLS`:
  ``"2000 zl"``, ``"22000.00元/台"``, ``"R273.00"``) and longer forms of a symbol it cut short
  (``"US $1.23"`` → ``US $``, not ``$``; ``"CAN$1.23"`` → ``CAN$``, not ``N$``);
* a magnitude after the number (:mod:`.magnitudes`: ``"£1.2k"`` → 1200, ``"€2,5 Tsd."`` → 2500; ``"5K"``,
  where K may be the currency, gives no amount);
* in a string with several numbers, the one to pay now (:mod:`.amounts`: ``"Was $20 Now $15"``
  → 15, ``"3 issues for only 14,85 EUR"`` → 14.85) and a minus sign (``"-$5.00"`` → -5.00);
* digits of any script read as ASCII digits and the Arabic separators (U+066C thousands, U+066B
  decimal) as ``,`` and ``.`` (``"١٬٢٣٤٫٥٠ ر.س"`` → 1234.50); invisible format characters dropped
  (``"1\u200b299.00 €"`` → 1299.00); a number in exponent notation (``"1e5 USD"``) is no price;
* ISO-4217 codes for the symbol as written, an ambiguous symbol resolved by the page's country
  (``"$"`` on a ``.ca`` page → CAD; without a country ``"$"`` → USD, see
  :func:`crawlers.extraction.currencies.to_iso`).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from price_parser import Price

from commons.visible_text import VisibleText
from crawlers.extraction.amounts import Amount, current_amount, is_negative, last_cue
from crawlers.extraction.currencies import (
    EXTRA_SYMBOLS, THREE_DECIMALS, currency_candidates, names_no_money, to_iso, without_no_money)
from crawlers.extraction.free_extras import is_free_price, says_free, without_free_extras
from crawlers.extraction.magnitudes import Magnitude, magnitude_after

# A symbol counts only where it is not glued to letters on either side ("R" in "Rabatt" is no rand).
_BOUNDARY = r"(?<![^\W\d_]){}(?![^\W\d_])"
_NUMBER = re.compile(r"\d[\d\s.,'’]*")
# Shops never write prices as 1e5; price-parser would read such a string as 5 or 1.5.
_EXPONENT = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*[eE][+-]?\d+(?!\w)")
_ARABIC_SEPARATORS = str.maketrans({"\u066c": ",", "\u066b": "."})
# A group of thousands never starts with 0, so "0.999" and "0,500" hold a decimal separator;
# price-parser reads any separator before three digits as grouping (999, 500).
_LEADING_ZERO = re.compile(r"(?<![\d.,'’])0([.,])\d{3}(?![\d.,'’])")
# A number whose last separator, before three digits, is its only one or differs from those
# before it ("12.500", "1,250.500"): where the currency has thousandths, that is the decimal mark.
_THOUSANDTHS = re.compile(r"(?<![\d.,'’])\d{1,3}(?:([,'’ ])\d{3})*(\.)\d{3}(?![\d.,'’])"
                          r"|(?<![\d.,'’])\d{1,3}(?:([.'’ ])\d{3})*(,)\d{3}(?![\d.,'’])")


MAX_NUMBER_CHARS = 40
"""A run of digits and separators longer than this is no price (a list of numbers, a code, a
table flattened to text: "1 1 1 …"); price-parser's scan of one is quadratic in its length."""

WINDOW_REACH = 100
"""Characters of the chosen number's window kept on each side of it for price-parser, which is
quadratic in the length of a text of separators ("1" + ", " * 20,000 + "2 €" took 13 s): a
currency symbol or code stands beside its number."""


class ParsedPrice(NamedTuple):
    """A parsed price string.

    Attributes:
        amount: the amount in currency units (not cents), or None when the text holds no price.
        currency: ISO-4217 code, or None when neither the text nor the hint names a currency.
        currency_raw: the currency as written in the text (or the hint), e.g. ``"руб."``.
    """

    amount: Decimal | None
    currency: str | None
    currency_raw: str | None


def parse_price(text: str | None, currency_hint: str | None = None,
                decimal_separator: str | None = None, country: str | None = None) -> ParsedPrice:
    """Read an amount and its currency from a price string.

    Args:
        text: the price as shown, e.g. ``"£51.77"``, ``"1.234,56 €"``, ``"CHF 1'234.50"``.
        currency_hint: a second string from the page naming the currency (a currency element,
            an ISO code from structured data), used when ``text`` names none or names an
            ambiguous symbol the hint's currency can be written with (``"$"`` and CAD).
        decimal_separator: ``"."`` or ``","`` when the page's locale is known, else None (then
            price-parser guesses from the digits).
        country: ISO-3166 alpha-2 country of the page, resolving ambiguous symbols.

    Returns:
        :class:`ParsedPrice`; all fields None for empty text or a number longer than
        :data:`MAX_NUMBER_CHARS` characters; no amount for a note of what else comes free
        (:mod:`.free_extras`: "Free shipping", "Versand kostenlos", "送料無料") or for a word that
        holds "free" ("Freedom", "Gluten free"); 0 for a free product ("Free!", "Gratis", "Preis:
        kostenlos", "無料") and for a free word beside only a former price ("Free (was $9.99)");
        an amount scaled by a magnitude written after it (``"£1.2k"`` → 1200), none where that
        magnitude is a letter that may be the currency (``"5K"``: :func:`no_amount_reason` says so);
        no currency from a code of :data:`~crawlers.extraction.currencies.NOT_MONEY` ("XXX"); a
        negative amount for a price written with a minus (``"-$5.00"``, a refund or discount line).
        Never raises on odd input.
    """
    return _parsed(without_free_extras(_normalised(text or "")) or "", currency_hint, decimal_separator, country,
                   scale=True)


def _parsed(text: str, currency_hint: str | None, decimal_separator: str | None, country: str | None,
            scale: bool) -> ParsedPrice:
    """:func:`parse_price` of ``text``, already normalised and without its free extras; a magnitude after the
    chosen number is cut out and the rest read again unscaled (``scale=False``), then the amount scaled: the
    currency after a magnitude ("1.2万元", "1.5 Tausend Euro") is then beside the number, as price-parser wants."""
    if _EXPONENT.search(text):
        return ParsedPrice(None, None, None)
    # A code of no money still marks the number beside it as the one priced ("gold XAU 2,350").
    chosen = current_amount(text, lambda s: bool(currency_candidates(s)) or names_no_money(s))
    if chosen and chosen.end - chosen.start > MAX_NUMBER_CHARS:
        return ParsedPrice(None, None, None)
    if scale and (magnitude := _magnitude(text, chosen)) is not None:
        if magnitude.exponent is None:
            return ParsedPrice(None, None, None)
        unscaled = _parsed(text[:chosen.end] + text[magnitude.end:], currency_hint, decimal_separator, country,
                           scale=False)
        if unscaled.amount is None:
            return unscaled
        return unscaled._replace(amount=_scaled(unscaled.amount, magnitude.exponent))
    # The chosen number's own stretch of text, so price-parser reads that number and the
    # currency beside it; the whole text still names the currency when that stretch does not.
    own = text[slice(*_currency_side(text, chosen.start, chosen.end,
                                     max(chosen.window[0], chosen.start - WINDOW_REACH),
                                     min(chosen.window[1], chosen.end + WINDOW_REACH)))] if chosen else text
    if decimal_separator is None and (zero := _LEADING_ZERO.search(own)):
        decimal_separator = zero.group(1)
    price = Price.fromstring(own, currency_hint=currency_hint,
                             decimal_separator=decimal_separator)
    found = _money_symbol(own, price.currency)
    raw = _widen_symbol(own, found) if found else None
    if raw and raw.isascii() and raw.isalpha() and raw in own \
            and not re.search(_BOUNDARY.format(re.escape(raw)), own):
        # price-parser matches codes inside words ("DA" in "EVERYDAY"); stems of a currency word
        # in another script ("руб" in "рублей") are real.
        raw = None
    if raw is None:
        raw = _extra_symbol(own) or _whole_text_currency(text, own) or (
            _extra_symbol(currency_hint) if currency_hint else None)
    # Without a number, price-parser's 0 for "free" anywhere ("Freedom", "Gluten free") is taken only
    # for a free product's price, which it does not find in other languages ("Gratis", "無料").
    amount = price.amount if chosen else (Decimal(0) if is_free_price(text) else None)
    if amount is not None and chosen and is_negative(text, chosen):
        amount = -amount
    if chosen and says_free(text) and last_cue(text[chosen.window[0]:chosen.start].lower()) == "former":
        amount = Decimal(0)  # "Free (was $9.99)": the only number is the price it had
    code = to_iso(raw, country)
    if raw and currency_hint and len(currency_candidates(raw)) > 1:
        # An ambiguous symbol ("$", "kr") takes the currency the hint names, if it can be that one
        # ("10 $" with CAD, "kr 99" with NOK; a page's priceCurrency CLP beside "$3.340").
        hinted = to_iso(currency_hint, country)
        code = hinted if hinted in currency_candidates(raw) else code
    if (code or to_iso(currency_hint, country)) in THREE_DECIMALS and decimal_separator is None \
            and (mark := _THOUSANDTHS.search(own)):
        # One separator before three digits is the decimal mark where the currency has
        # thousandths ("12.500 KD" is 12.5); price-parser reads it as grouping (12500).
        amount = Price.fromstring(own, decimal_separator=mark.group(2) or mark.group(4)).amount
        amount = -amount if amount is not None and chosen and is_negative(text, chosen) else amount
    return ParsedPrice(amount, code, raw)


def no_amount_reason(text: str | None) -> str:
    """Why :func:`parse_price` reads no amount in ``text``, as a quarantine reason: ``"no price (5K: K may be
    a currency or a thousand)"`` for a magnitude letter that may be the currency, else ``"no price"``."""
    text = without_free_extras(_normalised(text or "")) or ""
    chosen = current_amount(text, lambda s: bool(currency_candidates(s)))
    magnitude = _magnitude(text, chosen)
    if chosen and magnitude is not None and magnitude.exponent is None:
        return f"no price ({magnitude.refusal(text[chosen.start:chosen.end])})"
    return "no price"


def _magnitude(text: str, chosen: Amount | None) -> Magnitude | None:
    """The magnitude written after the chosen number, if any."""
    if chosen is None:
        return None
    return magnitude_after(text, chosen.start, chosen.end, lambda s: bool(currency_candidates(s)))


def _scaled(amount: Decimal, exponent: int) -> Decimal:
    """``amount`` × 10^``exponent``, written without an exponent ("1200", not "1.2E+3")."""
    scaled = amount.scaleb(exponent)
    return scaled.quantize(Decimal(1)) if scaled == scaled.to_integral_value() else scaled.normalize()


def _normalised(text: str) -> str:
    """Visible characters only, with decimal digits of every script as ASCII digits."""
    text = VisibleText(text).text
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch
                   for ch in text.translate(_ARABIC_SEPARATORS))


def _currency_side(text: str, start: int, end: int, lo: int, hi: int) -> tuple[int, int]:
    """``(lo, hi)``, the stretch around the number ``text[start:end]``, cut to the side whose
    currency stands nearer the number when the sides name different ones: "USD 10 / EUR 9" is 10 USD and
    "10 € (12 $)" is 12 USD (price-parser takes the first symbol of the stretch, EUR and €)."""
    before, after = text[lo:start], text[end:hi]
    left = _money_symbol(before, Price.fromstring(before).currency)
    right = _money_symbol(after, Price.fromstring(after).currency) if left else None
    if not left or not right or currency_candidates(left) & currency_candidates(right):
        return lo, hi  # one currency, or one side narrows the other ("$1,190.00 AUD")
    gap_before = len(before) - before.rfind(left) - len(left)
    return (start, hi) if after.find(right) < gap_before else (lo, end)


def _whole_text_currency(text: str, own: str) -> str | None:
    """The currency the whole string names, when the chosen number's stretch names none
    (``"EUR 10 – 20"``: the second number's stretch is "– 20")."""
    if own == text:
        return None
    found = _money_symbol(text, Price.fromstring(text).currency)
    return (_widen_symbol(text, found) if found else None) or _extra_symbol(text)


def _money_symbol(text: str, found: str | None) -> str | None:
    """price-parser's currency ``found`` in ``text``, or when that spells a code of no money
    ("XAG 25.00 USD"), the one it finds past such codes (None if none)."""
    if found and names_no_money(found):
        found = Price.fromstring(without_no_money(text)).currency
    return None if not found or names_no_money(found) else found


def _widen_symbol(text: str, found: str) -> str:
    """The longest known symbol in ``text`` that covers price-parser's match at its place."""
    start = text.find(found)
    if start < 0:
        return found
    best = found
    for symbol, alone, _, _ in _symbol_patterns():
        if len(symbol) <= len(best):
            continue
        for match in alone.finditer(text):
            if match.start() <= start and match.end() >= start + len(found):
                best = symbol
    return best


def _extra_symbol(text: str) -> str | None:
    """A symbol price-parser does not know, standing alone or right beside a number."""
    stripped = _NUMBER.sub(" ", text).strip(" \t\r\n~:()[]*+/|-–.,")
    if stripped and currency_candidates(stripped):
        return stripped
    for symbol, _, before, after in _symbol_patterns():
        if before.search(text) or after.search(text):
            return symbol
    return None


@lru_cache(maxsize=1)
def _symbol_patterns() -> list[tuple[str, re.Pattern[str], re.Pattern[str], re.Pattern[str]]]:
    """Per extra symbol, longest first: compiled once (hundreds of patterns overflow ``re``'s
    own cache): the symbol alone, before a number, after a number."""
    patterns = []
    for symbol in sorted(EXTRA_SYMBOLS, key=len, reverse=True):
        alone = _BOUNDARY.format(re.escape(symbol))
        patterns.append((symbol, re.compile(alone), re.compile(alone + r"\s?\d"),
                         re.compile(r"\d\s?" + alone)))
    return patterns
