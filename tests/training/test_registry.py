"""MLflow registry with a real SQLite backend: register, alias, the promotion gate, deploy."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from release_keys import trust_dir

from commons.bundle_signature import BundleRefused, verify_bundle
from commons.chain_verify import verify_folder
from commons.control_audit import ControlAudit, read_events, state_at
from commons.manifest import load_manifest
from edge_export.mlflow_model import log_bundle_model
from training.gates import evaluate_gate
from training.registry import (
    CHALLENGER,
    CHAMPION,
    aliases,
    create_tracking_store,
    deploy,
    deploy_champion,
    experiment_id,
    promote,
    register_bundle,
)

pytestmark = pytest.mark.slow  # builds models, reads whole data sets or starts processes


@pytest.fixture()
def client_and_run(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = experiment_id(client, "registry-test", tmp_path / "artifacts")
    assert client.get_experiment(exp).artifact_location.startswith((tmp_path / "artifacts").as_uri())

    def new_run() -> str:
        return client.create_run(exp).info.run_id

    return client, new_run


def test_a_new_tracking_store_keeps_even_the_default_experiments_artifacts_in_the_state_folder(tmp_path,
                                                                                               monkeypatch):
    """MLflow would put Default's artifacts in ./mlruns of the working directory (the source tree)."""
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'state' / 'mlflow' / 'mlflow.db'}"
    create_tracking_store(uri, tmp_path / "state" / "artifacts")
    create_tracking_store(uri, tmp_path / "elsewhere")  # an existing store is left as it is
    default = MlflowClient(tracking_uri=uri).get_experiment("0")
    assert default.name == "Default" and default.artifact_location == (tmp_path / "state" / "artifacts" / "0").as_uri()
    assert not (tmp_path / "mlruns").exists()


@pytest.fixture()
def bundle_dir(edge_bundle, tmp_path):
    """The real test bundle without its release.json (a bundle as export leaves it)."""
    folder = tmp_path / "bundle"
    shutil.copytree(edge_bundle.path, folder, ignore=shutil.ignore_patterns("release.json"))
    return folder


def register(client, run_id: str, bundle_dir, tags: dict) -> str:
    """Log the bundle as an MLflow model in ``run_id`` and register it, as publishing does."""
    manifest = load_manifest(bundle_dir)
    logged = log_bundle_model(client.tracking_uri, run_id, bundle_dir, manifest["feature_contract"],
                              {"records": [{"review_text": "Stopped working after two days."}]})
    return register_bundle(client, "decision_x", run_id, bundle_dir, tags, model_uri=logged.model_uri,
                           model_id=logged.model_id, description=f"card of {tags['bundle_sha256']}")


def test_gate_blocks_then_promotes(client_and_run, bundle_dir, tmp_path):
    client, new_run = client_and_run
    audit = ControlAudit(tmp_path / "audit")
    v1 = register(client, new_run(), bundle_dir, tags={"bundle_sha256": "a"})
    assert aliases(client, "decision_x") == {CHALLENGER: v1}
    refused = promote(client, "decision_x", v1, evaluate_gate(0.70, 0.80, 0.60, None, min_ratio=0.95),
                      audit=audit, bundle_sha256="a")
    assert not refused.promoted
    assert "student F1 0.7000 < 0.95 × teacher F1 0.8000" in refused.reason
    assert CHAMPION not in aliases(client, "decision_x")
    with pytest.raises(MlflowException):
        deploy(client, "decision_x", CHAMPION, tmp_path / "deploy")

    v2 = register(client, new_run(), bundle_dir, tags={"bundle_sha256": "b"})
    assert not evaluate_gate(0.78, 0.80, 0.79, None, min_ratio=0.95).passed  # loses to the baseline
    assert not evaluate_gate(0.78, 0.80, 0.60, 0.79, min_ratio=0.95).passed  # regresses on the champion
    accepted = promote(client, "decision_x", v2, evaluate_gate(0.78, 0.80, 0.60, None, min_ratio=0.95),
                       audit=audit, bundle_sha256="b")
    assert accepted.promoted and v2 != v1
    assert aliases(client, "decision_x") == {CHALLENGER: v2, CHAMPION: v2}
    assert client.get_model_version("decision_x", v1).tags["promotion"].startswith("not promoted")

    target = deploy(client, "decision_x", CHAMPION, tmp_path / "deploy")
    release = json.loads((target / "release.json").read_text())
    assert release["model_version"] == v2 and release["alias"] == CHAMPION
    assert load_manifest(target)["bundle_sha256"] == load_manifest(bundle_dir)["bundle_sha256"]
    # The release signature travels through the registry; the deploy step's release.json is outside it.
    assert verify_bundle(target, trust_dir())["bundle_sha256"] == load_manifest(bundle_dir)["bundle_sha256"]

    # The control audit log answers what the registry alone cannot: the champion at a past time.
    # The run also needs a central bundle to deploy; the same bundle stands in for it.
    client.log_artifacts(client.get_model_version("decision_x", v2).run_id, str(bundle_dir),
                         artifact_path="central_bundle")
    deployed = deploy_champion(client, "decision_x", tmp_path / "deploy", audit=audit)
    assert deployed["deployed"]
    events = read_events(audit.path)
    assert [(e["action"], e["version"], e["alias"]) for e in events] == [
        ("promotion_refused", str(v1), None), ("promote", str(v2), CHAMPION), ("deploy", str(v2), CHAMPION),
        ("deploy", str(v2), "central")]
    now = state_at(events, "decision_x", datetime.now(timezone.utc))
    assert now["champion"]["version"] == str(v2)
    assert now["deployed"][CHAMPION]["bundle_sha256"] == load_manifest(bundle_dir)["bundle_sha256"]
    assert verify_folder(tmp_path / "audit").fault is None


