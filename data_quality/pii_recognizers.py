"""The project's checksum- and pattern-validated detectors as Presidio recognizers.

Each detector of :data:`data_quality.pii.DETECTORS` (phonenumbers for phones, python-stdnum for
cards/IBANs/SSNs, ``ipaddress`` for IPs, cue patterns for names) becomes one
:class:`DetectorRecognizer`, so a single Presidio ``AnalyzerEngine`` yields every span. The
entity type is the project's kind (``EMAIL``, ``PHONE``...), which is also its placeholder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from data_quality.pii import DETECTORS, Span

# A validated detector hit is certain enough to replace; the NER-backed kinds score lower.
_VALIDATED_SCORE = 1.0


class DetectorRecognizer(EntityRecognizer):
    """A Presidio recognizer that reports the spans of one project detector.

    Args:
        kind: the entity type reported (one of :data:`data_quality.pii.KINDS`).
        detect: ``text -> spans`` over the original text.
    """

    def __init__(self, kind: str, detect: Callable[[str], Iterable[Span]]) -> None:
        self._detect = detect
        super().__init__(supported_entities=[kind], name=f"EdgeInsights{kind.title()}Recognizer",
                         supported_language="en")

    def load(self) -> None:
        """Nothing to load: detectors are plain functions."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        """One result per detector span; ``nlp_artifacts`` is not needed."""
        return [RecognizerResult(span.kind, span.start, span.end, _VALIDATED_SCORE)
                for span in self._detect(text)]


def detector_recognizers() -> list[DetectorRecognizer]:
    """One recognizer per kind of :data:`data_quality.pii.DETECTORS`."""
    return [DetectorRecognizer(kind, detect) for kind, detect in DETECTORS.items()]
