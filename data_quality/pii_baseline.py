"""Presidio as shipped, for comparison: its default recognizers on the product's spaCy model.

Only the NLP engine is configured (explicitly, so that nothing is downloaded: Presidio's default
would fetch ``en_core_web_lg``); registry, recognizers, context enhancer and score threshold are
Presidio's defaults, and each text is analysed with ``AnalyzerEngine.analyze`` as in its docs.
"""

from __future__ import annotations

from collections.abc import Sequence

from data_quality import pii_offline  # noqa: F401  (must precede the Presidio import)
from presidio_analyzer import AnalyzerEngine  # noqa: E402
from presidio_analyzer.nlp_engine import NlpEngineProvider  # noqa: E402

from data_quality.pii import Span  # noqa: E402
from data_quality.pii_engine import SPACY_MODEL  # noqa: E402

# Presidio entity types comparable with a project kind; the others (DATE_TIME, NRP, URL,
# US_DRIVER_LICENSE...) have no counterpart and are kept as ``OTHER``.
PRESIDIO_KIND = {
    "PERSON": "PERSON", "EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CARD", "IBAN_CODE": "IBAN", "IP_ADDRESS": "IP", "US_SSN": "SSN",
    "LOCATION": "LOCATION",
}


def presidio_as_shipped(model_name: str = SPACY_MODEL) -> AnalyzerEngine:
    """Presidio's default analyzer on the installed spaCy pipeline ``model_name`` (all pipes)."""
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": model_name}],
    })
    return AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])


def find_shipped(analyzer: AnalyzerEngine, texts: Sequence[str]) -> list[list[Span]]:
    """Spans per text, one ``analyze`` call per text; types mapped by :data:`PRESIDIO_KIND`."""
    return [[Span(r.start, r.end, PRESIDIO_KIND.get(r.entity_type, "OTHER"))
             for r in analyzer.analyze(text, language="en")]
            for text in texts]
