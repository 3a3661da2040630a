"""Registered model versions for tests: a real MLflow registry (SQLite under the state folder),
each version its own run with a minimal sealed bundle logged as ``bundle/`` and another as
``central_bundle/`` (as :func:`edge_export.publish.publish` logs them), tagged with its edge
bundle's sha256 and its gate verdict. Signed versions are signed by the session's release key
(:mod:`release_keys`) and carry a ``not_after``, so they pass the check a pod makes."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlflow import MlflowClient
from release_keys import signed

from commons.manifest import write_manifest
from commons.settings import Settings
from training.registry import experiment_id


def sealed_bundle(folder: Path, model: str, content: str, *, sign: bool = False) -> str:
    """A minimal sealed bundle of ``model`` (one file and its manifest) in ``folder``, signed when
    ``sign``; returns its sha256."""
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_text(content)
    extra = {"not_after": (datetime.now(UTC) + timedelta(days=90)).isoformat()} if sign else {}
    sha = write_manifest(folder, {"decision": model, "model_name": model, **extra})["bundle_sha256"]
    if sign:
        signed(folder)
    return sha


def register_version(client: MlflowClient, experiment: str, model: str, edge_dir: Path, central_dir: Path,
                     tags: dict[str, str]) -> str:
    """One run logging ``edge_dir`` as ``bundle/`` and ``central_dir`` as ``central_bundle/``,
    registered as the next version of ``model`` with ``tags``; returns the version."""
    run = client.create_run(experiment).info.run_id
    client.log_artifacts(run, str(edge_dir), artifact_path="bundle")
    client.log_artifacts(run, str(central_dir), artifact_path="central_bundle")
    return str(client.create_model_version(model, source=f"{client.get_run(run).info.artifact_uri}/bundle",
                                           run_id=run, tags=tags).version)


def registry_of(settings: Settings, model: str) -> tuple[MlflowClient, str]:
    """The state folder's registry with ``model`` registered; returns the client and a test experiment."""
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)
    client.create_registered_model(model)
    return client, experiment_id(client, f"{model}-test", settings.artifact_root)


def registered_versions(settings: Settings, model: str, verdicts: dict[str, str], work: Path, *,
                        sign: Collection[str] = ()) -> tuple[MlflowClient, dict[str, str]]:
    """Register one version of ``model`` per ``verdicts`` entry (version → ``promotion`` tag, in
    order from 1), bundles built under ``work``, those of the versions in ``sign`` signed; returns
    the client and each version's sha256."""
    client, experiment = registry_of(settings, model)
    shas = {}
    for version, verdict in verdicts.items():
        shas[version] = sealed_bundle(work / f"edge-{version}", model, f"edge {version}", sign=version in sign)
        sealed_bundle(work / f"central-{version}", model, f"central {version}", sign=version in sign)
        made = register_version(client, experiment, model, work / f"edge-{version}", work / f"central-{version}",
                                {"bundle_sha256": shas[version], "promotion": verdict})
        assert made == version
    return client, shas
