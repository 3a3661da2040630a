"""Person names from a spaCy NER model, kept only where the words support a name.

The small English model tags a PERSON in 7.5 % of real reviews (measured on the shared review
files: "Kindle", "Best Buy", "Echo Dot", "Grandson"...) and misses lower-case or foreign names in
the Presidio samples. So an NER entity is only evidence: a span becomes PERSON when its words
back it (a census given name, or capitalised words outside the English word list) and none is
product vocabulary; a census given name the model left untagged becomes PERSON on its own when it
is no English word ("Sandra", not "Grace").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.tokens import Doc, Token

# NER labels under which the small model files names it is unsure of ("Irena Bílá" as ORG).
_NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP", "FAC", "PRODUCT", "WORK_OF_ART",
                          "EVENT", "LOC"})
# Titles and honorifics stay in the text: "Dr. <PERSON>" (the existing placeholder contract).
_TITLES = frozenset("mr mrs ms miss mx dr prof sir madam".split())
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def may_hold_name(text: str, given: frozenset[str], allow: frozenset[str]) -> bool:
    """Cheap pre-filter: can ``text`` hold a person name the NER step would accept?

    True when a word is a census given name, or a capitalised word that is neither the first
    of its sentence nor product vocabulary ("I" excluded). Texts failing it skip the NER model;
    its recall cost is measured by ``benchmarks/pii_recall.py``.
    """
    sentence_start = True
    for match in _WORD_RE.finditer(text):
        word = match.group(0)
        lower = word.lower()
        if lower in given and lower not in allow:
            return True
        if (word[0].isupper() and not sentence_start and lower not in allow and word != "I"):
            return True
        tail = text[match.end():match.end() + 2]
        sentence_start = bool(tail) and tail[0] in ".!?\n"
    return False


def truecase(text: str, given: frozenset[str], english: frozenset[str]) -> str:
    """``text`` with given names (and the non-English word after each) capitalised, when the
    text has no capital at all; the NER model reads case, and chat-style text drops it.
    Same length as ``text``, so offsets into it are offsets into the original."""
    if any(ch.isupper() for ch in text):
        return text
    chars = list(text)
    words = list(_WORD_RE.finditer(text))
    for i, match in enumerate(words):
        if match.group(0) in given:
            chars[match.start()] = chars[match.start()].upper()
            nxt = words[i + 1] if i + 1 < len(words) else None
            if (nxt is not None and text[match.end():nxt.start()] == " "
                    and nxt.group(0) not in english):
                chars[nxt.start()] = chars[nxt.start()].upper()
    return "".join(chars)


class NameRecognizer(EntityRecognizer):
    """Presidio recognizer for ``PERSON`` from the spaCy entities in ``nlp_artifacts``.

    Args:
        given: lower-case given names (:func:`~data_quality.pii_vocabulary.given_names`).
        english: lower-case English words (:func:`~data_quality.pii_vocabulary.english_words`).
        allow: lower-case product vocabulary that is never part of a name.
    """

    def __init__(self, given: frozenset[str], english: frozenset[str],
                 allow: frozenset[str]) -> None:
        self.given, self.english, self.allow = given, english, allow
        super().__init__(supported_entities=["PERSON"], name="EdgeInsightsNameRecognizer",
                         supported_language="en")

    def load(self) -> None:
        """Nothing to load: the word lists come in through the constructor."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        """PERSON results over ``text`` from the entities of ``nlp_artifacts.tokens`` (a Doc)."""
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
        if not tokens or any(token.lower_ in self.allow for token in tokens):
            return None
        if not all(token.text[0].isupper() for token in tokens):
            return None
        words = [token.lower_ for token in tokens]
        backed = words[0] in self.given
        if label == "PERSON":
            backed = backed or any(word not in self.english for word in words)
        if not backed:
            return None
        return tokens[0].idx, tokens[-1].idx + len(tokens[-1])

    def _gazetteer_names(self, doc: Doc, covered: set[int]) -> Iterable[tuple[int, int]]:
        tokens = list(doc)
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if (token.idx not in covered and token.is_alpha and token.text[0].isupper()
                    and token.lower_ in self.given and token.lower_ not in self.english
                    and token.lower_ not in self.allow):
                end = i + 1
                while (end < len(tokens) and tokens[end].is_alpha
                       and tokens[end].text[0].isupper()
                       and tokens[end].lower_ not in self.english
                       and tokens[end].lower_ not in self.allow):
                    end += 1
                yield token.idx, tokens[end - 1].idx + len(tokens[end - 1])
                i = end
            else:
                i += 1
