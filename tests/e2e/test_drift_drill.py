"""The drift drill on the tiny run's deployed negative_review bundles, through real pods: reviews from
the same sources the model was trained on request no retrain; restaurant and film reviews (other
sources than product shops) request one within a measured number of decisions. Then the sensor
itself, on the drill's logs: it requests on shifted traffic only, and a retrain the gate refused
is recorded and does not loop."""

from __future__ import annotations

import pytest

import json
from datetime import datetime, timezone

import dagster as dg

from orchestration.resources import DecisionLogResource, TrainingResource
from orchestration.sensors import drift_sensor
from training.divergence import read_decisions
from training.drift import ALPHA, MIN_INPUTS, MIN_SHADOW, PSI_THRESHOLD

# The session's one job run (conftest) counts against the first e2e test's time limit.
pytestmark = pytest.mark.timeout(1500)

DECISION = "negative_review"


def test_in_distribution_reviews_request_no_retrain(drill):
    phase = drill["phases"]["in_distribution"]
    assert phase["request_after"] is None
    # 120 unseen records from each of the five files (a blank text is refused by the reader), all assessed.
    assert 590 <= phase["records"] <= 600 and phase["decisions"] == phase["records"]
    last = phase["checks"][-1]
    # Both tests ran on enough evidence and passed: this is not a pass for lack of data.
    assert last["shadow_compared"] >= MIN_SHADOW and last["p_value"] >= ALPHA
    assert set(last["psi"]) == {"text_words", "oov_share"} and max(last["psi"].values()) <= PSI_THRESHOLD


def test_shifted_reviews_request_a_retrain_within_measured_decisions(drill):
    phase = drill["phases"]["shifted"]
    assert phase["request_after"] is not None
    # PSI is tested from MIN_INPUTS decisions on, checked after every 20-record batch.
    assert MIN_INPUTS <= phase["request_after"] <= MIN_INPUTS + 20
    reasons = phase["report"]["reasons"]
    assert any("PSI of text_words" in reason for reason in reasons), reasons


def test_drill_logs_are_the_pods_own_lines(drill, job_run):
    settings, _ = job_run
    rows = read_decisions(settings.state_dir / "drift_drill" / DECISION / "shifted" / "edge", DECISION)
    assert len(rows) == drill["phases"]["shifted"]["decisions"]
    assert all(set(r["inputs"]) == {"text_words", "oov_share"} for r in rows)
    assert {r["edge_bundle_sha256"] for r in rows} == {drill["bundle_sha256"]}
    shadow = [r for r in rows if r["shadow"]]
    assert shadow and all(r["route"] == "edge" and r["central_label"] is not None for r in shadow)
    edge_decided = sum(1 for r in rows if r["route"] == "edge")
    assert 0.35 < len(shadow) / edge_decided < 0.65  # the digest-chosen sample at rate 0.5


def _tick(settings, log_root, cursor):
    resources = {"decision_log": DecisionLogResource(root=str(log_root)),
                 "training": TrainingResource(preset=settings.preset, models_dir=str(settings.models_dir),
                                              bundles_dir=str(settings.bundles_dir),
                                              deploy_dir=str(settings.deploy_dir),
                                              signing_dir=str(settings.signing_dir),
                                              trust_dir=str(settings.trust_dir))}
    with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
        return drift_sensor(context)


def test_sensor_requests_on_shifted_logs_and_a_refused_retrain_does_not_loop(drill, job_run):
    settings, _ = job_run
    root = settings.state_dir / "drift_drill" / DECISION
    quiet = _tick(settings, root / "in_distribution" / "edge", None)
    assert not quiet.run_requests and f"{DECISION}: no drift" in quiet.skip_reason.skip_message
    shifted = _tick(settings, root / "shifted" / "edge", None)
    assert [r.tags["decision"] for r in shifted.run_requests] == [DECISION]
    assert "PSI of text_words" in shifted.run_requests[0].tags["drift"]
    # The next tick sees the same logs inside the cooldown: no second request.
    again = _tick(settings, root / "shifted" / "edge", shifted.cursor)
    assert not again.run_requests and "cooling down" in again.skip_reason.skip_message
    # The retrain ran and the gate refused it: the ledger records it instead of requesting again.
    ledger = json.loads(again.cursor)
    store = settings.models_dir / DECISION / "state.json"
    state = json.loads(store.read_text())
    refused = {**state["registry"], "promoted": False, "reason": "challenger F1 below champion F1 on the same split",
               "published_at": datetime.now(timezone.utc).isoformat()}
    store.write_text(json.dumps({**state, "registry": refused}))
    try:
        ledger[DECISION]["cooled_until"] = datetime.now(timezone.utc).isoformat()  # cooldown over
        after = _tick(settings, root / "shifted" / "edge", json.dumps(ledger))
    finally:
        store.write_text(json.dumps(state))
    entry = json.loads(after.cursor)[DECISION]
    assert not after.run_requests and entry["refused"][0]["reason"] == refused["reason"]
    assert entry["since"] == refused["published_at"]  # the old traffic no longer counts as evidence