def test_a_version_is_an_mlflow_model_that_decides_like_the_pod(client_and_run, bundle_dir, edge_bundle):
    import mlflow
    import pandas as pd

    from serving.inference import EdgeModel

    client, new_run = client_and_run
    version = register(client, new_run(), bundle_dir, tags={"bundle_sha256": "c"})
    registered = client.get_model_version("decision_x", version)
    assert registered.description == "card of c" and registered.run_id
    mlflow.set_tracking_uri(client.tracking_uri)
    uri = f"models:/decision_x/{version}"
    info = mlflow.models.get_model_info(uri)
    assert info.signature.inputs.input_names() == ["product_id", "review_text"]
    assert [c.name for c in info.signature.outputs.inputs] == ["label", "score", "abstain"]
    assert info.saved_input_example_info is not None
    # The environment to rebuild it in pins the package version whose inference code logged it.
    from importlib.metadata import version as installed

    requirements = Path(mlflow.artifacts.download_artifacts(f"{uri}/requirements.txt")).read_text().split()
    assert f"edge-insights[serving]=={installed('edge-insights')}" in requirements
    model = mlflow.pyfunc.load_model(uri)
    answers = model.predict(pd.DataFrame({"review_text": edge_bundle.sentences}))
    labels, probs = EdgeModel(bundle_dir).predict(list(edge_bundle.sentences))
    assert answers["label"].tolist() == labels
    assert answers["score"].tolist() == pytest.approx(probs.max(axis=1).tolist(), abs=1e-6)
    # Abstaining rows are those a pod with a central model would send to it.
    abstain = float(load_manifest(bundle_dir)["thresholds"]["abstain"])
    assert answers["abstain"].tolist() == (probs.max(axis=1) < abstain).tolist()


def test_a_registered_bundle_whose_files_were_changed_does_not_load(client_and_run, bundle_dir, tmp_path):
    import mlflow

    client, new_run = client_and_run
    version = register(client, new_run(), bundle_dir, tags={"bundle_sha256": "d"})
    # Someone with write access to the artifact store edits the stored model afterwards.
    stored = list((tmp_path / "artifacts").rglob("model.onnx"))
    assert stored
    for path in stored:
        with open(path, "ab") as model:
            model.write(b"\0")
    mlflow.set_tracking_uri(client.tracking_uri)
    with pytest.raises(BundleRefused) as refused:
        mlflow.pyfunc.load_model(f"models:/decision_x/{version}")
    assert refused.value.reason == "tampered"


def test_a_revoked_version_does_not_load(client_and_run, bundle_dir, tmp_path, monkeypatch):
    """``load_model`` verifies as a pod does, and a pod never answers with a bundle the state
    folder's published revocation list withdraws."""
    import mlflow

    from commons.revocation_list import BundleRevoked
    from commons.settings import Settings
    from commons.token_keys import rotate_keys
    from edge_insights.revoke import revoke_version

    client, new_run = client_and_run
    sha = load_manifest(bundle_dir)["bundle_sha256"]
    version = register(client, new_run(), bundle_dir, tags={"bundle_sha256": sha})
    # A state folder of its own: the session's is shared by every test and must publish no list.
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path / "state"))
    settings = Settings.from_env()
    rotate_keys(settings.tokens_dir)
    mlflow.set_tracking_uri(client.tracking_uri)
    uri = f"models:/decision_x/{version}"
    mlflow.pyfunc.load_model(uri)  # nothing published yet: it loads

    done = revoke_version(client, settings, "decision_x", str(version), "trained on leaked labels",
                          audit=ControlAudit(settings.audit_dir), max_age_s=3600)

    assert done["serial"] == 1
    with pytest.raises(BundleRevoked) as refused:
        mlflow.pyfunc.load_model(uri)
    assert refused.value.reason == "revoked"
    assert str(refused.value) == (f"bundle {sha[:12]} is revoked (revocation list serial 1); pods no longer "
                                  "answer with it")
