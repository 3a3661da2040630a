"""Every MLflow run ends with its real status and a duration, also when a step fails."""

from __future__ import annotations

import dagster as dg
import pytest

from commons.settings import Settings
from orchestration.definitions import build_definitions
from orchestration.resources import MlflowResource

pytestmark = pytest.mark.slow  # builds models, reads whole data sets or starts processes


@pytest.fixture
def mlflow_resource(tmp_path) -> MlflowResource:
    settings = Settings(state_dir=tmp_path, data_dir=tmp_path / "data").ensure()
    return MlflowResource(tracking_uri=settings.tracking_uri, artifact_root=str(settings.artifact_root))


def run_info(resource: MlflowResource, dagster_run_id: str, decision: str):
    return resource.client().get_run(resource.run_for(dagster_run_id, decision)).info


def test_a_stage_that_succeeds_finishes_its_run_with_a_duration(mlflow_resource):
    with mlflow_resource.stage("dagster-run-1", "negative_review") as (client, run_id):
        client.log_metric(run_id, "teacher_f1", 0.8)
        assert client.get_run(run_id).info.status == "RUNNING"
    info = run_info(mlflow_resource, "dagster-run-1", "negative_review")
    assert info.status == "FINISHED" and info.end_time >= info.start_time
    experiment = mlflow_resource.client().get_experiment(info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_a_stage_that_raises_fails_its_run_and_an_interrupted_one_is_killed(mlflow_resource):
    with pytest.raises(ZeroDivisionError):
        with mlflow_resource.stage("dagster-run-2", "price_spike"):
            1 / 0
    failed = run_info(mlflow_resource, "dagster-run-2", "price_spike")
    assert failed.status == "FAILED" and failed.end_time is not None
    with pytest.raises(KeyboardInterrupt):
        with mlflow_resource.stage("dagster-run-3", "price_spike"):
            raise KeyboardInterrupt
    assert run_info(mlflow_resource, "dagster-run-3", "price_spike").status == "KILLED"


def test_a_failing_training_asset_leaves_a_failed_mlflow_run(tmp_path, data_dir):
    """The teacher asset of a state folder without examples fails on purpose (no features)."""
    defs = build_definitions(Settings(state_dir=tmp_path, data_dir=data_dir, preset="tiny"))
    teacher = defs.resolve_assets_def(dg.AssetKey(["negative_review", "teacher_model"]))
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([teacher], instance=instance, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    cause = failure.event_specific_data.error.cause
    assert cause.cls_name == "TrainingError" and "no train examples of negative_review" in cause.message
    mlflow = defs.resources["mlflow"]
    info = run_info(mlflow, result.run_id, "negative_review")
    assert info.status == "FAILED" and info.end_time >= info.start_time
