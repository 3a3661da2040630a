"""Dagster resources: the warehouse, MLflow tracking/registry, crawl and training settings.

Each resource is a ``ConfigurableResource`` whose defaults come from
:class:`edge_insights.settings.Settings`, so the UI shows (and a run can override) every path.
``dagster-mlflow`` ships only a legacy ``@resource`` (dagster#15053), hence our own.
"""


from pathlib import Path

import dagster as dg
from mlflow import MlflowClient

from orchestration.warehouse import Warehouse
from training.config import TrainConfig, preset
from training.registry import experiment_id


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file (``<state>/warehouse.duckdb``)."""

    path: str

    def get(self) -> Warehouse:
        return Warehouse(Path(self.path))


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking + registry with an SQLite backend and artifacts under the state folder."""

    tracking_uri: str
    artifact_root: str
    experiment: str = "edge-insights"

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def run_for(self, dagster_run_id: str, decision: str) -> str:
        """The MLflow run of one Dagster run and decision (created on first use, then found by tag),
        so teacher, student, export and registration of one run log into one MLflow run."""
        client = self.client()
        exp = experiment_id(client, self.experiment, Path(self.artifact_root))
        found = client.search_runs([exp], filter_string=(f"tags.dagster_run_id = '{dagster_run_id}' "
                                                         f"and tags.decision = '{decision}'"))
        if found:
            return found[0].info.run_id
        run = client.create_run(exp, run_name=f"{decision}-{dagster_run_id[:8]}",
                                tags={"dagster_run_id": dagster_run_id, "decision": decision})
        return run.info.run_id


class CrawlResource(dg.ConfigurableResource):
    """Where the books spider starts and how much it may fetch.

    ``start_url`` empty means: serve the shared books mirror on 127.0.0.1 at a free port for the
    duration of the crawl. ``max_pages`` 0 means no cap. ``max_reviews_per_file`` 0 reads whole
    review feeds; a positive value reads only the first rows of each file (test slices).
    """

    start_url: str = ""
    mirror_dir: str
    reviews_dir: str
    price_history_path: str
    price_products_path: str
    max_pages: int = 0
    max_reviews_per_file: int = 0


class TrainingResource(dg.ConfigurableResource):
    """Training preset (``demo``, ``tiny``, ``full``) and where model files are kept."""

    preset: str = "demo"
    models_dir: str
    bundles_dir: str
    deploy_dir: str

    def config(self) -> TrainConfig:
        return preset(self.preset)
