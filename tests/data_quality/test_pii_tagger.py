"""The learned name tagger: trained on the tuning half (tiny config), exported to int8 ONNX, run
with onnxruntime, combined with the engine's spans."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnxruntime as ort
import pytest
import torch
from typer.testing import CliRunner

from data_quality.pii import with_honorifics
from data_quality.pii_engine import PiiEngine, default_engine, rules_engine
from data_quality.pii_eval import load_catalogue, load_presidio_split, load_review_texts
from data_quality.pii_name_evidence import WORD_RE
from data_quality.pii_tagger import (
    FP32_FILE, INT8_FILE, TOKENIZER_FILE, NameTagger, TaggerMissingError, encode_words, load_word_tokenizer)
from data_quality.pii_tagger_names import combine, tag_texts, tag_unclaimed
from data_quality.pii_tagger_training import (
    IGNORE, TaggerConfig, base_model_path, train_tagger, training_examples, window_examples)
from data_quality.pii_vocabulary import catalogue_words
from commons.settings import PII_TAGGER_ENV, STATE_ENV
from edge_export.name_tagger import export_name_tagger
from edge_insights.cli import app

# Trains one member of the product's soup (2 layers, 3 epochs; the soup's three would take three
# times as long): 4-6 minutes on the 2 shared cores. Two epochs left
# "Wojciechowska" at P 0.45 after int8 (0.57 in fp32); three give 0.72 and 0.61 (README trial).
pytestmark = pytest.mark.slow

# Sentences of our own: lone foreign surnames the engine (spaCy small + census rules) misses
# ("Wojciechowska" was one until the engine learnt surname endings), each far above the tagger's
# threshold (P 0.95 and 1.0 in one training run; "Nwosu", at 0.67 there, fell under 0.5 in a CI
# run: training repeats exactly only for one thread count).
MISSED = {
    "I spoke with Nakashima about the refund yesterday.": "Nakashima",
    "Ask Haraldsdottir about the warranty.": "Haraldsdottir",
}
PRODUCTS = ["The Echo Dot sounds great and the Kindle is light.",
            "We gave Kindle to grandma and she loves the Echo Dot."]
THRESHOLD = 0.5


@pytest.fixture(scope="module")
def engine(data_dir):
    return PiiEngine(catalogue=catalogue_words(load_catalogue(data_dir)))


@pytest.fixture(scope="module")
def tagger_folder(engine, data_dir, tmp_path_factory):
    tuning, _ = load_presidio_split(data_dir)
    tokenizer_file = base_model_path() / TOKENIZER_FILE
    model = train_tagger(training_examples(tuning, load_review_texts(data_dir), engine),
                         load_word_tokenizer(tokenizer_file), TaggerConfig(layers=2, epochs=3, soup=1))
    folder = tmp_path_factory.mktemp("pii_tagger")
    export_name_tagger(model, tokenizer_file, folder)
    return folder, model


@pytest.fixture(scope="module")
def tagger(tagger_folder):
    folder, _ = tagger_folder
    return NameTagger(folder / INT8_FILE, folder / TOKENIZER_FILE)


def test_examples_label_person_words_and_ignore_titles():
    text = "Ask Mr. Ford about it"
    [example] = window_examples(text, [(0, len(text))], person=[(4, 7), (8, 12)],
                                ignore=[(4, 7)])
    assert example.words == ("Ask", "Mr", "Ford", "about", "it")
    assert example.labels == (0, IGNORE, 1, 0, 0)


def test_tagger_finds_names_the_engine_misses(engine, tagger):
    texts = list(MISSED)
    found = engine.analyze_batch(texts)
    assert found == [[], []]  # the engine as shipped leaves both names in
    for text, spans, words in zip(texts, found, tag_texts(tagger, engine.evidence, texts)):
        combined = combine(text, spans, words, engine.evidence, THRESHOLD)
        assert [text[s.start:s.end] for s in combined if s.kind == "PERSON"] == [MISSED[text]]


def test_product_names_stay(engine, tagger):
    found = engine.analyze_batch(PRODUCTS)
    for text, words in zip(PRODUCTS, tagger.tag(PRODUCTS)):
        # The tagger itself, on the whole sentence, does not take them for names (the product
        # allow-list would also keep them).
        products = [w.probability for w in words if text[w.start:w.end] in ("Echo", "Dot", "Kindle")]
        assert len(products) == 3 and max(products) < THRESHOLD
    for text, spans, words in zip(PRODUCTS, found, tag_texts(tagger, engine.evidence, PRODUCTS)):
        assert combine(text, spans, words, engine.evidence, THRESHOLD) == []


def test_the_engine_with_the_tagger_scrubs_what_the_rules_leave(engine, tagger):
    tagged = engine.with_tagger(tagger)
    texts = [*MISSED, *PRODUCTS]
    names = [[text[s.start:s.end] for s in spans if s.kind == "PERSON"]
             for text, spans in zip(texts, tagged.analyze_batch(texts))]
    assert names == [[MISSED[text]] for text in MISSED] + [[], []]
    assert engine.analyze_batch(texts) == [[], [], [], []]  # the engine it came from is unchanged
    scrubbed, _ = tagged.scrub_batch(["Ask Haraldsdottir about the warranty."])[0]
    assert scrubbed == "Ask <PERSON> about the warranty."


def test_the_tagger_reads_only_around_words_the_rules_left(engine, tagger):
    texts = ["I spoke with Nakashima about the refund yesterday, then the store was very quiet "
             "and the queue at the counter moved slowly.",
             "we asked John Smith about it."]
    found = engine.analyze_batch(texts)
    assert [[texts[1][s.start:s.end] for s in found[1]]] == [["John Smith"]]
    words = tag_unclaimed(tagger, engine.evidence, texts, found)
    # Three words either side of "Nakashima"; nothing for a text whose only name-shaped words the
    # rules already called a name (a sentence's capitalised first word would be asked about).
    assert [texts[0][w.start:w.end] for w in words[0]] == [
        "I", "spoke", "with", "Nakashima", "about", "the", "refund"]
    assert words[1] == []


def test_default_engine_loads_the_tagger_the_pipeline_built(tagger_folder, tmp_path, monkeypatch):
    folder, _ = tagger_folder
    monkeypatch.setenv(PII_TAGGER_ENV, str(tmp_path / "none_built"))
    assert default_engine() is rules_engine() and rules_engine().tagger is None
    monkeypatch.setenv(PII_TAGGER_ENV, str(folder))
    with_tagger = default_engine()
    assert with_tagger.tagger is not None and with_tagger.nlp is rules_engine().nlp
    assert default_engine() is with_tagger  # loaded once per built file
    [spans] = with_tagger.analyze_batch(["Ask Haraldsdottir about the warranty."])
    assert [s.kind for s in spans] == ["PERSON"]


def test_exports_agree_with_torch(tagger_folder, tagger):
    folder, model = tagger_folder
    windows = list(MISSED) + PRODUCTS
    ids, mask, first = encode_words(tagger.tokenizer, [WORD_RE.findall(w) for w in windows])
    with torch.no_grad():
        logits = model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    fp32 = ort.InferenceSession(str(folder / FP32_FILE), providers=["CPUExecutionProvider"])
    exported = fp32.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    assert np.abs(exported - logits).max() < 1e-4
    reference = 1.0 / (1.0 + np.exp(logits[..., 0] - logits[..., 1]))
    for row, words in enumerate(tagger.tag(windows)):
        expected = [reference[row, first[row, k]] for k in range(len(words))]
        # int8 weights move P by up to 0.12 (measured on "Wojciechowska", 0.57 -> 0.45).
        assert [w.probability for w in words] == pytest.approx(expected, abs=0.15)


def test_honorific_joins_the_name_after_it():
    text = "Mr. Ford and Dr Who met Sir"
    assert with_honorifics(text, [(4, 8), (16, 19)]) == [(0, 8), (13, 19)]


def test_missing_model_fails_clearly(tmp_path):
    with pytest.raises(TaggerMissingError, match="name tagger .* not found"):
        NameTagger(tmp_path / INT8_FILE, base_model_path() / TOKENIZER_FILE)


def test_the_scrub_command_uses_the_tagger_built_in_the_state_folder(tagger_folder, tmp_path, monkeypatch):
    folder, _ = tagger_folder
    shutil.copytree(folder, tmp_path / "state" / "pii_tagger")
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "state"))
    done = CliRunner().invoke(app, ["scrub", "Ask Haraldsdottir about the warranty."])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["text"] == "Ask <PERSON> about the warranty."
