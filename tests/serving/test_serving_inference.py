"""The edge model against the PyTorch model it was exported from, and bundle verification."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from commons.manifest import BundleError
from serving.inference import EdgeModel, softmax

pytestmark = pytest.mark.slow  # builds models, reads whole data sets or starts processes


@pytest.fixture(scope="module")
def edge_model(edge_bundle) -> EdgeModel:
    return EdgeModel(edge_bundle.path)


@pytest.mark.parametrize("bundle_name", ["edge_bundle", "central_bundle"])
def test_onnx_logits_match_torch_on_real_reviews(bundle_name, request):
    bundle = request.getfixturevalue(bundle_name)
    logits = EdgeModel(bundle.path).logits(bundle.sentences)
    assert logits.dtype == np.float32 and logits.shape == (len(bundle.sentences), 2)
    assert np.abs(logits - bundle.torch_logits).max() <= 1e-4


def test_padding_to_the_batch_longest_does_not_change_a_texts_logits(edge_model, edge_bundle):
    # One text alone is padded to its own length, in the batch to the longest (truncated) one.
    alone = np.concatenate([edge_model.logits([s]) for s in edge_bundle.sentences])
    assert np.abs(alone - edge_bundle.torch_logits).max() <= 1e-4


def test_predict_returns_argmax_labels_and_softmax_probabilities(edge_model, edge_bundle):
    labels, probs = edge_model.predict(edge_bundle.sentences)
    expected = np.exp(edge_bundle.torch_logits) / np.exp(edge_bundle.torch_logits).sum(-1, keepdims=True)
    assert probs.dtype == np.float32
    assert np.abs(probs - expected).max() <= 1e-5
    assert labels == [edge_model.labels[i] for i in expected.argmax(-1)]
    assert np.allclose(probs.max(-1), edge_bundle.confidences, atol=1e-5)


def test_softmax_divides_logits_by_the_temperature():
    logits = np.array([[2.0, -1.0], [0.5, 0.5]], dtype=np.float32)
    scaled = np.exp(logits / 2.0) / np.exp(logits / 2.0).sum(-1, keepdims=True)
    assert np.allclose(softmax(logits, 2.0), scaled, atol=1e-7)
    assert softmax(logits, 2.0)[0, 0] < softmax(logits, 1.0)[0, 0]


def test_empty_batch_gives_empty_outputs(edge_model):
    labels, probs = edge_model.predict([])
    assert labels == [] and probs.shape == (0, 2)


def test_a_tampered_model_byte_is_refused(edge_bundle, tmp_path):
    bundle = shutil.copytree(edge_bundle.path, tmp_path / "tampered")
    model = bytearray((bundle / "model.onnx").read_bytes())
    model[len(model) // 2] ^= 0x01
    (bundle / "model.onnx").write_bytes(bytes(model))
    with pytest.raises(BundleError, match="model.onnx"):
        EdgeModel(bundle)


def test_an_edited_manifest_is_refused(edge_bundle, tmp_path):
    bundle = shutil.copytree(edge_bundle.path, tmp_path / "edited")
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["thresholds"]["abstain"] = 0.0
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="manifest was altered"):
        EdgeModel(bundle)
