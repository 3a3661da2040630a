"""Stock count → the record's ``stock_count``: the units a page says are left of its product.

Shops state a count next to the buy button ("Only 3 left in stock", "8 available", "In stock
(22 available)", "Nur noch 1 auf Lager", "Plus que 2 en stock", "Quedan 3 unidades").
:func:`from_text` reads one phrase; :func:`crawlers.extraction.dom.stock_count` applies it to
a page's visible text.

A count is read only where a stock word is bound to the number, so pack sizes ("20 Stück",
"8Pcs/set", "Pack of 2"), store counts ("Dostupné v 2 predajniach"), option counts
("10 options from $106.98", "3 available colours") and times ("only 3 days left") are not
stock. A bound ("More than 10 available", "Plus de 10 disponibles", "10+ in stock") states no
exact count.
"""

from __future__ import annotations

import re

# Thousands grouped by "," or "." ("1,200 available", "1.200 verfügbar").
_NUMBER = r"\d{1,3}(?:[,.]\d{3})+|\d{1,6}"
_UNIT = (r"(?:units?|items?|pieces?|pcs\.?|stück|stk\.?|articles?|pièces?|exemplaires?|"
         r"unidades?|pezzi|unità|stuks?|szt\.?)")
# Stock words after the number, in the languages of the shops we meet (en, de, fr, es, it, pt,
# nl, pl); "left" is a stock word only right after the number or its unit.
_AFTER = (r"(?:available|left(?:\s+in\s+stock)?|in\s+stock|remaining|auf\s+lager|verfügbar|"
          r"vorrätig|en\s+stock|disponibles?|en\s+existencia|in\s+magazzino|disponibili|"
          r"em\s+estoque|em\s+stock|op\s+voorraad|beschikbaar|dostępn\w*|na\s+stanie|"
          r"w\s+magazynie)")
# What an "available" count is when a noun follows: options of the product, not its units.
_NOT_UNITS_AFTER = (r"(?!\s+(?:colou?rs?|sizes?|options?|styles?|variants?|versions?|models?|"
                    r"offers?|sellers?|from|for\s+(?:pick|collect|deliver)|in\s+\d))")
# Stock words before the number; the unit is then required ("quedan 3 días" is a time).
_BEFORE = r"(?:(?:s[oó]lo\s+)?quedan|il\s+(?:ne\s+)?reste(?:\s+plus\s+que)?|restam|últimas|ultimi|ultime)"
_COUNT = re.compile(
    rf"(?<![\w.,+-])(?<!\bof\s)(?P<n>{_NUMBER})(?P<plus>\s*\+)?\s*(?:{_UNIT}\s+)?{_AFTER}"
    rf"(?![\w-]){_NOT_UNITS_AFTER}"
    rf"|(?<![\w-]){_BEFORE}\s+(?P<m>{_NUMBER})\s+{_UNIT}(?![\w-])")
# Words that make the count after them a bound: "more than 10", "über 10".
_BOUND = re.compile(r"(?:more\s+than|over|at\s+least|mehr\s+als|über|plus\s+de|más\s+de|"
                    r"più\s+di|mais\s+de|meer\s+dan|ponad|>)\s*$")


def from_text(text: str | None) -> int | None:
    """Read a stock count from one phrase.

    Args:
        text: a short visible text, e.g. ``"In stock (22 available)"``; case and spacing ignored.

    Returns:
        The units (an int ≥ 0) when the phrase states exactly one number of units, else None
        (no count, only a bound such as "More than 10 available", or two different counts).
    """
    phrase = " ".join((text or "").lower().split())
    counts = {int(re.sub(r"[,.]", "", match.group("n") or match.group("m")))
              for match in _COUNT.finditer(phrase)
              if not match.group("plus")
              and not (match.group("n") and _BOUND.search(phrase[:match.start()]))}
    return counts.pop() if len(counts) == 1 else None
