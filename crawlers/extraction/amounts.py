"""Which number in a price string is the price: the amount to pay now, and its sign.

A shown price string often holds more than one number: ``"Was $20 Now $15"``, ``"3 issues for
only 14,85 EUR"``, ``"-20% 15,99 €"``, ``"2-pack 9.99 $"``. price-parser reads the first number;
:func:`current_amount` instead picks the number a shopper pays, by what is written around each
number:

1. not a percentage (a discount rate, not a price);
2. not after a *former-price* cue ("was", "statt", "avant", "RRP", "save"…): the last cue between
   the previous number and this one decides, so "was $20, now $15" gives the second;
3. a currency written right beside it (the price, not a count like "3 issues");
4. after a *current-price* cue ("now", "only", "jetzt", "seulement"…);
5. else the first such number (a range "€10 – €20" gives its low end, as shops mean "from";
   the ends of a range, "From 26 to 50 €", share the currency written at either end).

Two numbers with only a currency between them and two digits after it are one price written
with the symbol as decimal mark (``"35€ 99"``) and stay whole.

:func:`is_negative` reads a minus sign glued to the amount or to its currency (``"-$5.00"``,
``"$-5.00"``, ``"−5,00 €"``), which price-parser drops; a dash between words or numbers
("Wi-Fi – 99 ₪", "10-20 €") is no sign.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# A number: digits with the grouping/decimal marks shops use. Digits apart only by spaces stay
# one number ("1 299", and "173 34" from "173<sup>34</sup>"): price-parser reads those itself. Not
# after a decimal part of one or two digits, which ends a price ("$12.99 5k sold" is 12.99, not
# 12,995 scaled by the k to 12,995,000), nor a group other than thousands or those cents before a
# letter, a count with its magnitude or its word ("$20 3M tape" is 20, not 203,000,000; "$20 3 pack"). A group
# of thousands with a magnitude letter and then a word is a count too ("$20 250k sold" is 20), but not before a
# currency sign or code ("1 299 k€", "1 299 k EUR").
_JOINED = r"\d{2,3}(?!\d)(?!\s?[kKmM]\+?\s+(?![A-Z]{3}(?![^\W\d_]))[^\W\d_])|\d+(?![\d.,'’]*\s?[^\W\d_])"
_NUMBER = re.compile(rf"\d(?:[\d.,'’]|(?<![.,]\d)(?<![.,]\d\d)\s+(?={_JOINED}))*")
# A currency glued to a number: a symbol (no letters, no digits) or a short word ("EUR", "zł",
# "Kn", "руб.") within one space. Validated against the currency table by the caller.
_BEFORE_CURRENCY = re.compile(r"(\S{1,5})\s?$")
_AFTER_CURRENCY = re.compile(r"^\s?([^\s\d]{1,5})")
# Cues, lower case. Latin-script cues match on word boundaries, CJK/Hangul as substrings.
FORMER_CUES = ("was", "before", "previously", "old price", "orig", "original", "originally",
               "list price", "regular", "reg.", "rrp", "msrp", "compare at", "save", "you save",
               "statt", "vorher", "bisher", "uvp", "ursprünglich", "sparen", "avant",
               "au lieu de", "prix barré", "économisez", "antes", "ahorra", "ahorras", "era",
               "prima", "invece di", "risparmi", "van", "było", "zamiast", "oszczędzasz", "bylo",
               "původně", "было", "старая цена", "экономия",
               "原价", "原價", "定価", "정가", "建議售價", "建议售价", "市價", "市价", "參考價",
               "参考价", "メーカー希望小売価格", "参考価格", "通常価格", "通常", "السعر القديم", "מחיר קודם")
CURRENT_CUES = ("now", "only", "sale", "today", "just", "our price", "jetzt", "nur", "nun",
                "seulement", "maintenant", "ahora", "solo", "sólo", "ora", "nu", "voor", "teraz",
                "tylko", "сейчас", "только", "现价", "現價", "特价", "特價", "售价", "售價",
                "優惠價", "优惠价", "販売価格", "特価", "税込",
                "판매가", "السعر الآن", "עכשיו", "רק")
_MINUS = "-−"
# What joins the two ends of a range ("10-20", "From 26 to 50", "10 bis 20", "10 à 20").
_RANGE = re.compile(r"^\s*(?:[-–—~〜]|to|bis|à|a|al|do|до|tot|till)\s*(\S{0,5})\s*$", re.I)


class Amount(NamedTuple):
    """A number found in a price string.

    Attributes:
        start: index of its first digit in the text.
        end: index after its last digit or mark.
        window: the text from the previous number (or the start) to the next one (or the end):
            what price-parser reads for this amount and its currency.
    """

    start: int
    end: int
    window: tuple[int, int]


def numbers(text: str) -> list[Amount]:
    """Every number in ``text``, in order, with the window of text that belongs to it."""
    spans: list[tuple[int, int]] = []
    for match in _NUMBER.finditer(text):
        between = text[spans[-1][1]:match.start()] if spans else ""
        if spans and re.fullmatch(r"\s*[^\w\s]{1,3}\s*", between) \
                and re.fullmatch(r"\d\d", match.group(0)):
            spans[-1] = (spans[-1][0], match.end())  # "35€ 99": the sign is the decimal mark
        else:
            spans.append((match.start(), match.end()))
    found = []
    for i, (start, end) in enumerate(spans):
        lo = spans[i - 1][1] if i else 0
        hi = spans[i + 1][0] if i + 1 < len(spans) else len(text)
        found.append(Amount(start, end, (lo, hi)))
    return found


def priced_numbers(text: str, is_currency) -> list[Amount]:
    """The numbers in ``text`` with a currency written right beside them.

    Args:
        text: any short text.
        is_currency: predicate on a short string (``"$"``, ``"EUR"``): a known currency.
    """
    found = numbers(text)
    return [a for a, priced in zip(found, _currency_beside(text, found, is_currency)) if priced]


def _currency_beside(text: str, found: list[Amount], is_currency) -> list[bool]:
    """Whether each number has a currency glued to it. A symbol between two numbers belongs to
    the one it touches when a space parts it from the other: "Pack of 3 $12.99" prices 12.99,
    "12.99$ 3 pcs" prices 12.99; with spaces on both sides ("10 € 20 €") it stays with both."""
    glued = [_glued_currency(text, a, is_currency) for a in found]
    for i in range(len(found) - 1):
        between = text[found[i].end:found[i + 1].start]
        symbol = between.strip()
        if not symbol or not is_currency(symbol) or between[0].isspace() == between[-1].isspace():
            continue
        if between[0].isspace():
            glued[i] = _glued_currency(text[:found[i].end], found[i]._replace(
                window=(found[i].window[0], found[i].end)), is_currency)
        else:
            glued[i + 1] = _glued_currency(text, found[i + 1]._replace(
                window=(found[i + 1].start, found[i + 1].window[1])), is_currency)
    return glued


def current_amount(text: str, is_currency) -> Amount | None:
    """The number in ``text`` that is the price to pay (see the module docstring).

    Args:
        text: a shown price string.
        is_currency: predicate on a short string (``"$"``, ``"EUR"``): a known currency.

    Returns:
        The chosen :class:`Amount`, or None when ``text`` holds no number.
    """
    found = numbers(text)
    if len(found) <= 1:
        return found[0] if found else None

    has_currency = _currency_beside(text, found, is_currency)
    for i in range(len(found) - 2, -1, -1):
        joint = _RANGE.match(text[found[i].end:found[i + 1].start])
        if joint and (not joint.group(1) or is_currency(joint.group(1))):
            has_currency[i] = has_currency[i] or has_currency[i + 1]

    def rank(i: int) -> tuple[bool, bool, bool, bool]:
        amount = found[i]
        percent = text[amount.end:amount.window[1]].lstrip().startswith("%")
        cue = last_cue(text[amount.window[0]:amount.start].lower())
        return (not percent, cue != "former", has_currency[i], cue == "current")

    # max() keeps the first of equals: the earliest number wins ties.
    return found[max(range(len(found)), key=rank)]


def _glued_currency(text: str, amount: Amount, is_currency) -> bool:
    lo, hi = amount.window
    glued = (_BEFORE_CURRENCY.search(text[lo:amount.start]),
             _AFTER_CURRENCY.search(text[amount.end:hi]))
    return any(m and is_currency(m.group(1).strip(_MINUS + ":")) for m in glued)


def is_negative(text: str, amount: Amount) -> bool:
    """True when a minus sign is glued to the amount or to the currency just before it."""
    before = text[amount.window[0]:amount.start]
    # Escaped: inside a class, ",-−" would be the range from "," to "−", "£" and "€" among it.
    minus = re.escape(_MINUS)
    match = re.search(rf"(^|[^\w.,{minus}])[{minus}]\s?(\S{{0,4}}?)\s?$", before)
    if not match:
        return False
    # At the window's start the sign's left neighbour is the previous number: "10-20" is a range.
    if match.start(0) == 0 and not match.group(1) and amount.window[0] > 0:
        return False
    return not any(ch.isalnum() for ch in match.group(2)) or match.group(2).isupper()


def last_cue(before: str) -> str | None:
    """``"former"``/``"current"`` for the cue written last in lower-case ``before``, or None."""
    kind = None
    for match in _CUES.finditer(before):
        kind = match.lastgroup
    return kind


def _is_cjk(text: str) -> bool:
    return any("\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in text)


def _alternation(cues: tuple[str, ...]) -> str:
    # Longest first, so "you save" wins over "save" at the same place.
    return "|".join(re.escape(c) if _is_cjk(c) else rf"(?<!\w){re.escape(c)}(?!\w)"
                    for c in sorted(cues, key=len, reverse=True))


_CUES = re.compile(f"(?P<former>{_alternation(FORMER_CUES)})|"
                   f"(?P<current>{_alternation(CURRENT_CUES)})")
