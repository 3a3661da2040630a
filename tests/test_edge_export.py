"""Export of a real (1-layer MiniLM) classifier: parity, int8 decision, sealed manifest."""

from __future__ import annotations

import json

import pytest

from edge_export.bundle import PARITY_BOUND, build_bundle
from edge_export.manifest import BundleError, load_manifest
from training.encoder import base_model_path, load_tokenizer, pretrained_classifier, student_from_teacher
from training.loop import Inputs


@pytest.fixture(scope="module")
def model_and_texts(data_dir):
    lines = (data_dir / "reviews" / "uci_sentiment_sentences" / "yelp_labelled.txt").read_bytes().decode(
        "utf-8", "replace").splitlines()[:64]
    texts = Inputs([line.rsplit("\t", 1)[0] for line in lines])
    return student_from_teacher(pretrained_classifier(2, seed=3), 1).eval(), load_tokenizer(), texts


@pytest.mark.parametrize("min_agreement,expected", [(0.0, "dynamic_int8"), (1.01, "none")])
def test_bundle_ships_int8_only_when_it_agrees(model_and_texts, tmp_path, min_agreement, expected):
    model, tokenizer, texts = model_and_texts
    report = build_bundle(model, tokenizer, base_model_path() / "tokenizer.json", texts, tmp_path / "b",
                          max_length=32, min_agreement=min_agreement,
                          metadata={"decision": "negative_review", "labels": ["not_negative", "negative"]})
    assert report.parity_max_abs_delta <= PARITY_BOUND
    assert report.quantization == expected
    manifest = load_manifest(tmp_path / "b")
    assert manifest["quantization"] == expected and manifest["opset"] == 17
    assert set(manifest["files"]) == {"model.onnx", "tokenizer.json"}
    if expected == "none":
        assert "< 1.01: fp32 ships" in manifest["quantization_reason"]
        assert report.size_shipped == report.size_fp32
    else:
        assert report.size_shipped < report.size_fp32 / 3


def test_altered_manifest_is_refused(model_and_texts, tmp_path):
    model, tokenizer, texts = model_and_texts
    build_bundle(model, tokenizer, base_model_path() / "tokenizer.json", texts.take(range(8)), tmp_path / "b",
                 max_length=32, min_agreement=0.0, allow_int8=False, metadata={"decision": "negative_review"})
    path = tmp_path / "b" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["thresholds"] = {"abstain": 0.0}
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="manifest digest mismatch"):
        load_manifest(tmp_path / "b")


@pytest.mark.parametrize("content", ["[]", "{not json", "\udcff".encode("utf-8", "surrogateescape").decode("latin-1")])
def test_unreadable_manifest_is_a_bundle_error(tmp_path, content):
    (tmp_path / "manifest.json").write_text(content, encoding="latin-1")
    with pytest.raises(BundleError):
        load_manifest(tmp_path)
