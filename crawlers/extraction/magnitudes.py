"""A magnitude written after a price ("£1.2k", "€2,5 Tsd.", "$1.5M", "1.2万円"): the power of ten it scales by.

price-parser reads the number and drops what follows it, so "£1.2k" was 1.2: a wrong amount, not a
missing one. A magnitude word ("Tsd.", "Mio.", "Mrd.", "bn", "thousand", "million", "billion", "trillion";
the Indian "lakh" 10⁵ and "crore" 10⁷: "₹1.5 lakh" is 150,000) or a CJK numeral unit (千 10³, 万 10⁴,
億 10⁸), glued or after a space, always scales. A letter (k, K, M, m) scales only where it
cannot be read otherwise: glued to the number ("£1.2k"; "1,2 k€", one space, with a currency sign
glued after it) and with a currency written beside the number or the letter. Without that currency
the letter may itself be the currency ("5K": five kyat or kina, or five thousand), and the string
gives no amount. A glued letter followed by a letter, a digit, "²" or "³" is a unit or a word
("1,5m²", "2kg"), not a magnitude, and so are a glued "m" before "/" ("5m/s") and a spaced letter
without a currency sign or, a space apart, a currency after it ("5 K-Cups", "12 m long"; "1.2 K USD"
is 1200). "k", "K" and "M" name no unit, so before "/" they
scale: "$1.5k/month" is 1,500 a month.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import NamedTuple

_WORDS = {"tsd": 3, "tausend": 3, "thousand": 3, "lakh": 5, "lakhs": 5, "lac": 5, "lacs": 5, "mio": 6,
          "million": 6, "millionen": 6, "mn": 6, "mln": 6, "crore": 7, "crores": 7, "mrd": 9, "milliarden": 9,
          "bn": 9, "billion": 9, "trillion": 12}
_CJK = {"千": 3, "万": 4, "萬": 4, "億": 8, "亿": 8}
_LETTERS = {"k": 3, "K": 3, "M": 6, "m": 6}
_SUFFIX = re.compile(rf"\s?(?P<word>(?i:{'|'.join(sorted(_WORDS, key=len, reverse=True))}))\.?(?![^\W\d_])"
                     rf"|\s?(?P<cjk>[{''.join(_CJK)}])"
                     rf"|(?P<letter>[kKM](?![\w²³])|m(?![\w²³/]))"
                     rf"|\s(?P<spaced>[{''.join(_LETTERS)}])(?=\s?\S)")
_BEFORE = re.compile(r"(\S{1,5})\s?$")
_AFTER = re.compile(r"^\s?([^\s\d]{1,5})")
_NAMES = {3: "a thousand", 6: "a million"}


class Magnitude(NamedTuple):
    """A magnitude after a number.

    Attributes:
        written: the magnitude as written, e.g. ``"k"``, ``"Tsd."``, ``"万"``.
        exponent: the power of ten it scales the number by; None where a letter may as well be a
            currency (no other currency beside it): the string then gives no amount.
        end: index in the text after the magnitude (and its dot): what follows is read as
            without it ("1.2万元" names its currency as "1.2元" does).
    """

    written: str
    exponent: int | None
    end: int

    def refusal(self, number: str) -> str:
        """Why a price written ``<number><written>`` gives no amount, e.g. ``"5K: K may be a currency or a
        thousand"``."""
        return f"{number}{self.written}: {self.written} may be a currency or {_NAMES[_LETTERS[self.written]]}"


def magnitude_after(text: str, start: int, end: int, is_currency: Callable[[str], bool]) -> Magnitude | None:
    """The magnitude written right after the number ``text[start:end]``, or None when none is.

    Args:
        text: a price string.
        start, end: where the number stands in ``text``.
        is_currency: predicate on a short string (``"$"``, ``"EUR"``): a known currency.
    """
    match = _SUFFIX.match(text, end)
    if match is None:
        return None
    if match.group("word"):
        return Magnitude(match.group(0).strip(), _WORDS[match.group("word").lower()], match.end())
    if match.group("cjk"):
        return Magnitude(match.group("cjk"), _CJK[match.group("cjk")], match.end())
    letter = match.group("letter") or match.group("spaced")
    after = _AFTER.search(text[match.end():])
    if match.group("spaced") and unicodedata.category(text[match.end()]) != "Sc" and not (
            text[match.end()].isspace() and after is not None and is_currency(after.group(1))):
        return None  # "5 K-Cups", "12 m long": a word or a unit after a space
    before = _BEFORE.search(text[:start])
    beside = (found.group(1).strip("-−:") for found in (before, after) if found)
    priced = any(symbol != letter and is_currency(symbol) for symbol in beside)
    return Magnitude(letter, _LETTERS[letter] if priced else None, match.end())
