"""Person names: NER entities the words back, plus the gazetteer and five text rules.

A model entity becomes PERSON when its words back a name (see
:mod:`data_quality.pii_name_evidence`): any entity on a census given name; a PERSON entity also on
a surname or a non-English word; another label also on a surname or a non-ASCII word ("Irena
Bílá" tagged ORG), a place label only outside "in/from/at ...". A lone word used as a modifier
("the Pokemon craze", "Samsung Cell") and a multi-word span holding an English word nobody is
called ("Del Taco") are not names. Then, over the text:

- a census given name the model left untagged, with the surname-like words that follow it;
- a speaker turn or signature line ("Heather: I'm ...", ">Fletcher Hill");
- a given name someone thanks, asks for or gives a role, English word or not ("ask for Lee");
- a word of a script without capitals after such a cue, a kin word or a title ("my friend 田中太郎");
- the other items of a list that holds a found name ("Mazzi, Bowman and Hill"), and the items
  of a list of name words only ("Alonso and Lee");
- every other occurrence of a found name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from data_quality.pii import CONTRACTION_RE, TITLES, with_honorifics
from data_quality.pii_name_evidence import (
    ADDRESS_WORDS, CASELESS_CUE_RE, CASELESS_NEXT_PLURAL_RE, CASELESS_NEXT_RE, DETERMINERS, NAME_CUE_RE,
    PERSON_CUE_RE, WORD_RE, NameEvidence, opens_sentence)
from data_quality.pii_ner import NerArtifacts, NerEntity
from data_quality.pii_vocabulary import CALENDAR_WORDS, COMMON_GIVEN_RANK, COMMON_LONE_SURNAME_RANK

# NER labels under which the small model files names it is unsure of ("Irena Bílá" as ORG).
_NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP", "FAC", "PRODUCT", "WORK_OF_ART",
                          "EVENT", "LOC", "CARDINAL"})
_PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
# A speaker turn or signature line: "Heather: I'm ...", ">Fletcher Hill".
_SPEAKER_RE = re.compile(r"(?m)^[ \t>]*"
                         r"(?P<name>[^\W\d_][\w'’-]*(?:[ \t]+[^\W\d_][\w'’.-]*){0,2})"
                         r"[ \t]*(?::|$)")
# A coordinated list of capitalised items: "Mazzi, Bowman and Hill", "Jon, Neil and Tony".
_ITEM = r"(?<![\w'’-])(?!(?:and|or)\b)[^\W\d_][\w'’-]*(?:[ \t]+[A-Z][\w'’-]*)?"
# At most _LIST_ITEMS items before the last: an unbounded run ("A, B, C, …" with no "and") was
# scanned to its end from every item, quadratic in its length; a longer list is read by its tail.
_LIST_ITEMS = 30
_LIST_RE = re.compile(rf"{_ITEM}(?:,[ \t]*{_ITEM}){{0,{_LIST_ITEMS}}},?[ \t]+(?:and|&|or)[ \t]+{_ITEM}")
_LIST_ITEM_RE = re.compile(_ITEM)
_POSSESSIVE_RE = re.compile(r"['’]s$")
# First words of place names ("St. Louis", "Fort Steele", "San Luis").
_PLACE_PREFIXES = frozenset("st saint san santa fort mount mt lake port new".split())
# A house number earlier on the same line: what follows is a street or a town ("77 Příční").
_ADDRESS_LINE_RE = re.compile(r"\d[^\n]*$")
# A middle initial inside a name ("Soib K. Kishiev"): neither evidence nor an objection.
_INITIAL_RE = re.compile(r"[A-Z]")
_WORD_CHAR = re.compile(r"\w").match
_PLACE_PREPOSITION_RE = re.compile(r"(?i)\b(?:in|from|at|to|near|of|via|visit|visited)\s+$")
# A capitalised word right after a name: the name may begin a thing's name ("Rose Gold").
_CAPITALISED_NEXT_RE = re.compile(r"[ \t]+[A-Z]")
_CONJUNCTION_RE = re.compile(r"\s*[,:;\"“”()!?]\s*|\s+(?:and|&|or)\s+")


def _without_lead_word(item: re.Match[str]) -> tuple[int, int, str]:
    """A list item's span and text without a lower-case word before its capitalised one: the
    list "to Hermansen and Lowery" is of "Hermansen" and "Lowery"."""
    words = item.group(0).split()
    if len(words) == 2 and not words[0][0].isupper():
        start = item.start() + item.group(0).index(words[1], len(words[0]))
        return start, item.end(), words[1]
    return item.start(), item.end(), item.group(0)


def _parts(text: str, ent: NerEntity) -> Iterable[NerEntity]:
    """``ent`` cut at conjunctions and punctuation: the model tags "Sjöberg and Cantu" as one
    ORG, and runs a speaker turn into the next name (``Heather:"I'm Daniel``)."""
    start = ent.start_char
    for match in _CONJUNCTION_RE.finditer(text, ent.start_char, ent.end_char):
        yield NerEntity(start, match.start(), ent.label_)
        start = match.end()
    yield NerEntity(start, ent.end_char, ent.label_)


class NameRecognizer(EntityRecognizer):
    """Presidio recognizer for ``PERSON`` over :class:`~data_quality.pii_ner.NerArtifacts`."""

    def __init__(self, evidence: NameEvidence) -> None:
        self.evidence = evidence
        super().__init__(supported_entities=["PERSON"], name="EdgeInsightsNameRecognizer",
                         supported_language="en")

    def load(self) -> None:
        """Nothing to load: the word lists come in through the constructor."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        """PERSON results over ``text``; none when the NER step skipped it (the pre-filter
        found no word that can be a name)."""
        if not isinstance(nlp_artifacts, NerArtifacts) or nlp_artifacts.cased_text is None:
            return []
        cased = nlp_artifacts.cased_text  # same offsets as text, names capitalised
        spans = {span for ent in nlp_artifacts.entities if ent.label_ in _NAME_LABELS
                 for part in _parts(cased, ent)
                 if (span := self._entity_name(cased, part)) is not None}
        spans |= set(self._gazetteer_names(cased, spans))
        spans |= set(self._speaker_names(cased))
        spans |= set(self._introduced_names(cased))
        spans |= set(self._credited_names(cased))
        spans |= set(self._caseless_names(cased))
        spans |= set(self._coordinated_names(cased, spans))
        spans |= set(self._repeated_names(cased, spans))
        return [RecognizerResult("PERSON", start, end, 0.85)
                for start, end in sorted(with_honorifics(cased, spans))]

    def _entity_name(self, text: str, ent: NerEntity) -> tuple[int, int] | None:
        evidence = self.evidence
        # A title is no evidence of a name; it joins the name at the end (with_honorifics).
        words = [w for w in WORD_RE.finditer(text, ent.start_char, ent.end_char)
                 if w.group(0).lower() not in TITLES]
        # The model's span may take in a neighbour ("ex-Zombie Lindström", "the Vogt novel"),
        # or a role before the name ("Producer Gherardo Napolitani").
        while words and (not evidence.name_shaped(words[0].group(0))
                         or len(words) > 1 and self._plain_word(words[0].group(0))):
            words = words[1:]
        while words and not evidence.name_shaped(words[-1].group(0)):
            words = words[:-1]
        inner = [w.group(0) for w in words if not _INITIAL_RE.fullmatch(w.group(0))]
        if not inner or not all(map(evidence.name_shaped, inner)):
            return None
        alone = len(inner) == 1
        if inner[0].lower().rstrip(".") in _PLACE_PREFIXES or not alone and any(
                map(self._plain_word, inner)):
            # "St. Louis"; "Del Taco", "Samsung Tab", "Bussell Sprouts": a name has no
            # English word that no one is called.
            return None
        backed = any(map(evidence.is_given, inner))
        if ent.label_ == "PERSON":
            backed = backed or any(
                evidence.strong(w.group(0))
                or evidence.weak(w.group(0), opens_sentence(text, w.start()), alone)
                for w in words if w.group(0) in inner)
        elif ent.label_ not in _PLACE_LABELS or not _PLACE_PREPOSITION_RE.search(
                text, max(0, words[0].start() - 12), words[0].start()):
            # Outside "in/from/at ..." a place label on a surname or a foreign-looking word is
            # the model's mistake ("What's your last name? Nielsen", "says Yudina"), while
            # "grew up in Poznań" is a place.
            backed = backed or any(evidence.strong(word) or evidence.is_surname(word, alone)
                                   for word in inner)
        if not backed or len(words) == 1 and self._modifier(text, words[0]):
            return None
        return words[0].start(), words[-1].end()

    def _plain_word(self, word: str) -> bool:
        """An English word that no census name spells ("Producer", "Taco", "Tab")."""
        lower = word.lower()
        return (self.evidence.english.contains(lower) and lower not in self.evidence.given
                and lower not in self.evidence.surnames)

    def _modifier(self, text: str, word: re.Match[str]) -> bool:
        """A lone word used as a modifier is a brand, not a person: after a determiner,
        possessive, date or place word ("the Pokemon craze", "her Elmo videos", "Christmas
        Eve", "St. Louis") or before a product noun ("Samsung Cell", "Kasa Cam")."""
        before = text[max(0, word.start() - 10):word.start()].lower().split()
        if before and (before[-1] in DETERMINERS or before[-1] in CALENDAR_WORDS
                       or before[-1].rstrip(".") in _PLACE_PREFIXES):
            return True
        after = WORD_RE.match(text, word.end() + 1)
        if text[word.end():word.end() + 1] != " " or after is None:
            return False
        # Only a product noun counts: the catalogue also holds "and", "for", "smart"...
        noun = after.group(0).lower()
        return noun in self.evidence.allow and noun not in self.evidence.english.not_nouns

    def _gazetteer_names(self, text: str, found: set[tuple[int, int]]
                         ) -> Iterable[tuple[int, int]]:
        evidence = self.evidence
        covered = {i for start, end in found for i in range(start, end)}
        words = list(WORD_RE.finditer(text))
        i = 0
        while i < len(words):
            word = words[i].group(0)
            if (words[i].start() not in covered and evidence.name_shaped(word)
                    and (evidence.is_given(word) or evidence.strong(word)
                         and not _ADDRESS_LINE_RE.search(text, 0, words[i].start()))):
                end = i + 1
                while (end < len(words) and text[words[end - 1].end():words[end].start()] == " "
                       and evidence.name_shaped(words[end].group(0))
                       and evidence.weak(words[end].group(0), sentence_start=False,
                                         alone=False)):
                    end += 1
                if end > i + 1 or not self._modifier(text, words[i]):
                    yield words[i].start(), words[end - 1].end()
                i = end
            else:
                i += 1

    def _introduced_names(self, text: str) -> Iterable[tuple[int, int]]:
        """The words after a :data:`NAME_CUE_RE` cue, up to the first that is an English word
        no one is called, a function word or a contraction ("call me owen", "call me philipp";
        "call me crazy", "said my wife", "call me I'll tell them" hold no name)."""
        for match in NAME_CUE_RE.finditer(text):
            end = None
            for word in WORD_RE.finditer(text, match.start("name"), match.end("name")):
                lower = word.group(0).lower()
                if (self._plain_word(lower) or lower in self.evidence.english.not_nouns
                        or CONTRACTION_RE.search(word.group(0))):
                    break
                end = word.end()
            if end is not None:
                yield match.start("name"), end

    def _credited_names(self, text: str) -> Iterable[tuple[int, int]]:
        """A common census given name, English word or not, that a :data:`PERSON_CUE_RE` cue
        thanks, asks for or gives a role ("ask for Lee", "Friday Mark was our server", "thanks to
        Uncle Bill"), with a very common or surname-like surname after it ("thanks to Mark Hill").
        Not in title-case text ("Our Server Will Be With You"), nor before a noun or another
        capitalised word, where the name begins a thing's name ("thanks to Grace period", "ask for
        Rose Gold", "Chase Bank"): the NER model and the tagger judge those."""
        evidence = self.evidence
        for match in PERSON_CUE_RE.finditer(text):
            subject = match.start("name") < 0
            group = "subject" if subject else "name"
            words = list(WORD_RE.finditer(text, match.start(group), match.end(group)))
            cue = text[match.end(group):match.end()] if subject else text[match.start():match.start(group)]
            # Title case: a cue word past the sentence's first is capitalised ("Our Server Will …").
            if any(word[0].isupper() for word in cue.split()[0 if subject else 1:]):
                continue
            if subject and len(words) > 1 and not self._given(words[0].group(0)):
                words = words[1:]  # "Friday Mark was our server"
            while len(words) > 1 and words[0].group(0).lower() in ADDRESS_WORDS:
                words = words[1:]  # "Coach Will", "Uncle Bill"
            if not words or not self._given(first := words[0].group(0)) or not evidence.name_shaped(first):
                continue
            end = words[0].end()
            if len(words) > 1:
                last = words[1].group(0)
                if not evidence.name_shaped(last) or not (
                        evidence.surnames.get(last.lower(), COMMON_LONE_SURNAME_RANK + 1) <= COMMON_LONE_SURNAME_RANK
                        or evidence.weak(last, sentence_start=False, alone=False)):
                    continue
                end = words[1].end()
            if not evidence.thing_after(text, end) and not _CAPITALISED_NEXT_RE.match(text, end):
                yield words[0].start(), end

    def _given(self, word: str) -> bool:
        """A census given name no English word spells, or a common one (rank up to
        :data:`~data_quality.pii_vocabulary.COMMON_GIVEN_RANK`) that is ("Lee", "Rose")."""
        return (self.evidence.is_given(word)
                or self.evidence.given.get(word.lower(), COMMON_GIVEN_RANK + 1) <= COMMON_GIVEN_RANK)

    def _caseless_names(self, text: str) -> Iterable[tuple[int, int]]:
        """One to three words of a script without capitals after a :data:`CASELESS_CUE_RE` kin or
        role word or title ("my friend 田中太郎", "Dr. राहुल कुमार शर्मा", "my friend ジョン・スミス"),
        up to the first word with case, plus a capitalised surname-like or given name right after
        them ("my friend 田中 Kenji"), and the caseless names listed after it
        (:data:`CASELESS_NEXT_RE`: "my friend 田中太郎、山田花子"; after a plural cue
        :data:`CASELESS_NEXT_PLURAL_RE`: "my sons 李明 and 王伟")."""
        evidence = self.evidence
        for match in CASELESS_CUE_RE.finditer(text):
            end = self._caseless_end(match)
            if end is None:
                continue
            after = WORD_RE.match(text, end + 1)
            if (text[end:end + 1] == " " and after is not None and evidence.name_shaped(after.group(0))
                    and (evidence.strong(after.group(0)) or evidence.weak(after.group(0), False, alone=False))):
                end = after.end()
            yield match.start("name"), end
            listing = CASELESS_NEXT_PLURAL_RE if match.group("plural") else CASELESS_NEXT_RE
            while (listed := listing.match(text, end)) and (end := self._caseless_end(listed)):
                yield listed.start("name"), end

    def _caseless_end(self, match: re.Match[str]) -> int | None:
        """End of the caseless words that open ``match``'s ``name`` group; None when none does."""
        end = None
        for word in re.finditer(r"\S+", match.group("name")):
            if not self.evidence.caseless(word.group(0)):
                break
            end = match.start("name") + word.end()
        return end

    def _speaker_names(self, text: str) -> Iterable[tuple[int, int]]:
        """Speaker turns ("Vsevolod: ...") take any non-English name-shaped words; a bare
        signature line needs census or non-ASCII names (a one-word review is no signature)."""
        evidence = self.evidence
        for match in _SPEAKER_RE.finditer(text):
            words = match.group("name").split()
            turn = text[match.end("name"):match.end()].strip() == ":"
            if all(evidence.name_shaped(word) and (
                    evidence.strong(word) or evidence.is_surname(word)
                    or word.lower() in evidence.given
                    or turn and not evidence.english.contains(word.lower()))
                   for word in words):
                yield match.start("name"), match.end("name")

    def _coordinated_names(self, text: str, found: set[tuple[int, int]]) -> Iterable[tuple[int, int]]:
        """Items that look like names of a list that holds a found name, or of a list made only
        of name words one of which the census lists ("Alonso and Lee", "Kovalev, Lee and
        Phillips"): people are listed with people. A list with a plain English word ("Crate and
        Barrel") or a product word is no list of names. Beside a found name, a common census name
        that resembles a product word is a name ("Phillips", not philips), unless a noun follows
        the list ("Ikea, Lidl and Phillips bulbs": brands)."""
        evidence = self.evidence
        for match in _LIST_RE.finditer(text):
            items = [_without_lead_word(item)
                     for item in _LIST_ITEM_RE.finditer(text, match.start(), match.end())]
            words = [word for _, _, item in items for word in item.split()]
            anchored = any(start < item_end and item_start < end
                           for item_start, item_end, _ in items for start, end in found)
            if not anchored and not (
                    all(evidence.name_shaped(word) and not self._plain_word(word) for word in words)
                    and any(word.lower() in evidence.given or word.lower() in evidence.surnames
                            for word in words)):
                continue
            among_names = anchored and not self._noun_after(text, match.end())
            for start, end, item in items:
                # Beside a name, any census name counts ("Bowman and Hill").
                if all(evidence.name_shaped(word, among_names=among_names) and (
                        word.lower() in evidence.given or word.lower() in evidence.surnames
                        or not evidence.english.contains(word.lower()))
                       for word in item.split()):
                    yield start, end - 2 if _POSSESSIVE_RE.search(item) else end  # "Jonas's house"

    def _noun_after(self, text: str, end: int) -> bool:
        """Whether a lower-case English noun (no verb, adjective or function word) follows
        ``text[:end]`` after one space: the words before it name kinds of product."""
        after = WORD_RE.match(text, end + 1)
        if text[end:end + 1] != " " or after is None or not after.group(0).islower():
            return False
        noun = after.group(0)
        return self.evidence.english.contains(noun) and noun not in self.evidence.english.not_nouns

    @staticmethod
    def _repeated_names(text: str, found: set[tuple[int, int]]) -> Iterable[tuple[int, int]]:
        """Other occurrences of a found name ("Hakuba had given Hakuba his address")."""
        for name in {text[start:end] for start, end in found if end > start}:
            at = text.find(name)
            while at >= 0:
                end = at + len(name)
                if at and _WORD_CHAR(text[at - 1]) or end < len(text) and _WORD_CHAR(text[end]):
                    at = text.find(name, at + 1)
                else:
                    yield at, end
                    at = text.find(name, end)
