"""Deep links into the Dagster and MLflow UIs that ``edge-insights ui`` serves."""

from __future__ import annotations

from dataclasses import dataclass

from commons.settings import Settings

CODE_LOCATION = "orchestration.definitions"
EXPERIMENT = "edge-insights"


@dataclass(frozen=True)
class Links:
    """Base URLs of the two UIs (``http://127.0.0.1:3000``, ``http://127.0.0.1:5000`` by default)."""

    dagster: str = "http://127.0.0.1:3000"
    mlflow: str = "http://127.0.0.1:5000"

    def dagster_run(self, run_id: str) -> str:
        return f"{self.dagster}/runs/{run_id}"

    def dagster_job(self, job: str) -> str:
        return f"{self.dagster}/locations/{CODE_LOCATION}/jobs/{job}/runs"

    @property
    def dagster_lineage(self) -> str:
        return f"{self.dagster}/asset-groups"

    def mlflow_runs(self, experiment_id: str) -> str:
        return f"{self.mlflow}/#/experiments/{experiment_id}/runs"

    @property
    def mlflow_registry(self) -> str:
        return f"{self.mlflow}/#/models"

    def mlflow_version(self, model: str, version: str) -> str:
        return f"{self.mlflow}/#/models/{model}/versions/{version}"

    def for_state(self, settings: Settings) -> list[str]:
        """One ``what: URL`` line per page worth opening for the state folder's runs and models."""
        from mlflow import MlflowClient

        lines = [f"Dagster asset lineage     {self.dagster_lineage}",
                 f"Dagster main job runs     {self.dagster_job('edge_insights_job')}",
                 f"Dagster runs timeline     {self.dagster}/overview/activity/timeline"]
        client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)
        experiment = client.get_experiment_by_name(EXPERIMENT)
        if experiment is not None:
            lines.append(f"MLflow training runs      {self.mlflow_runs(experiment.experiment_id)}")
        lines.append(f"MLflow model registry     {self.mlflow_registry}")
        for model in client.search_registered_models():
            for alias, version in sorted(model.aliases.items()):
                lines.append(f"MLflow {model.name}@{alias:<10} {self.mlflow_version(model.name, version)}")
        return lines
