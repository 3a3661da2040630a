"""Word lists the name recognizer weighs evidence with: given names, English words, products.

- Given names and surnames: the US Census 1990 frequency lists (5,163 given names, 88,799
  surnames; public domain), as shipped in the ``names`` package (MIT). A gazetteer is the
  evidence a small NER model lacks on lower-case or foreign-looking text.
- English words: the WordNet lemma index inside the spaCy pipeline's own lemmatizer tables
  (~90k words) and spaCy's stop words; a capitalised word outside it is more likely a name than a product word.
- Product vocabulary: words of the harvested catalogue (product titles, brands, variations) plus
  the device words reviewers use; never a name, whatever the NER model says ("Echo", "Alexa").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

from spacy.language import Language

# Device and shop words that reviews capitalise; the catalogue adds its own titles and brands.
BASE_PRODUCT_WORDS = frozenset("""
amazon alexa alexia alexi echo dot dots kindle kindles fire firestick stick tap show spot plus
paperwhite oasis voyage prime tablet tv hd kids edition nook ipad iphone android google apple
siri bose sonos roku netflix hulu spotify pandora youtube audible bluetooth wifi
best buy walmart target costco arlo ring hue philips zigbee smartthings nest echo's
""".split())

_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def _census(*files: str) -> frozenset[str]:
    names: set[str] = set()
    for fname in files:
        text = resources.files("names").joinpath(fname).read_text("ascii")
        names.update(line.split()[0].lower() for line in text.splitlines() if line.strip())
    return frozenset(names)


@lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    """Lower-case given names of the US Census 1990 lists (both sexes)."""
    return _census("dist.male.first", "dist.female.first")


@lru_cache(maxsize=1)
def surnames() -> frozenset[str]:
    """Lower-case surnames of the US Census 1990 list."""
    return _census("dist.all.last")


def english_words(nlp: Language) -> frozenset[str]:
    """Lower-case words of the WordNet lemma index carried by ``nlp``'s lemmatizer, plus the
    language's stop words (WordNet holds no function words: "my" is also a census given name).

    Raises:
        KeyError: ``nlp`` has no rule lemmatizer with a ``lemma_index`` table.
    """
    table = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_index")
    words = {word for words in table.values() for word in words if "_" not in word}
    return frozenset(words | set(nlp.Defaults.stop_words))


def catalogue_words(texts: Iterable[str]) -> frozenset[str]:
    """Lower-case words of catalogue strings (titles, brands, variations) plus the base list."""
    words = {word.lower() for text in texts for word in _WORD_RE.findall(text)}
    return BASE_PRODUCT_WORDS | frozenset(words)


def is_english(word: str, english: frozenset[str]) -> bool:
    """Whether lower-case ``word`` or its singular / non-possessive form is in ``english``
    (the WordNet index holds lemmas only: "recipes" is English through "recipe")."""
    word = word.removesuffix("'s").removesuffix("’s")
    return (word in english
            or word.endswith("s") and word[:-1] in english
            or word.endswith("es") and word[:-2] in english
            or word.endswith("ies") and word[:-3] + "y" in english)


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


# Product words long enough that a near-miss spelling is unambiguous ("Alexis", "Elexia").
_FUZZY_PRODUCT_WORDS = tuple(word for word in BASE_PRODUCT_WORDS if len(word) >= 5)


def is_product(word: str, allow: frozenset[str]) -> bool:
    """Whether lower-case ``word`` is product vocabulary: in ``allow``, or a misspelling of a
    base product word of five letters or more (same first three letters, at most two edits:
    reviewers write "Alexis" or "Alexia" for the wake word, while "Alana" stays a name)."""
    return word in allow or any(word[:3] == known[:3] and _edit_distance(word, known) <= 2
                                for known in _FUZZY_PRODUCT_WORDS)
