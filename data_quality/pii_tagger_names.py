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

At scrub time (:func:`tag_unclaimed`) the tagger reads less: only windows holding a name-shaped
word the engine did not already call PERSON, cut to :data:`CONTEXT_WORDS` words either side of
those words. On the tuning samples and even review rows that cut the tagger's time 2.6× (0.43
against 1.10 s) with the same recall and alteration (README, "PII scrubbing").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from commons.visible_text import VisibleText
from data_quality.pii import Span, resolve_overlaps, with_honorifics
from data_quality.pii_name_evidence import WORD_RE, NameEvidence, opens_sentence
from data_quality.pii_ner import ner_windows
from data_quality.pii_tagger import NameTagger


#: P(PERSON) at or above which the scrubber adds a tagger's name-shaped word. Chosen by 3-fold
#: cross-validation over sentence templates inside the tuning half, among 0.3 / 0.5 / 0.7 / 0.9
#: with and without vetoes (``benchmarks/name_tagger_trial.py --cv``): highest out-of-fold PERSON
#: recall whose even review rows altered stay within 0.5 points of the rules alone.
THRESHOLD = 0.3
#: Words of context the tagger reads either side of the words it is asked about at scrub time.
CONTEXT_WORDS = 3


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


def tag_unclaimed(tagger: NameTagger, evidence: NameEvidence, texts: Sequence[str],
                  found: Sequence[Sequence[Span]], context: int = CONTEXT_WORDS) -> list[list[NameWord]]:
    """The tagger's words around each text's unclaimed name-shaped words, in one batched pass.

    For each NER window of each text (read as :func:`tag_texts` reads it), the words that are
    name-shaped and lie in no PERSON span of ``found`` (the engine's spans of that text) are
    the ones asked about; the tagger reads the window from ``context`` words before the first of
    them to ``context`` words after the last. A text with none gets an empty list.
    """
    views = [VisibleText(text) for text in texts]
    cased = [evidence.truecase(view.text) for view in views]
    jobs: list[tuple[int, int, int]] = []
    for i, (view, text, spans) in enumerate(zip(views, cased, found, strict=True)):
        names = [(s.start, s.end) for s in spans if s.kind == "PERSON"]
        for start, end in ner_windows(text, evidence):
            words = list(WORD_RE.finditer(text, start, end))
            asked = [k for k, word in enumerate(words) if evidence.name_shaped(word.group(0))
                     and not _claimed(view.original_span(word.start(), word.end()), names)]
            if asked:
                jobs.append((i, words[max(0, asked[0] - context)].start(),
                             words[min(len(words) - 1, asked[-1] + context)].end()))
    out: list[list[NameWord]] = [[] for _ in texts]
    for (i, offset, end), words in zip(jobs, tagger.tag([cased[i][a:b] for i, a, b in jobs])):
        for word in words:
            start, stop = offset + word.start, offset + word.end
            out[i].append(NameWord(*views[i].original_span(start, stop), cased[i][start:stop],
                                   word.probability))
    return out


def _claimed(span: tuple[int, int], names: Sequence[tuple[int, int]]) -> bool:
    return any(start <= span[0] and span[1] <= end for start, end in names)


def tagged_spans(text: str, words: Sequence[NameWord], evidence: NameEvidence,
                 threshold: float, initial: float | None = None) -> list[tuple[int, int]]:
    """PERSON spans of ``text`` from its tagged ``words`` (see the module docstring). With
    ``initial``, a one-word span that opens a sentence needs P ≥ ``initial``: its capital letter
    is no evidence of a name there."""
    spans: list[tuple[int, int]] = []
    probability: list[float] = []
    for word in words:
        if word.probability < threshold or not evidence.name_shaped(word.cased):
            continue
        if spans and text[spans[-1][1]:word.start] == " ":
            spans[-1] = (spans[-1][0], word.end)
            probability[-1] = -1.0  # two words or more: not a lone word
        else:
            spans.append((word.start, word.end))
            probability.append(word.probability)
    if initial is None:
        return spans
    return [span for span, p in zip(spans, probability)
            if p < 0 or p >= initial or not opens_sentence(text, span[0])]


def _vetoed(span: Span, words: Sequence[NameWord], veto: float) -> bool:
    inside = [w.probability for w in words if w.start < span.end and span.start < w.end]
    return bool(inside) and max(inside) < veto


def combine(text: str, found: Sequence[Span], words: Sequence[NameWord], evidence: NameEvidence,
            threshold: float | None, veto: float | None = None,
            honorifics: bool = False, initial: float | None = None) -> list[Span]:
    """The engine's ``found`` spans of ``text`` with the tagger's evidence (module docstring):
    its name words added at ``threshold`` (None: none added; a lone word opening a sentence at
    ``initial``, see :func:`tagged_spans`), engine names vetoed below ``veto`` (None: none),
    honorifics joined; non-overlapping, sorted (:func:`~data_quality.pii.resolve_overlaps`)."""
    names = [(s.start, s.end) for s in found if s.kind == "PERSON"
             and (veto is None or not _vetoed(s, words, veto))]
    if threshold is not None:
        names += tagged_spans(text, words, evidence, threshold, initial)
    if honorifics:
        names = with_honorifics(text, names)
    return resolve_overlaps([s for s in found if s.kind != "PERSON"]
                            + [Span(s, e, "PERSON") for s, e in names])
