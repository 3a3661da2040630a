"""Sensors on odd cursors and odd state files: they skip or start afresh with a note, never fail every
tick, and an observer never writes to what it observes."""

from __future__ import annotations

import gc
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest

from live.store import LiveStore
from orchestration.assets.live import insights_observer
from orchestration.resources import DecisionLogResource, LiveStoreResource, TrainingResource
from orchestration.sensors import drift_sensor, read_ledger
from training.drift import COOLDOWN

SHA = "142dda778b220a9c1f94f4b1203de0644de1793afbea777239b09bf1dd4cb4a1"


@pytest.fixture
def deployed(tmp_path) -> Path:
    """A state folder whose negative_review champion has a drift baseline (the demo bundle's counts:
    30 of 1,112 eval examples disagreed) and whose pods logged nothing yet."""
    champion = tmp_path / "deploy" / "negative_review" / "champion"
    champion.mkdir(parents=True)
    (champion / "manifest.json").write_text(json.dumps({"bundle_sha256": SHA, "drift_baseline": {
        "disagreement": 30 / 1112, "disagreements": 30, "n": 1112, "reference": {}}}))
    (tmp_path / "decision_log").mkdir()
    return tmp_path


def tick(state: Path, cursor: str | None) -> dg.SensorResult:
    resources = {"decision_log": DecisionLogResource(root=str(state / "decision_log")),
                 "training": TrainingResource(models_dir=str(state / "models"), bundles_dir=str(state / "bundles"),
                                              deploy_dir=str(state / "deploy"), signing_dir=str(state / "signing"),
                                              trust_dir=str(state / "trusted"))}
    with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
        return drift_sensor(context)


@pytest.mark.parametrize("cursor, dropped", [
    ("null", "JSON NoneType, not an object"),
    ("[]", "JSON list, not an object"),
    ("{not json", "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ('{"negative_review": 5}', "entries of 'negative_review' dropped"),
    ('{"negative_review": {"bundle_sha256": "%s", "since": 7, "cooldown_s": 21600.0}}' % SHA,
     "entries of 'negative_review' dropped"),
    ('{"negative_review": {"bundle_sha256": "%s", "cooldown_s": "6h"}}' % SHA, "entries of 'negative_review' dropped"),
    # Right types, unusable values: each would hold the decision (cooling down or without evidence) for ever,
    # or overflow the time arithmetic on every tick.
    *[(json.dumps({"negative_review": {"bundle_sha256": SHA, "cooldown_s": 21600.0, **bad}}),
       "entries of 'negative_review' dropped")
      for bad in ({"cooled_until": "garbage"}, {"since": "zzz"}, {"cooldown_s": 1e300}, {"cooldown_s": float("nan")},
                  {"cooled_until": "9999-12-31T00:00:00+00:00"}, {"since": "2026-01-01T00:00:00"},
                  {"requested_at": "2026-01-01T00:00:00+02:00"})],
])
def test_an_unusable_drift_ledger_starts_afresh_with_a_note(deployed, cursor, dropped):
    assert read_ledger(cursor) == ({}, dropped)
    result = tick(deployed, cursor)
    fresh = tick(deployed, None)
    assert not result.run_requests
    assert result.skip_reason.skip_message.startswith(f"unusable drift ledger in the cursor ({dropped}): started "
                                                      "afresh; negative_review: no drift over 0 decisions")
    # The same ledger as a first tick's: this bundle, a fresh window, the base cooldown.
    entry = json.loads(result.cursor)["negative_review"]
    assert entry == json.loads(fresh.cursor)["negative_review"]
    assert (entry["bundle_sha256"], entry["since"], entry["cooldown_s"]) == (SHA, None, COOLDOWN.total_seconds())


def test_a_usable_ledger_is_kept(deployed):
    until = (datetime.now(timezone.utc) + timedelta(hours=3)).isoformat()
    ledger = {"negative_review": {"bundle_sha256": SHA, "since": None, "requested_at": None, "cooled_until": until,
                                  "cooldown_s": 2 * COOLDOWN.total_seconds(), "refused": [{"at": "t", "reason": "r"}]},
              "urgent_inventory": 5}
    result = tick(deployed, json.dumps(ledger))
    # The broken entry is dropped; the good one still cools down, its refused retrain remembered.
    assert f"negative_review: cooling down until {until}" in result.skip_reason.skip_message
    assert "entries of 'urgent_inventory' dropped" in result.skip_reason.skip_message
    assert json.loads(result.cursor) == {"negative_review": ledger["negative_review"]}


def observe(path: Path) -> dg.SensorResult:
    with dg.instance_for_test() as instance, dg.build_sensor_context(
            instance=instance, resources={"live_store": LiveStoreResource(path=str(path))}) as context:
        return insights_observer(context)


def test_the_observer_skips_an_empty_or_corrupt_store_without_writing(tmp_path, data_dir):
    empty = tmp_path / "empty" / "live.sqlite"
    empty.parent.mkdir()
    empty.touch()
    assert observe(empty).skip_reason.skip_message == (
        f"the live store at {empty} is empty (0 bytes): the live loop has not written it yet")
    assert empty.stat().st_size == 0 and sorted(p.name for p in empty.parent.iterdir()) == ["live.sqlite"]

    # Not an SQLite file: a real review feed's first 4 KiB under the store's name.
    corrupt = tmp_path / "corrupt" / "live.sqlite"
    corrupt.parent.mkdir()
    corrupt.write_bytes((data_dir / "reviews" / "amazon_alexa_reviews.tsv").read_bytes()[:4096])
    before = corrupt.read_bytes()
    assert observe(corrupt).skip_reason.skip_message == (
        f"the live store at {corrupt} cannot be read (file is not a database): nothing observed")
    assert corrupt.read_bytes() == before


def test_the_observer_reads_a_store_read_only(tmp_path):
    store = LiveStore(tmp_path / "live.sqlite")
    with store.transaction() as con:
        for seq, at in ((1, 1796310000.5), (2, 1796310323.25)):
            con.execute("INSERT INTO insights(insight_id, change_id, decision, label, score, route, alert, product_id, "
                        "url, kind, changed_at, decided_at, published_at, signal_digest, received_at, published) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (f"i-{seq}", f"c-{seq}", "price_spike", "spike", 0.9, "edge", 1, "B0BXSKY533",
                         "https://shop.example/B0BXSKY533", "price", "t", "t", "t", "d", at, at))
    (observation,) = observe(store.path).asset_events
    assert observation.metadata["dagster/last_updated_timestamp"].value == 1796310323.25
    assert (observation.metadata["insights"].value, observation.metadata["head_seq"].value) == (2, store.head())


