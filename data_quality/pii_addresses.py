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
# Street words that come before the street's name in French, Spanish, Catalan, Italian, Portuguese
# and Polish addresses; the lower-case particles that may follow them.
_PREFIX_STREETS = (r"rue|avenue|boulevard|bd|allée|chemin|impasse|quai|calle|avenida|avda\.|carrer|via|viale|"
                   r"piazza|corso|rua|travessa|ul\.|ulica|aleja")
_PREFIX_STREET = rf"(?i:{_PREFIX_STREETS})"
_PREFIX_STREET_CASED = (r"\b(?:Rue|Avenue|Boulevard|Allée|Chemin|Impasse|Quai|Calle|Avenida|Avda\.|Carrer|Via|"
                        r"Viale|Piazza|Corso|Rua|Travessa|ul\.|Ulica|Aleja)")
_PARTICLES = r"(?:(?:de|del|de la|de los|de las|des|du|di|da|do|dos|das|della|la|le|les|l'|d'|y)[ \t]+)*"


def _address_re(cased: bool) -> re.Pattern[str]:
    """Street-address pattern. In cased text the street name is capitalised ("40 minutes just
    to place" is no address); all-lower-case text gets the case-blind variant."""
    word = r"[^\W\d_a-z][\w'’.-]*" if cased else r"[^\W\d_][\w'’.-]*"
    street = rf"(?:{_STREET_WORDS.title()}|{_STREET_WORDS.upper()})" if cased else (
        rf"(?i:{_STREET_WORDS})")
    return re.compile(
        rf"\b\d{{1,6}}[A-Za-z]?(?:[ \t]+\d{{1,5}})?[ \t]+(?:{word}[ \t]+){{0,4}}?"
        rf"{street}\b\.?(?:[ \t]+\d{{1,5}})?{_UNIT}"
        # "Koskikatu 25", "Hauptstraße 5": the street word ends the name, the number follows.
        rf"|\b[^\W\d_]+(?i:straße|strasse|str\.|gasse|weg|platz|katu|gatan|vej|gade|laan|straat)"
        rf"[ \t]+\d{{1,5}}[A-Za-z]?{_UNIT}"
        r"|\b(?i:p\.?[ \t]?o\.?[ \t]?box)[ \t]+\d+"
        # A unit designator with its number ("Apt. 595", "Suite 501") and the "<street> <house
        # number>" line right before it, whatever the street's language ("28245 Puruntie 82 Apt. 595").
        rf"|(?:\b\d{{1,6}}[ \t]+)?(?:{word}[ \t]+){{1,3}}\d{{1,5}}[A-Za-z]?{_LINE_GAP}{_UNIT_WORD}"
        # Alone, only ahead of the address's next line or number ("Apt. 675 62314 Mellemvej"):
        # "Suite 16 is my favourite track", "Unit 2 stopped working" are no addresses.
        rf"|\b{_UNIT_WORD}(?=[ \t]*(?:[,\n]|\d))"
        # Romance and Slavic streets, the street word first: "12 rue de la Paix", "Calle Mayor 5",
        # "ul. Słowicza 10".
        rf"|\b\d{{1,5}}[A-Za-z]?,?[ \t]+{_PREFIX_STREET}[ \t]+{_PARTICLES}{word}(?:[ \t]+{word}){{0,2}}"
        rf"|{_PREFIX_STREET_CASED}[ \t]+{_PARTICLES}{word}(?:[ \t]+{word}){{0,2}},?[ \t]+\d{{1,5}}[A-Za-z]?"
        r"(?=[ \t]*(?:[,\n]|$))"
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
# A line given as an address ("his address: 450 Præstevænget 15, København V", "my new address is
# 12 Oak Row"): what follows the word, to the end of the line or sentence, when it starts with a
# house number within a few characters and holds a capitalised word.
_GIVEN_ADDRESS_RE = re.compile(
    r"(?i:\baddress(?:[ \t]+is)?[ \t]*:?[ \t]+(?:is[ \t]+)?)"
    r"(?P<line>(?=[^\n.!?]{0,12}\d)(?=[^\n.!?]*[^\W\d_a-z])[^\n!?]{3,80}?)(?=[.!?]?[ \t]*(?:\n|$)|[.!?][ \t])"
)
# Sentences that tie a place to a person.
PERSONAL_PLACE_CUE_RE = re.compile(
    r"(?i)\b(?:live|lives|living|lived|grew up|born|raised|moved|moving|reside|resides|residing|"
    r"resident|hometown|home town|address|located|i'm from|i am from|is from|am from|"
    r"are from|was from|come from|comes from)\b"
)
# The cue must stand in the same sentence, shortly before the place.
_CUE_BEFORE_PLACE_RE = re.compile(PERSONAL_PLACE_CUE_RE.pattern + r"[^.!?\n]{0,25}$")
_PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})


def _address_end(text: str, end: int) -> int:
    for _ in range(_MAX_TAIL_PARTS):
        match = _ADDRESS_TAIL_RE.match(text, end)
        if match is None:
            break
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
                    for match in _GIVEN_ADDRESS_RE.finditer(text)]
        for ent in nlp_artifacts.entities if nlp_artifacts is not None else ():
            if (getattr(ent, "label_", None) in _PLACE_LABELS
                    and _CUE_BEFORE_PLACE_RE.search(text[max(0, ent.start_char - 40):
                                                           ent.start_char])):
                results.append(RecognizerResult("LOCATION", ent.start_char, ent.end_char, 0.8))
        return results
