"""Running the NER model only where a name can be: sentence windows around candidate words.

The model's cost grows with the tokens it reads, and a name decision looks a few tokens around
the word (the small English pipeline's CNN sees four tokens each side). So each text is cut into
sentences, and only the sentences holding a candidate word
(:meth:`~data_quality.pii_name_evidence.NameEvidence.is_candidate`), a personal-place cue, a
name cue (:data:`~data_quality.pii_name_evidence.NAME_CUE_RE`: "call me philipp") or a person
cue (:data:`~data_quality.pii_name_evidence.PERSON_CUE_RE`: "ask for Lee",
:data:`~data_quality.pii_name_evidence.CASELESS_CUE_RE`: "my friend 田中太郎") go
through ``nlp.pipe``, in batches across all texts; entity offsets are mapped back onto the text.
Texts with no such sentence never reach the model (the pre-filter).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from spacy.language import Language

from data_quality.pii_addresses import PERSONAL_PLACE_CUE_RE
from data_quality.pii_name_evidence import CASELESS_CUE_RE, NAME_CUE_RE, PERSON_CUE_RE, WORD_RE, NameEvidence

# Sentence ends: terminal punctuation followed by space, or a line break.
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+|\n+")
# The longest title with its full stop and a space ("Mrs. ").
_TITLE_REACH = 5


@dataclass(frozen=True)
class NerEntity:
    """One model entity: ``text[start:end]`` (offsets into the whole text) labelled ``label_``
    (spaCy's label, e.g. ``PERSON``, ``ORG``, ``GPE``)."""

    start_char: int
    end_char: int
    label_: str


def _sentences(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    for match in _SENTENCE_END_RE.finditer(text):
        if match.start() > start:
            yield start, match.start()
        start = match.end()
    if start < len(text):
        yield start, len(text)


def ner_windows(text: str, evidence: NameEvidence) -> list[tuple[int, int]]:
    """``(start, end)`` of the sentences of ``text`` that the model must read, adjacent ones
    merged (a name's context may run over a sentence end); empty when none."""
    windows: list[tuple[int, int]] = []
    for start, end in _sentences(text):
        sentence = text[start:end]
        if (any(evidence.is_candidate(m.group(0)) for m in WORD_RE.finditer(sentence))
                or PERSONAL_PLACE_CUE_RE.search(sentence) or NAME_CUE_RE.search(sentence)
                or PERSON_CUE_RE.search(sentence)
                # From a few characters before: a title's full stop ends a "sentence" ("Mrs. 王秀英").
                or CASELESS_CUE_RE.search(text, max(0, start - _TITLE_REACH), end)):
            if windows and not text[windows[-1][1]:start].strip():
                windows[-1] = (windows[-1][0], end)
            else:
                windows.append((start, end))
    return windows


def find_entities(nlp: Language, texts: Sequence[str], evidence: NameEvidence,
                  batch_size: int) -> list[list[NerEntity] | None]:
    """Model entities per text, or None for a text none of whose sentences needed the model.

    ``texts`` should already be truecased (:meth:`NameEvidence.truecase`).
    """
    windows = [ner_windows(text, evidence) for text in texts]
    jobs = [(i, start, end) for i, spans in enumerate(windows) for start, end in spans]
    found: list[list[NerEntity] | None] = [[] if spans else None for spans in windows]
    docs = nlp.pipe((texts[i][start:end] for i, start, end in jobs), batch_size=batch_size)
    for (i, start, _), doc in zip(jobs, docs):
        found[i].extend(NerEntity(start + ent.start_char, start + ent.end_char, ent.label_)
                        for ent in doc.ents)
    return found


class NerArtifacts(NlpArtifacts):
    """Presidio NLP artifacts of the windowed NER step.

    Attributes:
        entities: the :class:`NerEntity` list (empty when the model did not run).
        cased_text: the truecased text the model read, or None when it did not run.
    """

    def __init__(self, entities: list[NerEntity] | None, cased_text: str,
                 nlp_engine: NlpEngine) -> None:
        super().__init__(entities=entities or [], tokens=None, tokens_indices=[], lemmas=[],
                         nlp_engine=nlp_engine, language="en")
        self.cased_text = cased_text if entities is not None else None
