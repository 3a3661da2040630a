"""MLflow model registry for edge bundles: register, alias, promote behind a gate, deploy.

Every bundle becomes a registered model version of a logged pyfunc model
(:mod:`edge_export.mlflow_model`) with its model card as description. The newest version gets
alias ``challenger``; ``champion`` moves only through :func:`promote`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from commons.control_audit import ControlAudit
from commons.manifest import load_manifest
from training.gates import Gate

CHALLENGER = "challenger"
CHAMPION = "champion"
RELEASE_FILE = "release.json"
# MLflow 3's UI opens an experiment in its GenAI (traces) view unless its kind says model training.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"
REGISTERED_MODEL_DESCRIPTION = (
    "Edge micro-model for the {name} decision: each version is an edge bundle (ONNX graph, tokenizer, "
    "manifest) logged as a pyfunc that decides exactly as a pod does. The `champion` alias is what pods "
    "serve; `challenger` is the newest version. Each version's description is its model card.")


def create_tracking_store(tracking_uri: str, artifact_root: Path) -> None:
    """Create the SQLite tracking store at ``tracking_uri`` unless it exists, its ``Default``
    experiment's artifacts under ``artifact_root``: MLflow creates the store on first use with that
    experiment in ``./mlruns`` of the working directory, the source tree under ``make``."""
    db = Path(tracking_uri.removeprefix("sqlite:///"))
    if tracking_uri.startswith("sqlite:///") and not db.exists():
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        db.parent.mkdir(parents=True, exist_ok=True)
        SqlAlchemyStore(tracking_uri, artifact_root.as_uri()).engine.dispose()


def experiment_id(client: MlflowClient, name: str, artifact_root: Path) -> str:
    """Get or create an experiment whose artifacts live under the state folder (not ./mlruns),
    tagged so the MLflow UI opens it in the model-training view."""
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name, artifact_location=(artifact_root / name).as_uri(),
                                        tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING})
    if found.tags.get(EXPERIMENT_KIND_TAG) != MODEL_TRAINING:
        client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING)
    return found.experiment_id


def register_bundle(client: MlflowClient, model_name: str, run_id: str, bundle_dir: Path, tags: dict[str, str],
                    *, model_uri: str, model_id: str | None, description: str) -> str:
    """Register the logged model ``model_uri`` (the bundle as an MLflow model) as a new version of
    ``model_name`` with ``description`` (the model card) and ``tags``; alias it ``challenger``.

    The bundle folder is also logged as run artifacts ``bundle/`` — what pods are deployed from
    (:func:`deploy`); a central bundle logged in the same run (``central_bundle/``) travels with it.

    Returns the new version number (string, as MLflow gives it).
    """
    client.log_artifacts(run_id, str(bundle_dir), artifact_path="bundle")
    try:
        client.get_registered_model(model_name)
    except MlflowException:
        client.create_registered_model(model_name, description=REGISTERED_MODEL_DESCRIPTION.format(name=model_name))
    version = client.create_model_version(model_name, source=model_uri, run_id=run_id, tags=tags,
                                          description=description, model_id=model_id)
    client.set_registered_model_alias(model_name, CHALLENGER, version.version)
    return version.version


@dataclass(frozen=True)
class Promotion:
    """Outcome of the champion gate: ``promoted`` and the human-readable ``reason``."""

    promoted: bool
    reason: str
    version: str


def promote(client: MlflowClient, model_name: str, version: str, gate: Gate, *,
            audit: ControlAudit | None = None, bundle_sha256: str | None = None) -> Promotion:
    """Move ``champion`` to ``version`` iff the gate passed; the verdict and its numbers are written
    as a version tag, so the registry UI shows why.

    With ``audit``, the verdict is also appended to the control audit log: ``promote`` (alias
    ``champion``) or ``promotion_refused``, with the version's ``bundle_sha256`` and the reason.

    Raises:
        MlflowException: the registry refuses the alias or the tag.
        OSError: the audit log cannot be written.
    """
    reason = f"{'promoted' if gate.passed else 'not promoted'}: {gate.reason}"
    if gate.passed:
        client.set_registered_model_alias(model_name, CHAMPION, version)
    client.set_model_version_tag(model_name, version, "promotion", reason)
    if audit is not None:
        audit.record("promote" if gate.passed else "promotion_refused", model=model_name, version=version,
                     alias=CHAMPION if gate.passed else None, bundle_sha256=bundle_sha256, reason=reason)
    return Promotion(gate.passed, reason, version)


def champion_version(client: MlflowClient, model_name: str):
    """The current champion's model version, or None."""
    try:
        return client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None


def aliases(client: MlflowClient, model_name: str) -> dict[str, str]:
    """alias → version of a registered model."""
    return dict(client.get_registered_model(model_name).aliases)


def deploy(client: MlflowClient, model_name: str, alias: str, deploy_root: Path, *,
           artifact_path: str = "bundle", slot: str | None = None) -> Path:
    """Download a bundle of the run behind ``model_name@alias`` into ``deploy_root/model_name/slot``.

    ``artifact_path`` ``bundle`` is the edge bundle of that version; ``central_bundle`` is the
    teacher it was distilled from, served as the central model. ``slot`` defaults to ``alias``.

    Writes ``release.json`` (model_name, model_version, alias, run_id, deployed_at) beside the
    bundle files; the folder is replaced atomically by a rename, so a pod never reads half a push.

    Raises:
        MlflowException: the alias does not exist.
    """
    version = client.get_model_version_by_alias(model_name, alias)
    slot = slot or alias
    target = deploy_root / model_name / slot
    staging = deploy_root / model_name / f".{slot}.staging"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    local = Path(client.download_artifacts(version.run_id, artifact_path, str(staging)))
    for item in local.iterdir():
        shutil.move(str(item), staging / item.name)
    local.rmdir()
    (staging / RELEASE_FILE).write_text(json.dumps({
        "model_name": model_name, "model_version": version.version, "alias": alias,
        "run_id": version.run_id, "deployed_at": datetime.now(timezone.utc).isoformat()}, indent=2))
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


def deploy_champion(client: MlflowClient, model_name: str, deploy_root: Path, *,
                    audit: ControlAudit | None = None) -> dict:
    """Push the champion's edge bundle (slot ``champion``) and the central bundle it was distilled
    from (slot ``central``) to the pods' deploy folder.

    With ``audit``, each pushed slot is appended to the control audit log as a ``deploy`` event
    (alias = the slot, the deployed manifest's ``bundle_sha256``, the deploy folder).

    Returns:
        ``{"deployed": False, "reason"}`` when no version has passed the gate yet (nothing may
        reach a pod: the gate working, not a failure), else ``{"deployed": True, "model_version",
        "edge_dir", "central_dir"}``.
    """
    if champion_version(client, model_name) is None:
        return {"deployed": False, "reason": f"no version of {model_name} has passed the gate yet"}
    edge = deploy(client, model_name, CHAMPION, deploy_root)
    central = deploy(client, model_name, CHAMPION, deploy_root, artifact_path="central_bundle", slot="central")
    version = client.get_model_version_by_alias(model_name, CHAMPION).version
    if audit is not None:
        for slot, folder in ((CHAMPION, edge), ("central", central)):
            audit.record("deploy", model=model_name, version=version, alias=slot,
                         bundle_sha256=load_manifest(folder).get("bundle_sha256"), deploy_dir=str(folder))
    return {"deployed": True, "model_version": version, "edge_dir": str(edge), "central_dir": str(central)}
