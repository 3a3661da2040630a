"""Calibration (decision bias, temperature, ECE), the promotion gate and the urgent_inventory rule."""

from __future__ import annotations

import numpy as np
import pytest

from training.calibration import best_bias, expected_calibration_error, fit_temperature
from commons.label_rules import urgent_inventory as urgent
from training.gates import evaluate_gate


def test_temperature_recovers_the_scale_of_overconfident_logits():
    rng = np.random.default_rng(0)
    margin = rng.normal(0.0, 2.0, size=20_000)
    labels = (rng.uniform(size=margin.size) < 1 / (1 + np.exp(-margin))).astype(int)
    logits = np.stack([np.zeros_like(margin), 3.0 * margin], axis=1)  # 3× overconfident
    assert fit_temperature(logits, labels) == pytest.approx(3.0, rel=0.05)


def test_ece_by_hand():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
    labels = np.array([0, 1, 1, 1])
    # bins: 0.9 → acc 1 (|1-0.9|), 0.8 → acc 0 (|0-0.8|), 0.7 → acc 1 (0.3), 0.6 → acc 1 (0.4); n = 4
    assert expected_calibration_error(probs, labels) == pytest.approx((0.1 + 0.8 + 0.3 + 0.4) / 4)


def test_best_bias_moves_the_threshold_to_the_rare_class():
    margin = np.linspace(-5, 5, 101)
    labels = (margin > 3.0).astype(int)  # alerts only above 3: the unbiased threshold (0) over-alerts
    logits = np.stack([np.zeros_like(margin), margin], axis=1)
    bias = best_bias(logits, labels)
    assert ((margin + bias > 0).astype(int) == labels).all()
    assert -3.1 <= bias <= -2.9


def test_gate_criteria():
    assert evaluate_gate(0.80, 0.82, 0.70, None, 0.95).passed
    assert not evaluate_gate(0.70, 0.82, 0.60, None, 0.95).passed          # < 0.95 × teacher
    assert not evaluate_gate(0.80, 0.82, 0.81, None, 0.95).passed          # loses to the baseline
    assert evaluate_gate(0.80, 0.82, 0.81, None, 0.95, on_baseline=False).passed
    regress = evaluate_gate(0.80, 0.82, 0.70, 0.85, 0.95)
    assert not regress.passed and "challenger F1 0.8000 < champion F1 0.8500" in regress.reason


def test_a_rule_oracle_holds_no_student_to_a_fraction_of_it():
    gate = evaluate_gate(0.80, None, 0.70, None, 0.95)
    assert gate.passed and "teacher" not in gate.reason
    assert not evaluate_gate(0.80, None, 0.81, None, 0.95).passed       # the baseline still binds
    assert not evaluate_gate(0.80, None, 0.70, 0.85, 0.95).passed       # and the champion
    # ... unless the champion learned from erased data: reported, not required; the rest still binds.
    erased = evaluate_gate(0.80, None, 0.70, 0.85, 0.95, champion_erased=True)
    assert erased.passed and "not required: the champion learned from erased data" in erased.reason
    assert not evaluate_gate(0.80, None, 0.81, 0.85, 0.95, champion_erased=True).passed


@pytest.mark.parametrize("window,expected", [
    ([16, 17, 18, 18, 18, 18, 18, 18], False),
    ([0, 2, 4, 6, 8, 10, 12, 14], True),     # out of stock
    ([3, 5, 7, 9, 11, 13, 15, 16], True),    # low stock
    ([8, 17, 18, 18, 18, 18, 18, 18], True),  # halved against the recent median
    ([10, 17, 18, 18, 18, 18, 18, 18], False),
])
def test_urgent_rule(window, expected):
    assert urgent(np.array(window, dtype=float)) is expected
