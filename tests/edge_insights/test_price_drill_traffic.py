"""The price drill's traffic on the real price histories: the two regimes split every labelled change
by when its current price was seen, and neither phase holds a product the champion trained on."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from commons.label_rules import price_spike
from commons.settings import Settings
from commons.warehouse import Warehouse
from edge_insights.drill_cli import phase_line
from edge_insights.evaluate import price_changes
from edge_insights.price_drill import PRICE_FOLDER, price_phases, regime_examples
from training.decisions.price_spike import SPEC


@pytest.fixture(scope="module")
def regimes(data_dir):
    return regime_examples(data_dir)


def test_the_regimes_split_every_labelled_change_once(regimes, data_dir):
    before, after = regimes
    everything, _ = SPEC.examples(price_changes(data_dir / PRICE_FOLDER))
    assert len(before) + len(after) == len(everything)
    assert Counter(e.window for e in before) + Counter(e.window for e in after) == Counter(e.window for e in everything)
    # The shared histories' two regimes: 2024's watch list, and 2025-26's larger one, spikes half as common again.
    assert len({e.product_id for e in before}) < len({e.product_id for e in after})
    rate = [np.mean([e.label for e in side]) for side in (before, after)]
    assert 1.5 * rate[0] < rate[1]


def test_a_window_carries_the_rules_whole_support_so_its_label_is_the_rules_answer(regimes):
    for example in regimes[1][:200]:
        assert len(example.window) == SPEC.contract["fields"]["prices"]["length"]
        assert price_spike(list(example.window)) == bool(example.label)


def test_phases_leave_out_the_products_the_champion_trained_on(regimes, tmp_path, data_dir):
    before, after = regimes
    trained = sorted({e.product_id for e in before})[::2]
    settings = Settings.from_env(state_dir=tmp_path, data_dir=data_dir)
    Warehouse(settings.warehouse_path).write_features("price_spike", "run", [
        {"text": "", "label": 0, "product_id": p, "source": "prices", "numbers": [1.0] * 32, "split": "train"}
        for p in trained])
    phases = price_phases(settings, per_phase=300, seed=3)
    assert [len(phases[p]) for p in ("in_distribution", "shifted")] == [300, 300]
    windows = {"in_distribution": {e.window: e.product_id for e in before},
               "shifted": {e.window: e.product_id for e in after}}
    for phase, records in phases.items():
        assert set(records[0]) == {"title", "prices"}
        assert not {windows[phase][tuple(r["prices"])] for r in records} & set(trained)
    assert price_phases(settings, per_phase=300, seed=3) == phases  # seeded


def test_phase_line_says_why_or_over_how_many():
    report = {"reasons": ["shadow disagreement 0.079 over 101 vs 0.011 over 177 at release"], "psi": {"a": 0.1},
              "shadow_rate": 0.004, "shadow_compared": 258, "baseline_rate": 0.0113, "p_value": 0.93}
    assert phase_line("shifted", {"request_after": 260, "decisions": 260, "report": report}) == (
        "shifted: retrain requested after 260 decisions — shadow disagreement 0.079 over 101 vs 0.011 over 177 "
        "at release")
    assert phase_line("in_distribution", {"request_after": None, "decisions": 600, "report": report}) == (
        "in_distribution: no retrain over 600 decisions (shadow disagreement 0.4% over 258 vs 1.1% at release, "
        "Fisher p = 0.93; PSI max 0.100)")

