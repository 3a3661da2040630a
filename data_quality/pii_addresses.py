"""Street addresses, and places where they locate a person.

A street address identifies a household, so it is always replaced (``ADDRESS``): a house number
and a street word ("15 Glyn St"), a European "<name>straße 12" form, the street word first
("12 rue de la Paix", "Calle Mayor 5"), a unit designator under a street line of any language
("Puruntie 82 / Apt. 595"), or a line given as an address ("address: 450 Præstevænget 15"), each
with the capitalised city/region/postcode lines that follow it. A city or country alone does not
identify anyone and is common review text ("shipped from China"); it is replaced (``LOCATION``)
only where the sentence ties it to a person ("I live in Leeds", "she grew up in Onnezies").
"""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

_STREET_WORDS = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|square|"
    r"sq|terrace|parkway|pkwy|highway|hwy|circle|cir|trail|crescent|close|alley|row|plaza|"
    r"route|strasse|straße|rue|via|calle|avenida|rua|gade|vej|katu|utca|ulica|ul|gatan|vegen"
)
_UNIT = r"(?:,?[ \t]*(?i:apt|apartment|suite|ste|unit|flat|#)\.?[ \t]*[\w-]+)?"
# A unit designator written as one (capitalised, with a number): "Apt. 595", "Suite 084", "Unit 4719".
_UNIT_WORD = r"(?:Apt|APT|Apartment|Suite|SUITE|Ste|Unit|UNIT|Flat)\.?[ \t]*#?\d{1,5}[A-Za-z]?\b"
# Between a street line and its unit: a space, or a line break (the next line may be quoted ">").
_LINE_GAP = r"(?:,?[ \t]*\n[ \t>]*|,?[ \t]+)"
# Street words that come before the house number in French addresses ("12 rue de la Paix"), and
# before the street's name in French, Spanish, Catalan, Italian, Portuguese and Polish ones
# ("Calle Mayor 5", "ul. Słowicza 10"). No "via" before a number: "paid 12 via PayPal".
_NUMBER_FIRST_STREETS = r"(?i:rue|avenue|boulevard|bd|allée|chemin|impasse|quai)"
_NAME_FIRST_STREETS = (r"\b(?:Rue|Avenue|Boulevard|Allée|Chemin|Impasse|Quai|Calle|Avenida|Avda\.|Paseo|Plaza|"
                       r"Carrer|Via|Viale|Piazza|Corso|Rua|Travessa|ul\.|Ulica|Aleja|Aleje|Plac)")
# Lower-case particles between the street word and the name, one word each and at most three, so
# that a run of them has a single parse (no backtracking blow-up on "de la de la de la …").
_PARTICLES = r"(?:(?:de|del|des|du|di|da|do|dos|das|della|dei|degli|la|le|les|los|las|l'|d'|y)[ \t]+){0,3}"
# A house number: "5", "12b", "10/12".
_HOUSE = r"\d{1,5}[A-Za-z]?(?:/\d{1,5})?"

def _address_re(cased: bool) -> re.Pattern[str]:
    """Street-address pattern. In cased text the street name is capitalised ("40 minutes just
    to place" is no address); all-lower-case text gets the case-blind variant."""
    word = r"[^\W\d_a-z][\w'’.-]*" if cased else r"[^\W\d_][\w'’.-]*"
    street = rf"(?:{_STREET_WORDS.title()}|{_STREET_WORDS.upper()})" if cased else (
        rf"(?i:{_STREET_WORDS})")
    return re.compile(
        # French, the street word right after the number: "12 rue de la Paix" whole (before the
        # next branch, which would stop at "12 Rue").
        rf"\b{_HOUSE},?[ \t]+{_NUMBER_FIRST_STREETS}[ \t]+{_PARTICLES}{word}(?:[ \t]+{word}){{0,2}}"
        rf"|\b\d{{1,6}}[A-Za-z]?(?:[ \t]+\d{{1,5}})?[ \t]+(?:{word}[ \t]+){{0,4}}?"
        rf"{street}\b\.?(?:[ \t]+\d{{1,5}})?{_UNIT}"
        # "Koskikatu 25", "Hauptstraße 5": the street word ends the name, the number follows.
        rf"|\b[^\W\d_]+(?i:straße|strasse|str\.|gasse|weg|platz|katu|gatan|vej|gade|laan|straat)"
        rf"[ \t]+\d{{1,5}}[A-Za-z]?{_UNIT}"
        r"|\b(?i:p\.?[ \t]?o\.?[ \t]?box)[ \t]+\d+"
        # A unit designator with its number under a "<street> <house number>" line of any
        # language, the line opened by a house number or the unit on the next line:
        # "28245 Puruntie 82 Apt. 595", "Allika 46\n Suite 501" ("Pixel 8, Unit 2" is no address).
        rf"|(?:\b\d{{1,6}}[ \t]+(?:{word}[ \t]+){{1,3}}\d{{1,5}}[A-Za-z]?{_LINE_GAP}"
        # (At a word's start only: tried inside a word, each start would rescan it, quadratic.)
        rf"|(?<![\w'’.-])(?:{word}[ \t]+){{1,3}}\d{{1,5}}[A-Za-z]?,?[ \t]*\n[ \t>]*){_UNIT_WORD}"
        # Alone, only ahead of the address's next line, or of a postcode and a place
        # ("Apt. 675 62314 Mellemvej"): "Suite 16, the last track", "Unit 1, Unit 2" stay.
        rf"|\b{_UNIT_WORD}(?=[ \t,]*\n|[ \t,]+\d{{3,6}}[ \t]+[^\W\d_a-z])"
        # The street word first: "Calle Mayor 5", "Via Roma 10", "ul. Słowicza 10", then the end
        # of the line or sentence, or the place ("Via Alexa 2 timers" stays).
        rf"|{_NAME_FIRST_STREETS}[ \t]+{_PARTICLES}{word}(?:[ \t]+{word}){{0,2}},?[ \t]+{_HOUSE}"
        r"(?=[ \t]*(?:[,.;:()\n]|$)|[ \t]+[^\W\d_a-z])"
    )

