"""Firms named as two people ("Barnes & Noble", "Johnson & Johnson"): brands, not persons.

A pair of surnames joined by "and" or "&" reads as two people to the NER model, the census lists
and the list rule alike, and in reviews it is more often a shop or a maker. Nothing in the words
tells them apart ("Smith & Jones came by" are people; a rule taking any pair of one name twice for
a firm lost real pairs of people), so the firms are listed, from general knowledge: consumer brands,
shops and publishers of that shape. Beside the list, a pair or a name (of one or two words)
followed by a legal form ("Smith & Jones LLP", "Tiffany & Co.", "John Lewis & Partners") is a firm
whatever its names.

What is not listed stays a pair of names ("John and Mary", "Smith & Jones"): an unknown firm is
scrubbed as people, which errs toward privacy.
"""

from __future__ import annotations

import re

# Lower-case (first, second) names of firms; "and", "&", "+", "/" or "n" may join them, and a
# plural or possessive may follow ("Barnes and Nobles", "Marks & Spencer's"). Pairs that are as
# often two people's given names ("Harry & David", "Lyle & Scott") are left out.
FIRM_PAIRS = (
    ("abercrombie", "fitch"), ("allen", "heath"), ("bang", "olufsen"), ("barnes", "noble"),
    ("bausch", "lomb"), ("ben", "jerry's"), ("black", "decker"), ("bowers", "wilkins"),
    ("church", "dwight"), ("crabtree", "evelyn"), ("crosse", "blackwell"), ("dean", "deluca"),
    ("dolce", "gabbana"), ("dun", "bradstreet"), ("ernst", "young"), ("fortnum", "mason"),
    ("harman", "kardon"), ("holland", "barrett"), ("jack", "jones"), ("johnson", "johnson"),
    ("johnston", "murphy"), ("lea", "perrins"), ("lord", "taylor"), ("marks", "spencer"),
    ("mason", "hamlin"), ("moët", "chandon"), ("moet", "chandon"), ("pratt", "whitney"),
    ("procter", "gamble"), ("sears", "roebuck"), ("simon", "schuster"), ("smith", "hawken"),
    ("smith", "nephew"), ("smith", "wesson"),
)
_JOIN = r"(?:[ \t]*[&+/][ \t]*|[ \t]+(?:and|n|['’]n['’]?)[ \t]+)"
_LISTED = "|".join(rf"{re.escape(first)}{_JOIN}{re.escape(second)}".replace("'s", "['’]s")
                   for first, second in FIRM_PAIRS)
# Capitalised, as in a firm's name ("Mary and co. were great" is a group of friends), and not
# the start of a longer word ("Co-founded").
_LEGAL_FORM = r"(?:Co|Company|Sons|Associates|Partners|LLP|LLC|Inc|Ltd|PLC|GmbH|Corp)\b\.?(?![\w'’-])"
_NAME = r"[A-Z][\w'’-]*"
FIRM_RE = re.compile(rf"(?<![\w'’-])(?:(?i:{_LISTED})(?:s|['’]s)?(?![\w'’-])"
                     rf"|{_NAME}(?:[ \t]+{_NAME})?"
                     rf"(?:(?:{_JOIN}{_NAME})?,?{_JOIN}|{_JOIN}{_NAME},?[ \t]+){_LEGAL_FORM})")
# Longest firm name the search around a span must see whole (the longest listed pair, a legal form).
_REACH = 60


def in_firm_name(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` (character offsets) lies inside a firm's name
    (:data:`FIRM_RE`: a listed pair, or a pair or name with a legal form after it)."""
    return any(firm.start() <= start and end <= firm.end()
               for firm in FIRM_RE.finditer(text, max(0, start - _REACH), min(len(text), end + _REACH)))
