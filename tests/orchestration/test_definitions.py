"""The definitions alone decide where a run reads and writes: two state folders, one process."""

from __future__ import annotations

import re
import time
from pathlib import Path

import dagster as dg
import pytest

from commons.errors import OrchestrationError
from commons.settings import Settings
from orchestration.definitions import build_definitions

REPO = Path(__file__).resolve().parents[2]
STAGES = ("signal_features", "teacher_model", "student_model", "edge_bundle", "central_bundle", "registered_model",
          "deployed_bundle")


def test_two_state_folders_in_one_process(tmp_path, data_dir):
    first = build_definitions(Settings(state_dir=tmp_path / "a", data_dir=data_dir, preset="tiny"))
    second = build_definitions(Settings(state_dir=tmp_path / "b", data_dir=data_dir, max_pages=7))
    resources = [defs.resources for defs in (first, second)]
    assert resources[0]["warehouse"].path == str(tmp_path / "a" / "warehouse.duckdb")
    assert resources[1]["warehouse"].path == str(tmp_path / "b" / "warehouse.duckdb")
    assert resources[0]["training"].preset == "tiny" and resources[1]["training"].preset == "demo"
    assert (resources[0]["crawl"].max_pages, resources[1]["crawl"].max_pages) == (0, 7)
    for name in ("staging", "decision_log", "training", "crawl", "mlflow"):
        a, b = (r[name].model_dump() for r in resources)
        assert any(str(tmp_path / "a") in str(v) for v in a.values())
        assert any(str(tmp_path / "b") in str(v) for v in b.values())
        assert not any(str(tmp_path / "a") in str(v) for v in b.values())


def test_an_unknown_preset_is_refused_when_the_definitions_load(tmp_path, data_dir):
    with pytest.raises(OrchestrationError, match="unknown training preset 'huge'.*demo, full, tiny"):
        build_definitions(Settings(state_dir=tmp_path, data_dir=data_dir, preset="huge"))
    assert not tmp_path.joinpath("dagster").exists()  # refused before anything is written


def test_the_asset_graph_is_what_the_docs_name(tmp_path, data_dir):
    defs = build_definitions(Settings(state_dir=tmp_path, data_dir=data_dir))
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    shared = {"raw_harvest", "raw_reviews", "raw_pushed", "scrubbed_signals", "validated_signals", "signal_history",
              "price_history", "replay_harvest", "divergence_report", "retention", "insights", "insight_digest",
              "pii_name_tagger"}
    decisions = {f"{name}/{stage}" for name in ("negative_review", "price_spike", "urgent_inventory")
                 for stage in STAGES}
    assert keys == shared | decisions
    # The scrub step runs after the name tagger is (re)built in the main job; the 6-hourly harvest reuses it.
    assert "pii_name_tagger" in {k.to_user_string() for k in graph.get(dg.AssetKey("scrubbed_signals")).parent_keys}
    assert "pii_name_tagger" in {k.to_user_string() for k in defs.resolve_job_def("edge_insights_job").asset_layer
                                 .executable_asset_keys}
    central = graph.get(dg.AssetKey(["price_spike", "central_bundle"]))
    assert {k.to_user_string() for k in central.parent_keys} == {"price_spike/teacher_model"}
    checks = {key.name for key in graph.asset_check_keys}
    assert checks == {"books_expectations", "reviews_expectations", "rows_conserved", "no_rows_past_retention",
                      "freshness_check"}
    # Retention deletes data: its own job and a schedule that is off until an operator turns it on.
    main = {k.to_user_string() for k in defs.resolve_job_def("edge_insights_job").asset_layer.executable_asset_keys}
    # Nor does the main job digest the live loop, which only runs after it.
    assert "retention" not in main and "insight_digest" not in main
    schedule = defs.resolve_schedule_def("retention_schedule")
    assert schedule.job_name == "retention_job" and schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    # The live loop is observed, not run, by Dagster: insights is an external asset fed by a sensor,
    # its freshness check judged by another; both, and the digest's schedule, start stopped.
    assert not graph.get(dg.AssetKey("insights")).is_materializable
    assert {k.to_user_string() for k in graph.get(dg.AssetKey("insight_digest")).parent_keys} == {"insights"}
    for sensor in ("insights_observer", "insights_freshness_sensor"):
        assert defs.resolve_sensor_def(sensor).default_status == dg.DefaultSensorStatus.STOPPED
    assert defs.resolve_schedule_def("insight_digest_schedule").default_status == dg.DefaultScheduleStatus.STOPPED


def test_only_the_roots_read_the_environment():
    """``Settings.from_env`` is called by the roots only: the command line's environment module, the
    definitions module and the MLflow pyfunc (MLflow builds it in whatever process loads the model)."""
    callers = sorted(str(path.relative_to(REPO)) for room in ("commons", "crawlers", "data_quality", "training",
                                                              "edge_export", "serving", "orchestration",
                                                              "edge_insights", "live")
                     for path in (REPO / room).rglob("*.py")
                     if re.search(r"Settings\.from_env\(", path.read_text(encoding="utf-8"))
                     and path.name != "settings.py")
    assert callers == ["edge_export/mlflow_model.py", "edge_insights/environment.py", "orchestration/definitions.py"]


def test_a_live_loop_silent_past_the_stall_bound_fails_its_freshness_check_red():
    """An observation of ``insights`` last updated an hour ago: the check fails with ERROR severity
    (drawn red in the UI; Dagster's default, WARN, is amber)."""
    from orchestration.assets.live import insights, insights_fresh

    with dg.instance_for_test() as instance:
        for age_s in (3600, 60):
            instance.report_runless_asset_event(dg.AssetObservation(asset_key=insights.key, metadata={
                "dagster/last_updated_timestamp": dg.MetadataValue.timestamp(time.time() - age_s)}))
            job = dg.Definitions(assets=[insights], asset_checks=insights_fresh).resolve_implicit_global_asset_job_def()
            [evaluation] = job.execute_in_process(instance=instance).get_asset_check_evaluations()
            assert (evaluation.passed, evaluation.severity) == (age_s < 600, dg.AssetCheckSeverity.ERROR)
