"""The tagger as name evidence beside the rule engine's spans.

Each text is read the way the NER step reads it (visible view, truecased, only its
:func:`~data_quality.pii_ner.ner_windows`), and the tagger's words come back in the original
text's offsets. Combining with the engine's spans (:func:`combine`):

- a word the tagger calls PERSON with probability ≥ ``threshold`` is a name word when it is
  name-shaped in the truecased text (:meth:`~data_quality.pii_name_evidence.NameEvidence.
  name_shaped`: capitalised, not all capitals, no product word) — the tagger's vocabulary is
  uncased, so case is the rule side's evidence; name words one space apart join into one span;
- optionally (``veto``) an engine name whose every word the tagger read and gives less than
  ``veto`` is dropped;
- optionally an honorific right before a tagger's name joins it ("Mr. Ford" whole), as the
  engine's own names already do (:func:`~data_quality.pii.with_honorifics`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from commons.visible_text import VisibleText
from data_quality.pii import Span, resolve_overlaps, with_honorifics
from data_quality.pii_name_evidence import NameEvidence
from data_quality.pii_ner import ner_windows
from data_quality.pii_tagger import NameTagger


@dataclass(frozen=True)
class NameWord:
    """A word the tagger read: ``text[start:end]`` of the original text, ``cased`` as the model
    read it (truecased), and its P(PERSON)."""

    start: int
    end: int
    cased: str
    probability: float


def tag_texts(tagger: NameTagger, evidence: NameEvidence, texts: Sequence[str]
              ) -> list[list[NameWord]]:
    """The tagger's words of each text's NER windows, in one batched pass over all texts (a
    text with no window gets an empty list)."""
    views = [VisibleText(text) for text in texts]
    cased = [evidence.truecase(view.text) for view in views]
    windows = [ner_windows(text, evidence) for text in cased]
    tagged = iter(tagger.tag([text[s:e] for text, spans in zip(cased, windows)
                              for s, e in spans]))
    out = []
    for view, text, spans in zip(views, cased, windows):
        words = []
        for offset, _ in spans:
            for word in next(tagged):
                start, end = offset + word.start, offset + word.end
                words.append(NameWord(*view.original_span(start, end), text[start:end],
                                      word.probability))
        out.append(words)
    return out


def tagged_spans(text: str, words: Sequence[NameWord], evidence: NameEvidence,
                 threshold: float) -> list[tuple[int, int]]:
    """PERSON spans of ``text`` from its tagged ``words`` (see the module docstring)."""
    spans: list[tuple[int, int]] = []
    for word in words:
        if word.probability < threshold or not evidence.name_shaped(word.cased):
            continue
        if spans and text[spans[-1][1]:word.start] == " ":
            spans[-1] = (spans[-1][0], word.end)
        else:
            spans.append((word.start, word.end))
    return spans


def _vetoed(span: Span, words: Sequence[NameWord], veto: float) -> bool:
    inside = [w.probability for w in words if w.start < span.end and span.start < w.end]
    return bool(inside) and max(inside) < veto


def combine(text: str, found: Sequence[Span], words: Sequence[NameWord], evidence: NameEvidence,
            threshold: float | None, veto: float | None = None,
            honorifics: bool = False) -> list[Span]:
    """The engine's ``found`` spans of ``text`` with the tagger's evidence (module docstring):
    its name words added at ``threshold`` (None: none added), engine names vetoed below
    ``veto`` (None: none), honorifics joined; non-overlapping, sorted
    (:func:`~data_quality.pii.resolve_overlaps`)."""
    names = [(s.start, s.end) for s in found if s.kind == "PERSON"
             and (veto is None or not _vetoed(s, words, veto))]
    if threshold is not None:
        names += tagged_spans(text, words, evidence, threshold)
    if honorifics:
        names = with_honorifics(text, names)
    return resolve_overlaps([s for s in found if s.kind != "PERSON"]
                            + [Span(s, e, "PERSON") for s, e in names])
