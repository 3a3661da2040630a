"""Vocabulary pruning on real reviews: exact on the texts it was pruned for, no [UNK] elsewhere."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_export.bundle import build_bundle
from edge_export.vocabulary import prune_vocabulary, restrict_model
from training.encoder import base_model_path, load_tokenizer, pretrained_classifier, student_from_teacher
from training.loop import Inputs, predict_logits

pytestmark = pytest.mark.slow  # trains models, crawls or starts processes

MAX_LENGTH = 48
KEEP_TOP = 3000  # specials, characters and ~2,000 of the most frequent words


def _yelp(data_dir, first: int, last: int) -> list[str]:
    lines = (data_dir / "reviews" / "uci_sentiment_sentences" / "yelp_labelled.txt").read_bytes().decode(
        "utf-8", "replace").splitlines()[first:last]
    return [line.rsplit("\t", 1)[0] for line in lines]


@pytest.fixture(scope="module")
def pruned(data_dir, tmp_path_factory):
    model = student_from_teacher(pretrained_classifier(2, seed=5), 1).eval()
    seen = _yelp(data_dir, 0, 300)
    result = prune_vocabulary(model, base_model_path() / "tokenizer.json", seen,
                              tmp_path_factory.mktemp("vocab"), keep_top=KEEP_TOP)
    return model, seen, result


def test_pruned_model_is_exact_on_the_texts_it_keeps(pruned):
    model, seen, result = pruned
    full = load_tokenizer()
    assert [result.tokenizer.tokenize(t) for t in seen] == [full.tokenize(t) for t in seen]
    before = predict_logits(model, full, Inputs(seen), max_length=MAX_LENGTH)
    after = predict_logits(result.model, result.tokenizer, Inputs(seen), max_length=MAX_LENGTH)
    assert np.abs(before - after).max() < 1e-5
    assert result.model.encoder.embeddings.word_embeddings.num_embeddings == result.kept
    # the input model is left whole
    assert model.encoder.embeddings.word_embeddings.num_embeddings == result.base == 30522
    # the most frequent pieces (ids up to 3,993: 994 placeholders skipped) and characters always
    # stay; the texts add the rarer pieces they use, e.g. "##ness"-like suffixes and names
    spec = json.loads(result.tokenizer_file.read_text("utf-8"))["model"]["vocab"]
    assert {"the", "and", "[UNK]", "##a", "!"} <= set(spec) and "[unused5]" not in spec
    assert KEEP_TOP + 997 < result.kept < result.base // 3
    full_vocab = json.loads((base_model_path() / "tokenizer.json").read_text("utf-8"))["model"]["vocab"]
    rare = {p for t in seen for p in full.tokenize(t) if full_vocab[p] >= 4000 and len(p.removeprefix("##")) > 1}
    assert rare and rare <= set(spec)


def test_unseen_texts_are_spelled_from_kept_pieces_without_unk(pruned, data_dir):
    _, _, result = pruned
    full = load_tokenizer()
    unseen = _yelp(data_dir, 600, 800)
    changed = 0
    for text in unseen:
        pieces, reference = result.tokenizer.tokenize(text), full.tokenize(text)
        assert pieces.count("[UNK]") == reference.count("[UNK]")
        # a dropped piece is spelled from kept ones: the same characters come out
        assert "".join(p.removeprefix("##") for p in pieces) == "".join(p.removeprefix("##") for p in reference)
        changed += pieces != reference
    assert 0 < changed < len(unseen)


def test_pruned_bundle_is_smaller_and_its_tokenizer_is_consistent(pruned, data_dir, tmp_path):
    _, _, result = pruned
    spec = json.loads(result.tokenizer_file.read_text("utf-8"))
    vocab = spec["model"]["vocab"]
    assert sorted(vocab.values()) == list(range(result.kept))
    ids = {token["content"]: token["id"] for token in spec["added_tokens"]}
    assert all(vocab[name] == i for name, i in ids.items())
    assert spec["post_processor"]["special_tokens"]["[CLS]"]["ids"] == [vocab["[CLS]"]]
    report = build_bundle(result.model, result.tokenizer, result.tokenizer_file,
                          Inputs(_yelp(data_dir, 600, 632)), tmp_path / "b", max_length=MAX_LENGTH,
                          min_agreement=0.0, allow_int8=False, metadata={"decision": "negative_review"})
    full_table_bytes = 30522 * 384 * 4
    assert report.size_fp32 < full_table_bytes
    assert json.loads((tmp_path / "b" / "tokenizer.json").read_text("utf-8")) == spec


def test_negative_keep_top_is_refused(pruned, tmp_path):
    model, seen, _ = pruned
    with pytest.raises(ValueError, match="keep_top must be >= 0"):
        prune_vocabulary(model, base_model_path() / "tokenizer.json", seen, tmp_path, keep_top=-1)


def test_tokenizer_and_table_must_match(pruned, tmp_path):
    _, seen, result = pruned
    with pytest.raises(ValueError, match="embedding table has"):
        prune_vocabulary(result.model, base_model_path() / "tokenizer.json", seen, tmp_path, keep_top=KEEP_TOP)


def test_restrict_model_rebuilds_the_pruned_model_from_the_tokenizer_alone(pruned, data_dir):
    model, _, result = pruned
    rebuilt = restrict_model(model, base_model_path() / "tokenizer.json", result.tokenizer_file)
    texts = Inputs(_yelp(data_dir, 600, 640))
    assert np.array_equal(predict_logits(rebuilt, result.tokenizer, texts, max_length=MAX_LENGTH),
                          predict_logits(result.model, result.tokenizer, texts, max_length=MAX_LENGTH))
