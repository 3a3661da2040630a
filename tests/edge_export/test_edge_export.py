"""Export of a real (1-layer MiniLM) classifier: parity, int8 decision, sealed manifest."""

from __future__ import annotations

import json

import pytest

from edge_export.bundle import PARITY_BOUND, build_bundle
from commons.manifest import BundleError, load_manifest
from training.encoder import base_model_path, load_tokenizer, pretrained_classifier, student_from_teacher
from training.loop import Inputs

pytestmark = pytest.mark.slow  # trains models, crawls or starts processes


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


def test_int8_quantises_the_encoder_only(tmp_path, data_dir):
    """The numeric branch and the head keep fp32 weights; the encoder's MatMuls become int8."""
    import numpy as np
    import onnx

    from bundle_factory import PRICE_WINDOW, reference_windows
    from edge_export.onnx_export import export_onnx
    from edge_export.quantize import quantize_int8
    from training.loop import model_inputs

    windows = reference_windows(4)
    model = student_from_teacher(pretrained_classifier(2, seed=3), 1,
                                 {"kind": "price_log_ratio", "width": PRICE_WINDOW}).eval()
    inputs = Inputs([w.title for w in windows], np.array([w.prices for w in windows], dtype=np.float32))
    fp32 = export_onnx(model, tmp_path / "fp32.onnx", model_inputs(load_tokenizer(), inputs, 32))
    graph = onnx.load(str(quantize_int8(fp32, tmp_path / "int8.onnx"))).graph
    quantised = [n.name for n in graph.node if n.op_type in ("MatMulInteger", "DynamicQuantizeLinear")]
    assert quantised and all(name.startswith("/encoder/") for name in quantised)
    kept = {n.name: n.op_type for n in graph.node if n.name.startswith(("/numeric/net", "/head/"))}
    assert "MatMul" in kept.values() and "MatMulInteger" not in kept.values()


def test_int8_refuses_a_graph_without_an_encoder(tmp_path):
    import torch

    from edge_export.quantize import quantize_int8

    path = tmp_path / "linear.onnx"
    torch.onnx.export(torch.nn.Linear(4, 2), (torch.zeros(1, 4),), str(path), dynamo=False)
    with pytest.raises(ValueError, match="no node named /encoder/"):
        quantize_int8(path, tmp_path / "int8.onnx")
