"""Word lists the name recognizer weighs evidence with: names, English words, products.

- Given names and surnames: the US Census 1990 frequency lists (5,163 given names, 88,799
  surnames, each with its frequency rank; public domain), as shipped in the ``names`` package
  (MIT). A gazetteer is the evidence a small NER model lacks on lower-case or unusual text.
- Given names of other countries: Jörg Michael's first-name dictionary (``nam_dict.txt`` of the
  program "gender", 2008, GNU FDL 1.2; ~45,000 names with a frequency per country for 54
  countries and regions, compiled from public name statistics), as shipped in the
  ``gender-guesser`` package (only its data file is read, none of its code). The US lists miss
  "Nikolaj", "Mette", "Kaoru"; the small English NER model misses them too.
- English words: the WordNet lemma index inside the spaCy pipeline's own lemmatizer tables
  (~90k words, per part of speech) and spaCy's stop words. WordNet lists many names as nouns
  ("anna", "heather", "smith"), so a common census name that is only a noun still counts as a
  name, while one that is also a verb, adjective or adverb ("grace", "will", "brown") does not.
- Product vocabulary: words of the harvested catalogue (product titles, brands, variations) plus
  the device words reviewers use; never a name, whatever the NER model says ("Echo", "Alexa").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from spacy.language import Language

# Device and shop words that reviews capitalise; the catalogue adds its own titles and brands.
BASE_PRODUCT_WORDS = frozenset("""
amazon alexa echo dot dots kindle kindles fire firestick stick tap show spot plus paperwhite
oasis voyage prime tablet tv hd kids edition nook ipad iphone android google apple siri bose
sonos roku netflix hulu spotify pandora youtube audible bluetooth wifi best buy walmart target
costco arlo ring hue philips zigbee smartthings nest
""".split())
# Kinds of device a brand names ("Kasa smart plugs", "Kasa Cam"), and the words that may stand
# between the brand and the kind ("Voltson Wi-Fi Smart Plugs"): a name-shaped word before them is
# the brand, not a person, where the sentence marks a product's name (NameEvidence.names_device).
# Chosen on the even review rows.
DEVICE_NOUNS = frozenset("""
plug plugs bulb bulbs cam cams camera cameras app apps speaker speakers outlet outlets
thermostat thermostats doorbell doorbells switch switches hub hubs router routers remote remotes
headset headsets headphones earbuds charger chargers sensor sensors lock locks light lights lamp
lamps strip strips
""".split())
DEVICE_MODIFIERS = frozenset("""
smart wifi wi-fi wireless bluetooth video security outdoor indoor mini led dimmable color colour
motion plug-in
""".split())
# Capitalised nouns that are also census given names but name a date ("June", "August").
CALENDAR_WORDS = frozenset("""
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday christmas easter
""".split())
# Interjections, a closed class WordNet leaves out. Alone before a comma, a closing mark or a
# lower-case word they are no names, though the NER model takes them for ones ("Ya, turning on
# lights is good", "and Voila, a new one"; NameEvidence.exclaims). Elsewhere some are parts of
# names ("Ya Ting", "Ah Kow"). Those a census list ranks among its top 5,000 surnames ("Oh",
# "Bravo", "Dang") are left out.
INTERJECTIONS = frozenset("""
ya yah yeah yep yup nope nah voila voilà wow whoa woah ugh meh duh oops yay hmm lol omg haha hehe
okay alas hooray huh ah aha eh hey hi hello bye ouch phew yikes gosh geez jeez darn shucks
kudos cheers
""".split())
# Frequency ranks up to which a census name that WordNet also lists as a noun is still taken
# for a name: the top 1,000 given names per sex ("anna" 33, "heather" 53; "florida" is 1,628,
# "santa" 1,224) and the top 5,000 surnames beside another name word ("Etta James"), the top 500
# alone ("bowman" 248; "friend" 1,930 and "kitchen" 2,121 are words first).
COMMON_GIVEN_RANK = 1000
COMMON_SURNAME_RANK = 5000
COMMON_LONE_SURNAME_RANK = 500

_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def _census(*files: str) -> dict[str, int]:
    """Lower-case name -> best frequency rank over the ``names`` package files."""
    ranks: dict[str, int] = {}
    for fname in files:
        text = resources.files("names").joinpath(fname).read_text("ascii")
        for line in text.splitlines():
            if line.strip():
                name, _, _, rank = line.split()
                ranks[name.lower()] = min(int(rank), ranks.get(name.lower(), int(rank)))
    return ranks


# Which names of the world dictionary count: a frequency of at least 2 in some country (its scale
# runs from 1, rare, to 13, logarithmic; 10 means at least 2 % of the people) and four letters or
# more ("Hey" and "Zak" are both in it). Chosen on the tuning samples and the even review rows
# (benchmarks/pii_recall.py): frequency 1 as well added one name for one more altered review.
WORLD_GIVEN_MIN_FREQUENCY = 2
WORLD_NAME_MIN_LENGTH = 4
# The rank of a world name the census lists lack: past every census rank, so it counts as a name only
# where it is no English word (NameEvidence's common-name rule never reaches it).
WORLD_ONLY_RANK = 1_000_000
# The dictionary's name lines: sex code, the name ("+" joins parts), then one frequency column per
# country from character 30 on.
_NAM_DICT_FREQUENCIES_AT = 30


@lru_cache(maxsize=1)
def world_given_names() -> frozenset[str]:
    """Lower-case given names of Jörg Michael's dictionary (module docstring) with a frequency of
    at least :data:`WORLD_GIVEN_MIN_FREQUENCY` in some country and :data:`WORLD_NAME_MIN_LENGTH`
    letters or more.

    Raises:
        FileNotFoundError: the ``gender-guesser`` package (its data file) is not installed.
    """
    text = resources.files("gender_guesser").joinpath("data/nam_dict.txt").read_text("utf-8")
    names = set()
    for line in text.splitlines():
        if not line or line[0] in "#=":
            continue
        name = line.split()[1].replace("+", "-").lower()
        frequencies = [int(c, 16) for c in line[_NAM_DICT_FREQUENCIES_AT:].rstrip("$ \r")
                       if c in "123456789ABCDabcd"]
        if len(name) >= WORLD_NAME_MIN_LENGTH and max(frequencies, default=0) >= WORLD_GIVEN_MIN_FREQUENCY:
            names.add(name)
    return frozenset(names)


@lru_cache(maxsize=1)
def given_names() -> dict[str, int]:
    """Lower-case given names -> frequency rank: the US Census 1990 lists (both sexes) with their
    ranks, plus :func:`world_given_names` the census lacks at :data:`WORLD_ONLY_RANK`."""
    census = _census("dist.male.first", "dist.female.first")
    return {**dict.fromkeys(world_given_names(), WORLD_ONLY_RANK), **census}


@lru_cache(maxsize=1)
def surnames() -> dict[str, int]:
    """Lower-case surnames of the US Census 1990 list -> frequency rank."""
    return _census("dist.all.last")


@dataclass(frozen=True)
class EnglishWords:
    """Lower-case English words: ``all`` of them, ``not_nouns`` (verbs, adjectives,
    adverbs, stop words and calendar words: the words a name is never mistaken for), and
    ``things``: nouns that are no adverb, stop word or calendar word ("color", "support",
    "period"; not "today" or "upstairs"), which after a name make it a modifier."""

    all: frozenset[str]
    not_nouns: frozenset[str]
    things: frozenset[str] = frozenset()

    def contains(self, word: str) -> bool:
        """Whether lower-case ``word``, its accent-free spelling ("café"), or its singular or
        non-possessive form is English (WordNet holds lemmas only: "recipes" through "recipe")."""
        word = word.removesuffix("'s").removesuffix("’s")
        folded = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()
        return (word in self.all or folded in self.all
                or word.endswith("s") and word[:-1] in self.all
                or word.endswith("es") and word[:-2] in self.all
                or word.endswith("ies") and word[:-3] + "y" in self.all)


def english_words(nlp: Language) -> EnglishWords:
    """The WordNet lemma index and irregular forms carried by ``nlp``'s lemmatizer, plus its
    stop words.

    Raises:
        KeyError: ``nlp`` has no rule lemmatizer with a ``lemma_index`` table.
    """
    lookups = nlp.get_pipe("lemmatizer").lookups
    index, irregular = lookups.get_table("lemma_index"), lookups.get_table("lemma_exc")
    # Lemmas, plus irregular forms ("children", "sung") that no suffix rule reaches.
    by_pos = {pos: {word for word in [*index[pos], *irregular[pos]] if "_" not in word}
              for pos in ("noun", "verb", "adj", "adv")}
    stop = set(nlp.Defaults.stop_words)
    not_nouns = by_pos["verb"] | by_pos["adj"] | by_pos["adv"] | stop | CALENDAR_WORDS
    things = by_pos["noun"] - by_pos["adv"] - stop - CALENDAR_WORDS
    return EnglishWords(frozenset(by_pos["noun"] | not_nouns), frozenset(not_nouns), frozenset(things))


def catalogue_words(texts: Iterable[str]) -> frozenset[str]:
    """Lower-case words of catalogue strings (titles, brands, variations) plus the base list."""
    words = {word.lower() for text in texts for word in _WORD_RE.findall(text)}
    return BASE_PRODUCT_WORDS | frozenset(words)


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


# Product words long enough that a near-miss spelling is unambiguous ("Alexis", "Alexia").
_FUZZY_PRODUCT_WORDS = tuple(word for word in BASE_PRODUCT_WORDS if len(word) >= 5)


# The wake word: reviewers talk to the device by name and misspell it as given names ("Alexis",
# "Alexia"), so its misspellings stay products even among names, where other product words a
# common name merely resembles do not make it one ("Philip", "Sonia"; NameEvidence.lookalike_product).
WAKE_WORD = "alexa"


def misspelt_product(word: str) -> str | None:
    """The base product word of five letters or more that lower-case ``word`` misspells (same
    first three letters, at most two edits: "Alexis" for alexa, "Amazin" for amazon), or None."""
    return next((known for known in _FUZZY_PRODUCT_WORDS
                 if word[:3] == known[:3] and _edit_distance(word, known) <= 2), None)


def is_product(word: str, allow: frozenset[str]) -> bool:
    """Whether lower-case ``word`` is product vocabulary: in ``allow``, or a misspelling of a
    base product word (:func:`misspelt_product`: reviewers write "Alexis" or "Alexia" for the
    wake word, while "Alana" stays a name)."""
    return word in allow or misspelt_product(word) is not None