_ADDRESS_RE = _address_re(cased=True)
_ADDRESS_LOWER_RE = _address_re(cased=False)
# The lines after a street: UK postcodes, numeric postcodes, capitalised place words and state
# codes, separated by commas, spaces or line breaks. A lower-case word ends the address.
_ADDRESS_TAIL_RE = re.compile(
    r"(?:[ \t]*[,\n][ \t,\n]*|[ \t]+)"
    r"(?:[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}\b|\d{4,6}(?:-\d{4})?\b|[A-Z][\w'’.-]*)"
)
_MAX_TAIL_PARTS = 8
_ABBREVIATION_CHARS = 4
"""A tail part this short that ends in "." is an abbreviation ("St.", "Mt.", "Ft.", "Apt."), not a
sentence's end."""
# A line given as an address ("his address: 450 Præstevænget 15, København V", "my address is
# 12 Oak Row"): from the house number after "address:" or "address is" to the end of the line or
# sentence, 80 characters at most (so a text of many "address" words stays linear), when it holds
# a capitalised word. A MAC, IP, e-mail or web address is no one's home (:data:`_NOT_HOMES`).
_GIVEN_ADDRESS_RE = re.compile(
    r"(?i:\baddress(?:[ \t]*:|[ \t]+is\b:?))[ \t]*"
    r"(?P<line>\d[^\n!?]{2,80}?)(?=[.!?]?[ \t]*(?:\n|$)|[.!?][ \t])"
)
_NOT_HOMES = frozenset({"mac", "ip", "ipv4", "ipv6", "email", "e-mail", "mail", "web", "ethernet", "bluetooth",
                        "wallet", "memory", "hardware", "physical", "network", "server", "bitcoin"})
_LAST_WORD_RE = re.compile(r"([\w-]+)[ \t]*$")
# Sentences that tie a place to a person.
PERSONAL_PLACE_CUE_RE = re.compile(
    r"(?i)\b(?:live|lives|living|lived|grew up|born|raised|moved|moving|reside|resides|residing|"
    r"resident|hometown|home town|address|located|i'm from|i am from|is from|am from|"
    r"are from|was from|come from|comes from)\b"
)
# The cue must stand in the same sentence, shortly before the place.
_CUE_BEFORE_PLACE_RE = re.compile(PERSONAL_PLACE_CUE_RE.pattern + r"[^.!?\n]{0,25}$")
_PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})


def _given_home(text: str, match: re.Match[str]) -> bool:
    """Whether a :data:`_GIVEN_ADDRESS_RE` match is a home: no MAC/IP/e-mail… word before
    "address", and a capitalised word in the line."""
    before = _LAST_WORD_RE.search(text, max(0, match.start() - 20), match.start())
    return ((before is None or before.group(1).lower() not in _NOT_HOMES)
            and any(word[:1].isupper() for word in match.group("line").split()))


def _address_end(text: str, end: int) -> int:
    for _ in range(_MAX_TAIL_PARTS):
        match = _ADDRESS_TAIL_RE.match(text, end)
        if match is None:
            break
        part = match.group().strip(" \t,\n")
        if part.endswith(".") and len(part) > _ABBREVIATION_CHARS and text[match.end():match.end() + 1].isspace():
            # "London. Price was fine": a place word and a full stop end the sentence and the address
            # ("St. Louis" goes on: a short abbreviation).
            return match.end() - 1
        end = match.end()
    return end


class AddressRecognizer(EntityRecognizer):
    """Presidio recognizer for ``ADDRESS`` (patterns) and ``LOCATION`` (NER + person cue)."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["ADDRESS", "LOCATION"],
                         name="EdgeInsightsAddressRecognizer", supported_language="en")

    def load(self) -> None:
        """Nothing to load: patterns are compiled at import."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        """ADDRESS spans from patterns; LOCATION spans from the NER entities in
        ``nlp_artifacts`` (none when the text skipped the NER model)."""
        pattern = _ADDRESS_RE if any(ch.isupper() for ch in text) else _ADDRESS_LOWER_RE
        results = [RecognizerResult("ADDRESS", match.start(), _address_end(text, match.end()), 0.9)
                   for match in pattern.finditer(text)]
        results += [RecognizerResult("ADDRESS", match.start("line"), match.end("line"), 0.85)
                    for match in _GIVEN_ADDRESS_RE.finditer(text) if _given_home(text, match)]
        for ent in nlp_artifacts.entities if nlp_artifacts is not None else ():
            if (getattr(ent, "label_", None) in _PLACE_LABELS
                    and _CUE_BEFORE_PLACE_RE.search(text[max(0, ent.start_char - 40):
                                                           ent.start_char])):
                results.append(RecognizerResult("LOCATION", ent.start_char, ent.end_char, 0.8))
        return results
