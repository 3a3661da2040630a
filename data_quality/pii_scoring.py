"""Per-type recall and precision of a PII finder on the labelled Presidio samples.

- Split: a sample belongs to the *tuning* or the *held-out* part by a CRC-32 of its file name and
  ``template_id``, so every filled-in copy of one sentence template sits on one side and rules
  tuned on one part are scored on sentences they never saw.
- Recall of a labelled type: labelled spans overlapped by any reported span of any kind (for
  privacy the value must be gone; its type does not matter).
- Precision of a reported kind: reported spans overlapping a label of a matching type
  (:data:`MATCHING_LABELS`); a span overlapping only other labels (an ORGANIZATION called
  PERSON) or none is a false positive.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from scipy.stats import binomtest

from data_quality.pii import Span

Finder = Callable[[Sequence[str]], list[list[Span]]]

# Labelled types scored for recall, and the project kind that targets each.
LABEL_KIND = {
    "PERSON": "PERSON", "EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CARD", "IBAN_CODE": "IBAN", "IP_ADDRESS": "IP", "US_SSN": "SSN",
    "STREET_ADDRESS": "ADDRESS", "ADDRESS": "ADDRESS", "GPE": "LOCATION", "LOCATION": "LOCATION",
}
STRUCTURED_LABELS = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS",
                     "US_SSN")
_PLACE_LABELS = frozenset({"STREET_ADDRESS", "ADDRESS", "GPE", "LOCATION", "ZIP_CODE"})
# Labels a reported span of each kind may rightly overlap. Address parts are labelled
# inconsistently across the two files (a city is GPE in one, inside ADDRESS in the other).
MATCHING_LABELS: dict[str, frozenset[str]] = {
    **{kind: frozenset({label}) for label, kind in LABEL_KIND.items()
       if kind not in ("ADDRESS", "LOCATION")},
    "ADDRESS": _PLACE_LABELS, "LOCATION": _PLACE_LABELS,
    "URL_USER": frozenset({"URL", "DOMAIN_NAME", "EMAIL_ADDRESS"}),
    "HANDLE": frozenset({"PERSON", "EMAIL_ADDRESS"}),
}


def is_held_out(sample: dict, file_name: str) -> bool:
    """Whether ``sample`` (from ``file_name``) is in the held-out part (about half)."""
    return zlib.crc32(f"{file_name}:{sample['template_id']}".encode()) % 2 == 1


@dataclass(frozen=True)
class TypeScore:
    """Counts for one type: ``caught``/``labelled`` (recall) and ``correct``/``reported``
    (precision)."""

    caught: int = 0
    labelled: int = 0
    correct: int = 0
    reported: int = 0

    @property
    def recall(self) -> float | None:
        """``caught / labelled``; None when nothing of the type is labelled."""
        return self.caught / self.labelled if self.labelled else None

    @property
    def precision(self) -> float | None:
        """``correct / reported``; None when nothing of the kind was reported."""
        return self.correct / self.reported if self.reported else None

    def recall_interval(self, confidence: float = 0.95) -> tuple[float, float] | None:
        """:func:`wilson_interval` of ``caught / labelled``; None when nothing of the type is
        labelled. 730 of 772 gives (0.927, 0.960)."""
        return wilson_interval(self.caught, self.labelled, confidence) if self.labelled else None


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval of the proportion ``successes / trials`` (Wilson 1927,
    through ``scipy.stats.binomtest(...).proportion_ci(method="wilson")``): the true rates
    these counts do not rule out at ``confidence``, e.g. for a recall read on one half of the
    sentence templates, or a share of review rows.

    Raises:
        ValueError: ``trials`` < 1, or ``successes`` outside ``0 … trials``.
    """
    interval = binomtest(successes, trials).proportion_ci(confidence, "wilson")
    return float(interval.low), float(interval.high)


def pooled(scores: Iterable[TypeScore]) -> TypeScore:
    """``scores`` summed count by count: the recall and precision of their types taken together."""
    parts = list(scores)
    return TypeScore(*(sum(getattr(part, name) for part in parts)
                       for name in ("caught", "labelled", "correct", "reported")))


def structured(scores: Mapping[str, TypeScore]) -> TypeScore:
    """The kinds of :data:`STRUCTURED_LABELS` in ``scores`` (kind -> score, as :func:`score`
    gives them) pooled into one score (a kind not reported counts as all zeros)."""
    return pooled(scores.get(LABEL_KIND[label], TypeScore()) for label in STRUCTURED_LABELS)


def _overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


def score(samples: Sequence[dict], found: Sequence[list[Span]]) -> dict[str, TypeScore]:
    """Per project kind (see :data:`LABEL_KIND`): recall of its labels, precision of its spans.

    Args:
        samples: Presidio samples (``full_text``, ``spans``).
        found: the finder's spans per sample, same order.
    """
    caught: Counter[str] = Counter()
    labelled: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    reported: Counter[str] = Counter()
    for sample, spans in zip(samples, found, strict=True):
        labels = [(lab["entity_type"], lab["start_position"], lab["end_position"])
                  for lab in sample["spans"]]
        for label, start, end in labels:
            if label in LABEL_KIND:
                labelled[LABEL_KIND[label]] += 1
                if any(_overlaps(start, end, s.start, s.end) for s in spans):
                    caught[LABEL_KIND[label]] += 1
        for span in spans:
            reported[span.kind] += 1
            good = MATCHING_LABELS.get(span.kind, frozenset())
            if any(label in good and _overlaps(start, end, span.start, span.end)
                   for label, start, end in labels):
                correct[span.kind] += 1
    kinds = sorted(set(labelled) | set(reported))
    return {kind: TypeScore(caught[kind], labelled[kind], correct[kind], reported[kind])
            for kind in kinds}
