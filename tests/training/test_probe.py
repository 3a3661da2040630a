"""LP-FT stage 1 on real Amazon.co.jp price windows: the numeric side learns, encoder and text columns stay."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bundle_factory import PRICE_WINDOW, price_windows, training_windows
from training.encoder import load_tokenizer, pretrained_classifier, student_from_teacher
from training.loop import Inputs, predict_logits
from training.metrics import prf
from training.probe import probe

pytestmark = pytest.mark.slow  # trains models, crawls or starts processes

NUMERIC = {"kind": "price_log_ratio", "width": PRICE_WINDOW}


def _inputs(windows) -> tuple[Inputs, torch.Tensor]:
    return (Inputs([w.title for w in windows], np.array([w.prices for w in windows], dtype=np.float32)),
            torch.tensor([w.spike for w in windows]))


@pytest.fixture(scope="module")
def windows(data_dir):
    train = training_windows(seed=3)
    held_out = [w for i, (_, ws) in enumerate(price_windows().items()) if i % 4 == 0 for w in ws]
    return _inputs(train), _inputs(held_out)


def _model():
    return student_from_teacher(pretrained_classifier(2, seed=7), 1, NUMERIC).eval()


def _probe(model, train, steps=300):
    inputs, y = train
    return probe(model, load_tokenizer(), inputs, lambda logits, idx: F.cross_entropy(logits, y[idx]),
                 steps=steps, lr=1e-2, batch_size=16, max_length=32, seed=5)


def test_probe_fits_head_and_branch_and_leaves_the_encoder(windows):
    train, (held_inputs, held_y) = windows
    model = _model()
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    width = model.encoder.config.hidden_size
    head_before = model.head.weight.detach().clone()
    f1_before = prf(held_y.numpy(), predict_logits(model, load_tokenizer(), held_inputs, max_length=32).argmax(1))["f1"]
    losses = _probe(model, train)
    f1_after = prf(held_y.numpy(), predict_logits(model, load_tokenizer(), held_inputs, max_length=32).argmax(1))["f1"]
    assert all(torch.equal(v, model.encoder.state_dict()[k]) for k, v in encoder_before.items())
    # only the head's numeric columns move; its text columns keep what they were
    assert torch.equal(model.head.weight[:, :width], head_before[:, :width])
    assert not torch.equal(model.head.weight[:, width:], head_before[:, width:])
    assert len(losses) == 300 and np.mean(losses[-50:]) < 0.6 * np.mean(losses[:50])
    # held-out products' spikes (newest price > 1.1 × median of the 5 before) are found after probing
    assert f1_before < 0.1 and f1_after > 0.8


def test_probe_is_seeded(windows):
    train, _ = windows
    assert _probe(_model(), train, steps=20) == _probe(_model(), train, steps=20)


def test_probe_needs_a_numeric_branch(windows):
    train, _ = windows
    text_only = student_from_teacher(pretrained_classifier(2, seed=7), 1).eval()
    with pytest.raises(ValueError, match="numeric branch"):
        _probe(text_only, train, steps=1)
