"""Dagster resources: every path and option a run uses, built once by
:func:`orchestration.definitions.build_definitions` from :class:`commons.settings.Settings`.

Assets, checks and sensors take these as parameters and never read the environment, so the
definitions alone decide where a run reads and writes (the UI shows, and a run may override, each
value). ``dagster-mlflow`` ships only a legacy ``@resource`` (dagster#15053), hence our own.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from mlflow import MlflowClient

from commons.control_audit import ControlAudit
from commons.revocation_list import DEFAULT_MAX_AGE_S
from commons.token_keys import jwks_path
from commons.warehouse import Warehouse
from edge_export.signer import ReleaseSigner, local_signer
from training.config import TrainConfig, preset
from training.model_store import ModelStore
from training.registry import create_tracking_store, experiment_id


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
        create_tracking_store(self.tracking_uri, Path(self.artifact_root))
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

    @contextmanager
    def stage(self, dagster_run_id: str, decision: str) -> Iterator[tuple[MlflowClient, str]]:
        """The MLflow run of this Dagster run and decision for one stage: ``RUNNING`` while the
        stage runs, then ``FINISHED``, ``FAILED`` (the stage raised) or ``KILLED`` (the run was
        interrupted), with the end time set each time so the UI shows a duration."""
        client = self.client()
        run_id = self.run_for(dagster_run_id, decision)
        client.update_run(run_id, status="RUNNING")
        try:
            yield client, run_id
        except Exception:
            client.set_terminated(run_id, "FAILED")
            raise
        except BaseException:  # Dagster's interruption and KeyboardInterrupt are BaseExceptions
            client.set_terminated(run_id, "KILLED")
            raise
        client.set_terminated(run_id, "FINISHED")


class CrawlResource(dg.ConfigurableResource):
    """What the harvest reads and where crawls keep their stats.

    ``start_url`` empty means: serve the shared books mirror on 127.0.0.1 at a free port for the
    duration of the crawl. ``max_pages`` 0 means no cap. ``max_reviews_per_file`` 0 reads whole
    review feeds; a positive value reads only the first rows of each file (test slices).
    ``logs_dir`` is where the command line's processes log (pods, UI servers, launches): like the
    crawl logs, the retention asset expires them by the privacy policy.
    """

    start_url: str = ""
    data_dir: str
    crawls_dir: str
    inbox_dir: str
    logs_dir: str
    max_pages: int = 0
    max_reviews_per_file: int = 0

    @property
    def mirror_dir(self) -> Path:
        return Path(self.data_dir) / "books_toscrape" / "site"

    @property
    def reviews_dir(self) -> Path:
        return Path(self.data_dir) / "reviews"

    @property
    def price_history_path(self) -> Path:
        return Path(self.data_dir) / "price_history_amazon_jp" / "observations.csv.gz"

    @property
    def price_products_path(self) -> Path:
        return Path(self.data_dir) / "price_history_amazon_jp" / "products.csv"

    def stats_dir(self, name: str) -> Path:
        """Where one crawl keeps its ``stats.json`` and log (``<state>/crawls/<name>``)."""
        folder = Path(self.crawls_dir) / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder


class StagingResource(dg.ConfigurableResource):
    """Raw intake awaiting the scrub step (``<state>/staging``); deleted by that step."""

    root: str

    def folder(self, asset: str, partition_key: str) -> Path:
        """Where an intake asset stages one partition's raw rows."""
        return Path(self.root) / asset / partition_key


class TrainingResource(dg.ConfigurableResource):
    """Training preset (``demo``, ``tiny``, ``full``), where models and bundles are kept, the
    control audit folder promotions and deployments are recorded in (empty: not recorded), and
    the release signer (:func:`edge_export.signer.local_signer`: ``release_signer`` a PKCS#11 URI
    or PEM path, empty for the key under ``signing_dir``; its public key goes to ``trust_dir``),
    and where the PII name tagger is built (``pii_tagger_dir``)."""

    preset: str = "demo"
    models_dir: str
    bundles_dir: str
    deploy_dir: str
    audit_dir: str = ""
    signing_dir: str
    trust_dir: str
    release_signer: str = ""
    pii_tagger_dir: str = ""

    def config(self) -> TrainConfig:
        return preset(self.preset)

    def store(self, decision: str) -> ModelStore:
        return ModelStore(Path(self.models_dir), decision)

    @property
    def deploy_dir_path(self) -> Path:
        """Bundles pushed to pods: ``deploy/<model>/<slot>/`` (slot = alias or ``central``)."""
        return Path(self.deploy_dir)

    @property
    def trust_dir_path(self) -> Path:
        """The release public keys pods verify bundles with (``*.pub``)."""
        return Path(self.trust_dir)

    def bundle_dir(self, decision: str, role: str) -> Path:
        """Where the latest ``edge`` or ``central`` bundle of a decision is built."""
        return Path(self.bundles_dir) / decision / role

    def audit(self) -> ControlAudit | None:
        """The control audit log (``<state>/audit/control.jsonl``), None when no folder is set."""
        return ControlAudit(Path(self.audit_dir)) if self.audit_dir else None

    def signer(self) -> ReleaseSigner:
        """The release signer bundles that pass the gate are signed with."""
        return local_signer(Path(self.signing_dir), Path(self.trust_dir), self.release_signer or None)


class RevocationResource(dg.ConfigurableResource):
    """The control plane's signed revocation list (``<state>/revocation/list.jwt``), the token keys
    that sign it (``<state>/tokens``) and how long a re-published list stays valid (seconds)."""

    list_path: str
    tokens_dir: str
    max_age_s: int = DEFAULT_MAX_AGE_S

    @property
    def list_file(self) -> Path:
        return Path(self.list_path)

    @property
    def jwks(self) -> Path:
        """The token JWKS a published list is checked against."""
        return jwks_path(Path(self.tokens_dir))


class LiveStoreResource(dg.ConfigurableResource):
    """The live loop's SQLite store (``<state>/live/live.sqlite``), observed by ``insights_observer``."""

    path: str

    @property
    def file(self) -> Path:
        return Path(self.path)


class DecisionLogResource(dg.ConfigurableResource):
    """The pods' decision logs (``<state>/decision_log``), read by feedback assets and sensors."""

    root: str

    @property
    def path(self) -> Path:
        return Path(self.root)
