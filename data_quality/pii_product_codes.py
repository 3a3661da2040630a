"""Product codes printed after their name: ISBN, UPC, EAN, GTIN, JAN. Catalogue data, not PII.

An ISBN-10 ("ISBN 0-306-40615-2") or a UPC printed in groups ("UPC 0 36000 29145 2") has the
shape of a phone or card number. Next to its name, and valid by its own checksum (``stdnum``'s
ISBN and EAN modules), it is the product's code: the phone and card detectors of
:mod:`data_quality.pii` leave its digits alone. Without the name, or with a failing check digit,
the digits are judged as any other number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from stdnum import ean, isbn

# The code's name, then digit groups separated by single spaces or hyphens; an ISBN-10 may end
# in X. Greedy: it can run into a number after the code, so :func:`product_code_spans` backs off.
# "EAN" and "JAN" only in capitals: "Ean" and "Jan" are first names ("Ask Jan 212-555-0105").
_CODE_RE = re.compile(r"\b(?:(?i:isbn(?:-1[03])?|upc(?:-a)?|gtin(?:-8|-1[234])?|barcode)|EAN(?:-8|-13)?|JAN)"
                      r"\b[: ]{0,3}(?P<code>\d(?:[ -]?\d){6,17}(?:[ -]?[xX])?)(?!\w)")


def _valid_code(printed: str) -> bool:
    digits = re.sub(r"[ -]", "", printed)
    if len(digits) in (10, 13) and isbn.is_valid(digits):
        return True
    return digits.isdigit() and len(digits) in (8, 12, 13, 14) and ean.is_valid(digits)


def product_code_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) character offsets of named, checksum-valid product codes in ``text``: the
    longest valid run of whole groups after each code name ("ISBN 0 306 40615 2 12 copies" gives
    the ISBN without the count)."""
    for match in _CODE_RE.finditer(text):
        start, end = match.span("code")
        ends = [i for i in range(start + 1, end) if text[i] in " -"] + [end]
        for cut in reversed(ends):
            if _valid_code(text[start:cut]):
                yield start, cut
                break
