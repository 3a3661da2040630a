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
from data_quality.pii_vocabulary import is_english, is_product

# NER labels under which the small model files names it is unsure of ("Irena Bílá" as ORG).
_NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP", "FAC", "PRODUCT", "WORK_OF_ART",
                          "EVENT", "LOC"})
# Titles and honorifics stay in the text: "Dr. <PERSON>" (the existing placeholder contract).
_TITLES = frozenset("mr mrs ms miss mx dr prof sir madam".split())
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


@dataclass(frozen=True)
class NameEvidence:
    """Word lists (lower case) that decide whether a word can be part of a name.

    Attributes:
        given: census given names; surnames: census surnames; english: English words;
        allow: product vocabulary (see :mod:`data_quality.pii_vocabulary`).
    """

    given: frozenset[str]
    surnames: frozenset[str]
    english: frozenset[str]
    allow: frozenset[str]

    def name_shaped(self, word: str) -> bool:
        """Capitalised, not all capitals ("AI", "LOVE"), at least two letters, no product."""
        return (len(word) >= 2 and word[0].isupper() and not word.isupper()
                and not is_product(word.lower(), self.allow))

    def strong(self, word: str) -> bool:
        """A name-shaped word that is a name whatever the model says (see module doc)."""
        lower = word.lower()
        if is_english(lower, self.english):
            return False
        return lower in self.given or (len(word) >= 3 and not word.isascii())

    def weak(self, word: str, sentence_start: bool) -> bool:
        """A name-shaped word that backs a PERSON entity: no English word, and a census name
        when it opens a sentence (where misspellings get capitalised too: "Awseome")."""
        lower = word.lower()
        if is_english(lower, self.english):
            return False
        return not sentence_start or lower in self.given or lower in self.surnames

    def may_hold_name(self, text: str) -> bool:
        """Cheap pre-filter: can ``text`` yield a PERSON (or a personal place) at all?

        True when some word is name-shaped and a given name or no English word, or the text
        ties a place to a person; the NER model is spared every other text. Its recall cost is
        measured by ``benchmarks/pii_recall.py``.
        """
        for match in _WORD_RE.finditer(text):
            word = match.group(0)
            if self.name_shaped(word) and (word.lower() in self.given
                                           or not is_english(word.lower(), self.english)):
                return True
        return bool(PERSONAL_PLACE_CUE_RE.search(text))

    def truecase(self, text: str) -> str:
        """``text`` with given names (and the non-English word after each) capitalised, when
        the text has no capital at all: the NER model reads case, chat-style text drops it.
        Same length as ``text``, so offsets into it are offsets into the original."""
        if any(ch.isupper() for ch in text):
            return text
        chars = list(text)
        words = list(_WORD_RE.finditer(text))
        for i, match in enumerate(words):
            if match.group(0) in self.given and not is_english(match.group(0), self.english):
                chars[match.start()] = chars[match.start()].upper()
                nxt = words[i + 1] if i + 1 < len(words) else None
                if (nxt is not None and text[match.end():nxt.start()] == " "
                        and not is_english(nxt.group(0), self.english)):
                    chars[nxt.start()] = chars[nxt.start()].upper()
        return "".join(chars)


class NameRecognizer(EntityRecognizer):
    """Presidio recognizer for ``PERSON`` from the spaCy entities in ``nlp_artifacts``."""

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
        spans = [span for ent in doc.ents if ent.label_ in _NAME_LABELS
                 if (span := self._entity_name(list(ent), ent.label_)) is not None]
        covered = {i for start, end in spans for i in range(start, end)}
        spans += self._gazetteer_names(doc, covered)
        return [RecognizerResult("PERSON", start, end, 0.85) for start, end in spans]

    def _entity_name(self, tokens: list[Token], label: str) -> tuple[int, int] | None:
        while tokens and (tokens[0].lower_.rstrip(".") in _TITLES or not tokens[0].is_alpha):
            tokens = tokens[1:]
        while tokens and not tokens[-1].is_alpha:
            tokens = tokens[:-1]
        words = [token.text for token in tokens]
        evidence = self.evidence
        if not words or not all(map(evidence.name_shaped, words)):
            return None
        backed = any(map(evidence.strong, words))
        if label == "PERSON":
            backed = (backed or any(evidence.weak(token.text, token.is_sent_start or token.i == 0)
                                    for token in tokens)
                      or len(words) > 1 and words[0].lower() in evidence.given
                      and words[-1].lower() in evidence.surnames)
        if not backed:
            return None
        return tokens[0].idx, tokens[-1].idx + len(tokens[-1])

    def _gazetteer_names(self, doc: Doc, covered: set[int]) -> Iterable[tuple[int, int]]:
        evidence = self.evidence
        tokens = list(doc)
        i = 0
        while i < len(tokens):
            word = tokens[i].text
            if (tokens[i].idx not in covered and tokens[i].is_alpha
                    and evidence.name_shaped(word) and word.lower() in evidence.given
                    and evidence.strong(word)):
                end = i + 1
                while (end < len(tokens) and tokens[end].is_alpha
                       and evidence.name_shaped(tokens[end].text)
                       and evidence.weak(tokens[end].text, sentence_start=False)):
                    end += 1
                yield tokens[i].idx, tokens[end - 1].idx + len(tokens[end - 1])
                i = end
            else:
                i += 1
