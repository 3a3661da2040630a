"""Person names from a spaCy NER model, kept only where the words support a name.

The small English model tags a PERSON in 7.5 % of real reviews (measured on the shared review
files: "Kindle", "Best Buy", "Echo Dot", "Grandson"...) and misses lower-case or foreign names in
the Presidio samples. So an NER entity is only evidence: a span becomes PERSON when its words
back it and none is product vocabulary. Backing, strongest first:

- a census given name that is no English word ("Sandra"; not "Grace" or "Florida" alone);
- a capitalised word with non-ASCII letters outside the English word list ("Sjöberg");
- for a PERSON entity also: a census given name followed by a census surname ("John Smith"), or
  a capitalised word outside the English list (a census name if it opens the sentence).

A strong given name the model left untagged becomes PERSON on its own, with the capitalised
non-English words that follow it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.tokens import Doc, Token

from data_quality.pii_addresses import PERSONAL_PLACE_CUE_RE
from data_quality.pii_vocabulary import (
    COMMON_GIVEN_RANK, COMMON_SURNAME_RANK, EnglishWords, is_product)

# NER labels under which the small model files names it is unsure of ("Irena Bílá" as ORG);
# a place label needs a given name to count ("Florida" is a census given name, rank 1,628).
_NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP", "FAC", "PRODUCT", "WORK_OF_ART",
                          "EVENT", "LOC", "CARDINAL"})
_PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
# Titles and honorifics stay in the text: "Dr. <PERSON>" (the existing placeholder contract).
_TITLES = frozenset("mr mrs ms miss mx dr prof sir madam".split())
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


@dataclass(frozen=True)
class NameEvidence:
    """Word lists that decide whether a word can be part of a name.

    Attributes:
        given: census given names -> rank; surnames: census surnames -> rank;
        english: English words; allow: product vocabulary (see :mod:`data_quality.pii_vocabulary`).
    """

    given: dict[str, int]
    surnames: dict[str, int]
    english: EnglishWords
    allow: frozenset[str]

    def name_shaped(self, word: str) -> bool:
        """Capitalised, not all capitals ("AI", "LOVE"), at least two letters, no product."""
        return (len(word) >= 2 and word[0].isupper() and not word.isupper()
                and not is_product(word.lower(), self.allow))

    def _census_name(self, lower: str, ranks: dict[str, int], common: int) -> bool:
        if lower not in ranks:
            return False
        if not self.english.contains(lower):
            return True
        return ranks[lower] <= common and lower not in self.english.not_nouns

    def is_given(self, word: str) -> bool:
        """A census given name that is no English word, or a common one that is only a noun."""
        return self._census_name(word.lower(), self.given, COMMON_GIVEN_RANK)

    def is_surname(self, word: str) -> bool:
        """A census surname that is no English word, or a common one that is only a noun."""
        return self._census_name(word.lower(), self.surnames, COMMON_SURNAME_RANK)

    def strong(self, word: str) -> bool:
        """A name whatever the model says: a given name, or a word with non-ASCII letters
        outside the English word list ("Sjöberg")."""
        return self.is_given(word) or (len(word) >= 3 and not word.isascii()
                                       and not self.english.contains(word.lower()))

    def weak(self, word: str, sentence_start: bool) -> bool:
        """Backs a PERSON entity: a surname, or no English word (and then a census name when it
        opens a sentence, where misspellings get capitalised too: "Awseome")."""
        lower = word.lower()
        if self.is_surname(word):
            return True
        if self.english.contains(lower):
            return False
        return not sentence_start or lower in self.given or lower in self.surnames

    def may_hold_name(self, text: str) -> bool:
        """Cheap pre-filter: can ``text`` yield a PERSON (or a personal place) at all?

        True when some word is name-shaped and a census name or no English word, or the text
        ties a place to a person; the NER model is spared every other text. Its recall cost is
        measured by ``benchmarks/pii_recall.py``.
        """
        for match in _WORD_RE.finditer(text):
            word = match.group(0)
            if self.name_shaped(word) and (self.strong(word) or self.is_surname(word)
                                           or not self.english.contains(word.lower())):
                return True
        return bool(PERSONAL_PLACE_CUE_RE.search(text))

    def truecase(self, text: str) -> str:
        """``text`` with given names (and a surname or non-English word after each)
        capitalised, when the text has no capital at all: the NER model reads case, chat-style
        text drops it. Same length as ``text``, so offsets carry over to the original."""
        if any(ch.isupper() for ch in text):
            return text
        chars = list(text)
        words = list(_WORD_RE.finditer(text))
        for i, match in enumerate(words):
            if self.is_given(match.group(0)):
                chars[match.start()] = chars[match.start()].upper()
                nxt = words[i + 1] if i + 1 < len(words) else None
                if (nxt is not None and text[match.end():nxt.start()] == " "
                        and (self.is_surname(nxt.group(0))
                             or not self.english.contains(nxt.group(0)))):
                    chars[nxt.start()] = chars[nxt.start()].upper()
        return "".join(chars)


# A speaker turn or signature line: "Heather: I'm ...", ">Fletcher Hill".
_SPEAKER_RE = re.compile(r"(?m)^[ \t>]*(?P<name>[^\W\d_][\w'’-]*(?:[ \t]+[^\W\d_][\w'’.-]*){0,2})"
                         r"[ \t]*(?::|$)")
# A coordinated list of capitalised items: "Mazzi, Bowman and Hill", "Jon, Neil and Tony".
_ITEM = r"(?<![\w'’-])(?!(?:and|or)\b)[^\W\d_][\w'’-]*(?:[ \t]+[A-Z][\w'’-]*)?"
_LIST_RE = re.compile(rf"{_ITEM}(?:,[ \t]*{_ITEM})*,?[ \t]+(?:and|&|or)[ \t]+{_ITEM}")
_LIST_ITEM_RE = re.compile(_ITEM)


class NameRecognizer(EntityRecognizer):
    """Presidio recognizer for ``PERSON`` from the spaCy entities in ``nlp_artifacts``, the
    census gazetteer, speaker lines, and names coordinated with or repeating a found name."""

    def __init__(self, evidence: NameEvidence) -> None:
        self.evidence = evidence
        super().__init__(supported_entities=["PERSON"], name="EdgeInsightsNameRecognizer",
                         supported_language="en")

    def load(self) -> None:
        """Nothing to load: the word lists come in through the constructor."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        """PERSON results over ``text`` from the entities of ``nlp_artifacts.tokens`` (a Doc
        whose text is ``text`` or its :meth:`NameEvidence.truecase` form)."""
        if nlp_artifacts is None or not isinstance(nlp_artifacts.tokens, Doc):
            return []
        doc = nlp_artifacts.tokens
        spans = {span for ent in doc.ents if ent.label_ in _NAME_LABELS
                 if (span := self._entity_name(list(ent), ent.label_)) is not None}
        spans |= set(self._gazetteer_names(doc, spans))
        spans |= set(self._speaker_names(doc.text))
        spans |= set(self._coordinated_names(doc.text, spans))
        spans |= set(self._repeated_names(doc.text, spans))
        return [RecognizerResult("PERSON", start, end, 0.85) for start, end in sorted(spans)]

    def _entity_name(self, tokens: list[Token], label: str) -> tuple[int, int] | None:
        while tokens and (tokens[0].lower_.rstrip(".") in _TITLES or not tokens[0].is_alpha):
            tokens = tokens[1:]
        while tokens and not tokens[-1].is_alpha:
            tokens = tokens[:-1]
        evidence = self.evidence
        if not tokens or not all(evidence.name_shaped(token.text) for token in tokens):
            return None
        backed = any(evidence.strong(token.text) for token in tokens)
        if label == "PERSON":
            backed = backed or any(evidence.weak(token.text, bool(token.is_sent_start))
                                   for token in tokens)
        elif label not in _PLACE_LABELS:
            backed = backed or any(evidence.is_surname(token.text) for token in tokens)
        if not backed:
            return None
        return tokens[0].idx, tokens[-1].idx + len(tokens[-1])

    def _gazetteer_names(self, doc: Doc, found: set[tuple[int, int]]
                         ) -> Iterable[tuple[int, int]]:
        evidence = self.evidence
        covered = {i for start, end in found for i in range(start, end)}
        tokens = list(doc)
        i = 0
        while i < len(tokens):
            word = tokens[i].text
            if (tokens[i].idx not in covered and tokens[i].is_alpha
                    and evidence.name_shaped(word) and evidence.is_given(word)):
                end = i + 1
                while (end < len(tokens) and tokens[end].is_alpha
                       and evidence.name_shaped(tokens[end].text)
                       and evidence.weak(tokens[end].text, sentence_start=False)):
                    end += 1
                yield tokens[i].idx, tokens[end - 1].idx + len(tokens[end - 1])
                i = end
            else:
                i += 1

    def _is_name(self, words: list[str]) -> bool:
        evidence = self.evidence
        return bool(words) and all(evidence.name_shaped(word) and (
            evidence.strong(word) or evidence.weak(word, sentence_start=False))
            for word in words)

    def _speaker_names(self, text: str) -> Iterable[tuple[int, int]]:
        for match in _SPEAKER_RE.finditer(text):
            if self._is_name(match.group("name").split()):
                yield match.start("name"), match.end("name")

    def _coordinated_names(self, text: str, found: set[tuple[int, int]]
                           ) -> Iterable[tuple[int, int]]:
        """Items of a list one of whose items is a found name and that look like names."""
        for match in _LIST_RE.finditer(text):
            items = list(_LIST_ITEM_RE.finditer(text, match.start(), match.end()))
            if not any(start < item.end() and item.start() < end
                       for item in items for start, end in found):
                continue
            evidence = self.evidence
            for item in items:
                # Beside a name, any census name counts ("Bowman and Hill").
                if all(evidence.name_shaped(word) and (
                        word.lower() in evidence.given or word.lower() in evidence.surnames
                        or not evidence.english.contains(word.lower()))
                       for word in item.group(0).split()):
                    yield item.start(), item.end()

    @staticmethod
    def _repeated_names(text: str, found: set[tuple[int, int]]) -> Iterable[tuple[int, int]]:
        """Other occurrences of a found name ("Hakuba had given Hakuba his address")."""
        for name in {text[start:end] for start, end in found}:
            for match in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", text):
                yield match.start(), match.end()
