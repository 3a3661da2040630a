"""The price_spike drift drill for real (conftest's ``price_drill``: tiny preset, its own state folder):
a champion trained on the 2024 price histories, real pods, real Dagster runs. Held-out 2024 products
request no retrain; 2025-26 traffic (more products, spikes half as common again) requests one by the
disagreement test; the retrain with 2025-26 added is released like any bundle and disagrees with the
rule less on 2025-26 records neither model trained on."""

from __future__ import annotations

import pytest

from commons.bundle_signature import verify_bundle
from edge_insights.price_drill import DECISION, regime_examples, trained_products
from training.divergence import read_decisions
from training.drift import ALPHA, MIN_INPUTS, MIN_SHADOW, PSI_THRESHOLD

pytestmark = pytest.mark.timeout(1500)


def test_in_distribution_prices_request_no_retrain(price_drill):
    _, outcome = price_drill
    phase = outcome["drill"]["phases"]["in_distribution"]
    assert phase["request_after"] is None
    assert phase["records"] == 600 and phase["decisions"] == phase["records"]
    last = phase["checks"][-1]
    # Both tests ran on enough evidence and passed: not a pass for lack of data.
    assert last["shadow_compared"] >= MIN_SHADOW and last["p_value"] >= ALPHA
    # The scale-free student cannot see the price level: only what it reads is tested.
    assert set(last["psi"]) == {"text_words", "oov_share", "prices_log_change"}
    assert max(last["psi"].values()) <= PSI_THRESHOLD


def test_shifted_prices_request_a_retrain_by_the_disagreement_test(price_drill):
    _, outcome = price_drill
    phase = outcome["drill"]["phases"]["shifted"]
    assert phase["request_after"] is not None and phase["request_after"] >= MIN_SHADOW
    report = phase["report"]
    assert report["shadow_compared"] >= MIN_SHADOW and report["p_value"] < ALPHA
    assert report["shadow_rate"] > report["baseline_rate"]
    assert any(reason.startswith("shadow disagreement") for reason in report["reasons"]), report["reasons"]
    # Input drift is not what fired: the move sizes of 2025-26 look like 2024's.
    assert report["decisions"] < MIN_INPUTS or all(v <= PSI_THRESHOLD for v in report["psi"].values())


def test_the_retrain_is_released_and_trained_on_the_shifted_period(price_drill):
    settings, outcome = price_drill
    champion, retrain = outcome["champion"], outcome["retrain"]
    assert champion["days"][1] < outcome["shift_start"] <= retrain["days"][0]
    assert retrain["examples"]["examples"] > champion["examples"]["examples"]
    assert retrain["promoted"] and int(retrain["model_version"]) == int(champion["model_version"]) + 1
    deployed = settings.deploy_dir / DECISION
    verify_bundle(deployed / "champion", settings.trust_dir)  # signed like any release
    assert outcome["after"]["bundle_sha256"] != outcome["before"]["bundle_sha256"]


def test_held_out_records_were_never_trained_on(price_drill):
    settings, outcome = price_drill
    held = set(outcome["held_out"]["product_ids"])
    # The written result keeps counts only: the ids stay out of the state folder (unkeyed drift_drill).
    written = (settings.state_dir / "drift_drill" / DECISION / "price_drill.json").read_text()
    assert written.count(sorted(held)[0]) == 0 and '"products"' in written
    assert held and not held & trained_products(settings)
    assert not held & set(outcome["champion"]["train_products"])
    shifted = regime_examples(settings.data_dir)[1]
    assert outcome["held_out"]["spikes"] == outcome["before"]["rule_spikes"] == outcome["after"]["rule_spikes"] > 0
    assert len([e for e in shifted if e.product_id in held]) >= outcome["held_out"]["records"]


def test_the_retrained_model_narrows_the_gap_on_held_out_shifted_records(price_drill):
    settings, outcome = price_drill
    before, after = outcome["before"], outcome["after"]
    assert before["decisions"] == after["decisions"] == outcome["held_out"]["records"]
    assert after["disagreement"] < before["disagreement"]
    assert after["f1_edge"]["f1"] > before["f1_edge"]["f1"]
    # Every line holds both answers (shadow rate 1): the edge model is measured on every record.
    rows = read_decisions(settings.state_dir / "drift_drill" / DECISION / "held_out_after" / "edge", DECISION)
    assert len(rows) == after["decisions"] and all(r["central_label"] is not None for r in rows)
