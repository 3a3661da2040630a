"""The demo's "drift sensor's test now" table: the drift sensor's own test over the real decision log
of a deployed champion, agreeing with what the sensor's first tick does (real files, a real sensor
evaluation)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import dagster as dg

from commons.settings import Settings
from edge_insights.demo import drift_now
from edge_insights.report import drift_line
from orchestration.resources import DecisionLogResource, TrainingResource
from orchestration.sensors import drift_sensor
from serving.decision_log import DecisionLog

SHA = "a" * 64


def _state(tmp_path, disagreements: int, replayed: int = 0) -> Settings:
    """A state folder with urgent_inventory's champion and 600 production shadow lines, ``disagreements``
    of them disagreeing, then ``replayed`` agreeing shadow lines of the demo's replayed eval split."""
    settings = Settings(state_dir=tmp_path / "state", data_dir=tmp_path / "data")
    champion = settings.deploy_dir / "urgent_inventory" / "champion"
    champion.mkdir(parents=True)
    # The demo's urgent_inventory release baseline: 6 of 1,064 shadow-eligible eval examples disagreed.
    (champion / "manifest.json").write_text(json.dumps({"bundle_sha256": SHA, "drift_baseline": {
        "disagreement": 6 / 1064, "disagreements": 6, "n": 1064, "reference": {}}}))
    log = DecisionLog(settings.decision_log_dir, None, checkpoint_every=1000)
    at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    log.append([{"ts": at, "decision": "urgent_inventory", "product_id": f"p{i}", "signal_digest": f"d{i}",
                 "route": "edge", "label": "urgent", "shadow": True, "edge_bundle_sha256": SHA,
                 "edge_label": "urgent", "central_label": "calm" if i < disagreements else "urgent"}
                for i in range(600)])
    log.append([{"ts": at, "decision": "urgent_inventory", "product_id": f"e{i}", "signal_digest": f"e{i}",
                 "route": "edge", "label": "urgent", "shadow": True, "edge_bundle_sha256": SHA, "traffic": "replay",
                 "edge_label": "urgent", "central_label": "urgent"} for i in range(replayed)])
    log.close()
    return settings


def _first_tick(settings: Settings) -> dg.SensorResult:
    resources = {"decision_log": DecisionLogResource(root=str(settings.decision_log_dir)),
                 "training": TrainingResource(models_dir=str(settings.models_dir), bundles_dir=str(settings.bundles_dir),
                                              deploy_dir=str(settings.deploy_dir), signing_dir=str(settings.signing_dir),
                                              trust_dir=str(settings.state_dir / "trusted"))}
    with dg.build_sensor_context(cursor=None, resources=resources) as context:
        return drift_sensor(context)


def test_the_demos_drift_view_is_what_the_sensors_first_tick_finds(tmp_path):
    for disagreements, drifted in ((12, True), (3, False)):
        settings = _state(tmp_path / str(disagreements), disagreements)
        [(name, found)] = drift_now(settings, ["urgent_inventory", "price_spike"]).items()
        assert (name, found["shadow_compared"], found["shadow_disagreements"]) == ("urgent_inventory", 600,
                                                                                  disagreements)
        assert found["drifted"] is drifted
        requests = _first_tick(settings).run_requests
        assert [r.tags["decision"] for r in requests] == (["urgent_inventory"] if drifted else [])


def test_the_replayed_eval_split_is_left_out_of_the_demos_view_and_the_sensors_test(tmp_path):
    """12 of 600 production lines disagree (drift); 1,400 agreeing replayed lines would have made it
    12 of 2,000 (0.006, the release rate): both leave them out and say how many they were."""
    settings = _state(tmp_path, 12, replayed=1400)
    found = drift_now(settings, ["urgent_inventory"])["urgent_inventory"]
    assert (found["shadow_compared"], found["shadow_disagreements"], found["drifted"]) == (600, 12, True)
    assert found["replay"] == {"decisions": 1400, "shadow_compared": 1400, "shadow_disagreements": 0}
    assert drift_line(found).endswith("; replay left out: 0/1400 shadow of 1400")
    assert [r.tags["decision"] for r in _first_tick(settings).run_requests] == ["urgent_inventory"]


def test_a_champion_manifest_the_sensor_skips_is_skipped_by_the_demo_alone(tmp_path):
    settings = _state(tmp_path, 3)
    broken = {"price_spike": json.dumps({"drift_baseline": {"disagreement": 0.01, "disagreements": 2, "n": 177}}),
              "negative_review": "{not json"}
    for name, text in broken.items():
        (settings.deploy_dir / name / "champion").mkdir(parents=True)
        (settings.deploy_dir / name / "champion" / "manifest.json").write_text(text)
    found = drift_now(settings, ["negative_review", "price_spike", "urgent_inventory"])
    assert (found["urgent_inventory"]["shadow_compared"], found["urgent_inventory"]["shadow_disagreements"],
            found["urgent_inventory"]["drifted"]) == (600, 3, False)
    assert "lacks a bundle_sha256 string" in found["price_spike"]["skipped"]
    assert "cannot be read" in found["negative_review"]["skipped"]
    assert drift_line(found["price_spike"]) == f"skipped: {found['price_spike']['skipped']}"
    assert drift_line(found["urgent_inventory"]).startswith("shadow 3/600 (0.005) vs 0.006 over 1064 at release")
    # The sensor's first tick skips the same two, for the same reasons, and assesses the third.
    notes = _first_tick(settings).skip_reason.skip_message.split("; ")
    assert {n for n in notes if "skipped" in n} == {f"{name}: skipped: {found[name]['skipped']}" for name in broken}
