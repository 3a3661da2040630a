"""The word "free" in a price string: a free product's price, or a note of what else comes free.

price-parser reads "free" anywhere in a string without digits as a price of 0, which is right for a
free product ("Free!" on an e-book) and wrong for a note about shipping, returns or a gift ("Free
shipping", "Versand kostenlos", "送料無料"): the note tells nothing of the product's price, and a
number inside it ("Free 2-day shipping", "free returns within 30 days", "Free shipping over $50") is
no price either. It is wrong too for a word that holds "free" ("Freedom") or says what a product is
free of ("Gluten free", "Duty free"), and it knows no other language ("Gratis", "Kostenlos", "無料"
gave no amount). :func:`without_free_extras` cuts the notes out so the parser reads only what is
left, and :func:`is_free_price` tells a free product's price: a free word (:data:`FREE_WORDS`) first in
the string, after a price label at most ("Price: Free", "価格：無料").
"""

from __future__ import annotations

import re

from crawlers.extraction.amounts import CURRENT_CUES

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
# The same notes in other languages, as shops write them (one word list each: no qualifiers).
_FOREIGN_EXTRA = re.compile(
    r"(?i)(?<![^\W\d_])(?:kostenlose[rn]?\s+(?:versand|lieferung|rücksendung|rückversand)"
    r"|(?:versand|lieferung|rückversand)(?:kosten)?\s*:?\s*(?:kostenlos|gratis|frei)|versandkostenfrei"
    r"|gratis[-\s]?(?:versand|lieferung|verzending|bezorging|levering)"
    r"|(?:livraison|retours?)\s+(?:gratuite?s?|offerte?s?)|env[ií]o\s+(?:gratis|gratuito)"
    r"|spedizione\s+(?:gratuita|gratis)|frete\s+gr[aá]tis|darmowa\s+dostawa"
    r"|бесплатная\s+доставка|доставка\s*:?\s*бесплатно)(?![^\W\d_])"
    r"|送料無料|配送料無料|無料配送|免运费|免運費|包邮|包郵|무료\s*배송")
#: Words a shop writes as the price of a free product.
FREE_WORDS = ("free", "gratis", "grátis", "kostenlos", "gratuit", "gratuite", "gratuito", "gratuita", "бесплатно",
              "zdarma", "za darmo", "ücretsiz", "無料", "免费", "免費", "무료")
_WORD = "(?:{})".format("|".join(map(re.escape, FREE_WORDS)))
_FREE = re.compile(rf"(?i)(?<![^\W\d_]){_WORD}(?![^\W\d_])")
# A price label or a current-price cue before the word ("Price: Free", "Preis: kostenlos", "価格：無料", "Now
# FREE"), and nothing else.
_LABELS = ("price", "preis", "prix", "precio", "prezzo", "prijs", "cena", "цена", "価格", "价格", "價格", "가격",
           *CURRENT_CUES)
# The word stands alone: not the head of a compound ("Free-range eggs") or of a name ("Free People").
_FREE_PRICE = re.compile(r"(?i)^[^\w]*(?:(?:{})(?![^\W\d_])\s*[:：]?\s*)?{}(?![^\W\d_])"
                         r"(?![-‐]\w|\s+(?-i:[A-Z][a-z]))".format(
    "|".join(map(re.escape, sorted(_LABELS, key=len, reverse=True))), _WORD))
_DIGIT = re.compile(r"[0-9]")


def without_free_extras(text: str) -> str | None:
    """``text`` with its notes of free extras cut out, or None when nothing that can be a price is
    left (no ASCII digit and no word "free" of its own: "Free shipping", "Free 30-day trial").

    ``text`` should hold ASCII digits only (other scripts' digits converted first, as
    :func:`crawlers.extraction.price.parse_price` does). "Free! Free shipping" keeps "Free!";
    "$19.99 Free 2-day shipping" keeps "$19.99".
    """
    rest = _FOREIGN_EXTRA.sub(" ", _FREE_EXTRA.sub(" ", text))
    if rest == text or _DIGIT.search(rest) or says_free(rest):
        return rest
    return None


def says_free(text: str) -> bool:
    """Whether ``text`` holds a free word (:data:`FREE_WORDS`, any case) on its own, as a free product's
    price beside the price it had does ("Free (was $9.99)", "Gratis (statt 9,99 €)")."""
    return _FREE.search(text) is not None


def is_free_price(text: str) -> bool:
    """Whether ``text``, a price string without digits and without its notes of free extras, is a
    free product's price: a free word first, after a price label or a current-price cue at most
    ("Free!", "Free download", "Preis: kostenlos", "無料", "Now FREE"); not "Gluten free", "Duty free",
    "Freedom", nor a compound or a name it starts ("Free-range eggs", "Free People")."""
    return _FREE_PRICE.match(text) is not None