def test_the_observer_closes_its_read_so_the_watchers_clean_close_leaves_the_file_alone(tmp_path):
    store = LiveStore(tmp_path / "live.sqlite")
    store.add_products(["https://shop.example/B0BXSKY533"])
    store.close()
    gc.disable()  # a connection the observer left open would close only when collected
    try:
        assert observe(store.path).skip_reason.skip_message == "the live store holds no insight yet"
        store.add_products(["https://shop.example/B0C1H2N3"])  # the watcher again, then stopped
        store.close()
    finally:
        gc.enable()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.sqlite"]


def test_a_deployed_manifest_without_its_digest_skips_that_decision_only(deployed):
    # Another decision deployed with a baseline; negative_review's manifest loses bundle_sha256 by hand.
    other = deployed / "deploy" / "urgent_inventory" / "champion"
    other.mkdir(parents=True)
    (other / "manifest.json").write_text((deployed / "deploy" / "negative_review" / "champion" / "manifest.json")
                                         .read_text())
    broken = deployed / "deploy" / "negative_review" / "champion" / "manifest.json"
    manifest = json.loads(broken.read_text())
    del manifest["bundle_sha256"]
    broken.write_text(json.dumps(manifest))
    result = tick(deployed, None)
    assert not result.run_requests
    assert (f"negative_review: skipped: the deployed manifest {broken} lacks a bundle_sha256 string"
            in result.skip_reason.skip_message)
    assert "urgent_inventory: no drift over 0 decisions" in result.skip_reason.skip_message
    assert list(json.loads(result.cursor)) == ["urgent_inventory"]


@pytest.mark.parametrize("baseline, defect", [
    ({}, "without counts disagreements ≤ n (integers ≥ 0)"),  # a KeyError failed every tick before
    ({"disagreement": 0.1, "disagreements": 40, "n": 30}, "without counts disagreements ≤ n (integers ≥ 0)"),
    ({"disagreement": "0.1", "disagreements": 3, "n": 30}, "without a disagreement rate in [0, 1]"),
    ({"disagreement": 0.1, "disagreements": 3, "n": 30, "reference": []}, "whose reference is no object"),
])
def test_a_drift_baseline_assess_cannot_read_skips_that_decision_only(deployed, baseline, defect):
    other = deployed / "deploy" / "urgent_inventory" / "champion"
    other.mkdir(parents=True)
    (other / "manifest.json").write_text((deployed / "deploy" / "negative_review" / "champion" / "manifest.json")
                                         .read_text())
    broken = deployed / "deploy" / "negative_review" / "champion" / "manifest.json"
    broken.write_text(json.dumps({"bundle_sha256": SHA, "drift_baseline": baseline}))
    result = tick(deployed, None)
    assert (f"negative_review: skipped: the deployed manifest {broken} has a drift_baseline {defect}"
            in result.skip_reason.skip_message)
    assert "urgent_inventory: no drift over 0 decisions" in result.skip_reason.skip_message
