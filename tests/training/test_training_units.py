"""Units of the training room: distillation loss, layer selection, split, thresholds, divergence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon

from crawlers.feeds import read_review_feed
from training.distill import kd_loss
from training.divergence import divergence, js_divergence
from training.encoder import EncoderClassifier, kept_layers, student_from_teacher
from training.examples import balance, label_of, split_by_product, to_examples
from training.metrics import abstain_threshold, agreement, prf

pytestmark = pytest.mark.slow  # trains models, crawls or starts processes


def test_kd_loss_matches_hinton_formula():
    torch.manual_seed(0)
    s, t = torch.randn(4, 2), torch.randn(4, 2)
    y = torch.tensor([0, 1, 1, 0])
    T, alpha = 2.0, 0.3
    p_t = torch.softmax(t / T, -1)
    kl = (p_t * (p_t.log() - torch.log_softmax(s / T, -1))).sum(-1).mean()
    ce = -torch.log_softmax(s, -1)[torch.arange(4), y].mean()
    expected = alpha * T * T * kl + (1 - alpha) * ce
    assert kd_loss(s, t, y, T, alpha).item() == pytest.approx(expected.item(), rel=1e-6)
    # A student that copies the teacher has no soft-label loss left.
    assert kd_loss(t, t, y, T, 1.0).item() == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("n_student,expected", [(1, [5]), (2, [0, 5]), (3, [0, 2, 5]), (6, [0, 1, 2, 3, 4, 5])])
def test_kept_layers_evenly_spaced(n_student, expected):
    assert kept_layers(6, n_student) == expected


def test_kept_layers_rejects_deeper_student():
    with pytest.raises(ValueError, match="1..6"):
        kept_layers(6, 7)


def test_student_copies_teacher_layers():
    from transformers import BertConfig, BertModel

    torch.manual_seed(1)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=4, num_attention_heads=2,
                        intermediate_size=32)
    teacher = EncoderClassifier(BertModel(config, add_pooling_layer=False), 2).eval()
    student = student_from_teacher(teacher, 2).eval()
    assert student.num_layers == 2
    for dst, src in enumerate(kept_layers(4, 2)):
        for (name, a), (_, b) in zip(student.encoder.encoder.layer[dst].state_dict().items(),
                                     teacher.encoder.encoder.layer[src].state_dict().items()):
            assert torch.equal(a, b), name
    assert torch.equal(student.head.weight, teacher.head.weight)


def test_label_rule():
    assert label_of({"rating": 2.0}) == 1
    assert label_of({"rating": 3.0}) == 0
    assert label_of({"rating": None, "feedback": False}) == 1
    assert label_of({"rating": None, "feedback": True}) == 0
    assert label_of({"rating": None, "feedback": None}) is None


def test_split_by_product_on_real_reviews(data_dir):
    records, _ = read_review_feed(data_dir / "reviews", "test")
    examples, unlabelled = to_examples(records)
    assert unlabelled == 0 and len(examples) == len(records)
    train, held = split_by_product(examples, 0.25, seed=13)
    assert len(train) + len(held) == len(examples)
    assert not {e.product_id for e in train} & {e.product_id for e in held}
    assert 0.25 * len(examples) <= len(held) < 0.25 * len(examples) + max(
        sum(1 for e in examples if e.product_id == p) for p in {e.product_id for e in held})
    # Same seed, same split; another seed, another split.
    assert split_by_product(examples, 0.25, seed=13)[1] == held
    assert {e.product_id for e in split_by_product(examples, 0.25, seed=14)[1]} != {e.product_id for e in held}
    chosen = balance(train, 400, seed=13)
    assert len(chosen) == 400 and sum(e.label for e in chosen) == 200


def test_abstain_threshold_keeps_target_coverage():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.5, 1.0, size=1000)
    probs = np.stack([p, 1 - p], axis=1)
    threshold = abstain_threshold(probs, coverage=0.9)
    assert (probs.max(1) >= threshold).mean() == pytest.approx(0.9, abs=0.002)


def test_prf_and_agreement():
    y = np.array([1, 1, 0, 0, 1])
    yhat = np.array([1, 0, 0, 1, 1])
    assert prf(y, yhat) == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})
    a = np.array([[2.0, 1.0], [0.0, 1.0], [3.0, -1.0]])
    b = np.array([[1.0, 2.0], [0.0, 1.0], [1.0, 0.0]])
    assert agreement(a, b) == pytest.approx(2 / 3)


def test_js_divergence_matches_scipy():
    p, q = np.array([30.0, 70.0]), np.array([55.0, 45.0])
    assert js_divergence(p, q) == pytest.approx(jensenshannon(p / p.sum(), q / q.sum(), base=2) ** 2)
    assert js_divergence(p, p) == pytest.approx(0.0)


def test_divergence_counts_only_compared_rows():
    rows = [{"edge_label": "negative", "central_label": "negative"},
            {"edge_label": "negative", "central_label": "not_negative"},
            {"edge_label": "not_negative", "central_label": None},
            {"edge_label": "not_negative", "central_label": "not_negative"}]
    report = divergence(rows)
    assert (report.decisions, report.compared, report.disagreements) == (4, 3, 1)
    assert report.disagreement_rate == pytest.approx(1 / 3)
    expected = jensenshannon([2 / 3, 1 / 3], [1 / 3, 2 / 3], base=2) ** 2
    assert report.js_divergence == pytest.approx(expected)
    assert math.isfinite(report.js_divergence)


def test_review_examples_do_not_depend_on_history_row_order(data_dir, tmp_path):
    """The same reviews stored in another order (files staged in another order) give the same
    examples, so the same split and the same models."""
    from commons.warehouse import Warehouse, flatten
    from training.decisions import DECISIONS

    records, _ = read_review_feed(data_dir / "reviews", "test")
    rows = [flatten(r, "run", "reviews") for r in records[:3000]]
    spec = DECISIONS["negative_review"]
    examples = []
    for name, ordered in (("forward", rows), ("reversed", rows[::-1])):
        wh = Warehouse(tmp_path / f"{name}.duckdb")
        assert wh.append_rows_to_history("run", ordered)[0] == len({r["content_digest"] for r in rows})
        examples.append(spec.examples(wh.history(spec.history)))
    assert examples[0] == examples[1] and len(examples[0][0]) > 2000
