"""Notes of what else comes free with a product ("Free shipping", "Free 30-day trial").

price-parser reads the word "free" as a price of 0, which is right for a free product ("Free!"
on an e-book) and wrong for a note about shipping, returns or a gift: the note tells nothing of
the product's price, and a number inside it ("Free 2-day shipping", "free returns within 30
days", "Free shipping over $50") is no price either. :func:`without_free_extras` cuts such notes
out of a price string so the parser reads only what is left.
"""

from __future__ import annotations

import re

# Things a shop gives away beside the product.
_EXTRAS = (r"(?:shipping|delivery|postage|p\s*&\s*p|returns?|gifts?|trials?|installation|samples?|"
           r"pick-?up|collection|click\s*&\s*collect)")
# A threshold, a period or an area qualifying the extra ("over $50", "with purchase over €100",
# "on orders of 2+ items", "within 30 days", "in 24h", "to the lower 48 states"), one or more:
# part of the note, not the product's price. An area needs its noun ("to 48 states"), so that a
# price after a place stays whole ("Free shipping to Canada 19.99 CAD").
_NUMBER = r"[^\s\d]{0,4}\s?\d[\d.,]*\+?"
_QUALIFIER = (r"(?:\s+(?:(?:with\s+\w+|on(?:\s+all)?(?:\s+orders?|\s+purchases?)?)\s+)?(?:over|above|from)"
              rf"\s+{_NUMBER}"
              r"|\s+(?:on|with|for)(?:\s+all)?\s+(?:orders?|purchases?)\s+of\s+(?:at\s+least\s+)?"
              rf"{_NUMBER}(?:\s+or\s+more)?(?:\s+items?)?"
              r"|\s+(?:within|in)\s+\d+\s*(?:days?|hours?|h)\b"
              r"|\s+to\s+(?:the\s+|all\s+)?(?:[a-z]+\s+)?\d+\s+"
              r"(?:states|countries|provinces|regions|zones|cities|areas|locations)\b"
              r"|\s+to\s+the\s+(?:lower|contiguous)\s+48\b(?![.,]\d))*")
# "Free" and up to three words before the extra ("Free express shipping", "Free 2-day express
# shipping", "FreeShipping"; not a second "free": "FREE Free delivery" is a free product), or the
# extra labelled free ("Shipping: Free"). Words hold no hyphen and separators no letter, so a
# long run of either is read once (no backtracking over where one word ends).
# A dash or bar after the note, between spaces, only separates it from the price ("Free
# delivery to all 48 states - $24.99"); "-$5" stays a minus.
_SEPARATOR = r"(?:\s+[-–—|](?=\s))?"
_FREE_EXTRA = re.compile(rf"(?i)\bfree(?:(?:\s+|-)(?!free\b)[\w']+){{0,3}}?(?:\s+|-)?{_EXTRAS}\b{_QUALIFIER}{_SEPARATOR}"
                         rf"|\b{_EXTRAS}\s*(?:[:-]\s*)?free\b{_QUALIFIER}{_SEPARATOR}")
_FREE = re.compile(r"(?i)\bfree\b")
_DIGIT = re.compile(r"[0-9]")


def without_free_extras(text: str) -> str | None:
    """``text`` with its notes of free extras cut out, or None when nothing that can be a price is
    left (no ASCII digit and no word "free" of its own: "Free shipping", "Free 30-day trial").

    ``text`` should hold ASCII digits only (other scripts' digits converted first, as
    :func:`crawlers.extraction.price.parse_price` does). "Free! Free shipping" keeps "Free!";
    "$19.99 Free 2-day shipping" keeps "$19.99".
    """
    rest = _FREE_EXTRA.sub(" ", text)
    if rest == text or _DIGIT.search(rest) or says_free(rest):
        return rest
    return None


def says_free(text: str) -> bool:
    """Whether ``text`` holds the word "free" (any case) on its own, as a free product's price
    does ("Free (was $9.99)")."""
    return _FREE.search(text) is not None
