"""Stock count → the record's ``stock_count``: the units a page says are left of its product.

Shops state a count in their stock or availability element ("Only 3 left in stock", "8
available", "In stock (22 available)", "Nur noch 1 auf Lager", "Plus que 2 en stock", "Quedan 3
unidades", "Stock: 22"). :func:`from_text` reads one such text;
:func:`crawlers.extraction.dom.stock_count` finds the texts on a page.

A count is read only where a stock word is bound to the number, so pack sizes ("20 Stück",
"8Pcs/set", "Pack of 2"), store counts ("Dostupné v 2 predajniach"), option counts ("10 options
from $106.98", "3 available colours"), amounts ("Only $3 left for free shipping"), ranges and
times ("only 3 days left") are not stock. A bound ("More than 10 available", "Less than 5 left",
"10+ in stock") states no exact count, and neither does a count at one store ("4 in stock at
Downtown") or of an edition ("250 available worldwide").
"""

from __future__ import annotations

import re

# Thousands grouped by ",", ".", "'", a space, a no-break or a narrow no-break space.
_NUMBER = r"\d{1,3}(?:[,.'\u00a0\u202f ]\d{3})+(?!\d)|\d{1,6}"
_UNIT = (r"(?:units?|items?|pieces?|pcs\.?|stück|stk\.?|articles?|pièces?|exemplaires?|produits?|"
         r"unités?|unidades?|pezzi|unità|stuks?|szt\.?|sztuk[ai]?)")
# Stock words after the number, in the languages of the shops we meet (en, de, fr, es, it, pt,
# nl, pl); "left" is a stock word only right after the number or its unit.
_AFTER = (r"(?:available|left(?:\s+in\s+stock)?|in\s+stock|remaining|auf\s+lager|verfügbar|"
          r"vorrätig|lagernd|en\s+stock|disponibles?|en\s+existencia|in\s+magazzino|disponibili|"
          r"rimast[ie]|em\s+estoque|em\s+stock|disponíve(?:l|is)|op\s+voorraad|beschikbaar|"
          r"dostępn\w*|na\s+stanie|w\s+magazynie)")
# What follows when the count is not the product's units here and now: options of the product,
# a store, an edition, a date.
_NOT_UNITS_AFTER = (r"(?!\s+(?:colou?rs?|sizes?|options?|styles?|variants?|versions?|models?|"
                    r"offers?|sellers?|from|for\b|at\b|in\s+(?:\d|store|our|the)|bei\b|en\s+tienda|"
                    r"en\s+magasin|in\s+der\s+filiale|worldwide|now|today|soon|online))")
# Stock words before the number; the unit is then required ("quedan 3 días" is a time) unless
# the phrase ends there ("¡Solo quedan 3!").
_BEFORE = (r"(?:(?:s[oó]lo\s+)?quedan|il\s+(?:ne\s+)?reste(?:\s+plus\s+que)?|"
           r"restam(?:\s+apenas)?|últimas?|ultimi|ultime)")
# A label before the number: "Stock: 22", "Lagerbestand: 5", "Disponibilité : 3".
_LABEL = (r"(?:stock|in\s+stock|lagerbestand|bestand|existencias|disponibilidad|disponibilité|"
          r"disponibilità|disponibilidade|dostępność|voorraad|quantity\s+available)")
# A size before the number ("Größe 42 verfügbar", "Size 10 in stock") is an option, not units.
_NOT_A_SIZE = "".join(rf"(?<!\b{word}\s)" for word in ("size", "größe", "taille", "talla", "taglia", "maat"))
_COUNT = re.compile(
    rf"(?<![\w.,'+$€£¥₹-])(?<!\bof\s)(?<![-–]\s){_NOT_A_SIZE}(?P<n>{_NUMBER})(?P<plus>\s*\+)?\s*(?:{_UNIT}\s+)?"
    rf"{_AFTER}(?![\w-]){_NOT_UNITS_AFTER}"
    rf"|(?<![\w-]){_BEFORE}\s+(?P<m>{_NUMBER})(?:\s+{_UNIT}(?![\w-])|(?=\s*(?:[!.]|$)))"
    rf"|(?<![\w-]){_LABEL}\s*:\s*(?P<k>{_NUMBER})(?:\s+{_UNIT})?(?![\w.,-])"
    rf"|(?<![\w-])(?:only|just)\s+(?P<one>one)\s+left\b")
# Words that make the count after them a bound: "more than 10", "less than 5", "über 10".
_BOUND = re.compile(r"(?:more|less|fewer)\s+than|over|under|up\s+to|at\s+least|max\.?|"
                    r"mehr\s+als|weniger\s+als|über|unter|bis\s+zu|mindestens|höchstens|"
                    r"\+\s*de|plus\s+de|moins\s+de|au\s+moins|jusqu'à|"
                    r"más\s+de|menos\s+de|al\s+menos|hasta|più\s+di|meno\s+di|almeno|oltre|"
                    r"mais\s+de|acima\s+de|pelo\s+menos|meer\s+dan|minder\s+dan|minstens|"
                    r"ponad|powyżej|więcej\s+niż|mniej\s+niż|[<>≤≥]")
_BOUND_BEFORE = re.compile(rf"(?:^|[\s(])(?:{_BOUND.pattern})\s*$")


_SPACES_AND_MINUS = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2212": "-", "\uff0d": "-"})


def from_text(text: str | None) -> int | None:
    """Read a stock count from one text.

    Args:
        text: a short visible text, e.g. ``"In stock (22 available)"``; case and spacing ignored.

    Returns:
        The units (an int ≥ 0) when the text states exactly one number of units, else None
        (no count, only a bound such as "More than 10 available", or two different counts).
    """
    # The minus sign (U+2212) and the full-width hyphen-minus read as "-", so a negative count is
    # no count ("Only −3 left" was read as 3).
    phrase = " ".join((text or "").lower().translate(_SPACES_AND_MINUS).split())
    counts = set()
    for match in _COUNT.finditer(phrase):
        if match.group("one"):
            counts.add(1)
            continue
        if match.group("plus") or _BOUND_BEFORE.search(phrase[:match.start()]):
            continue
        number = match.group("n") or match.group("m") or match.group("k")
        counts.add(int(re.sub(r"[,.' ]", "", number)))
    return counts.pop() if len(counts) == 1 else None
