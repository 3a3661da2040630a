"""Export → register → promote → deploy: the student becomes a signed-off edge bundle on a pod."""


from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
from mlflow.exceptions import MlflowException

from data_quality.contracts import CONTRACTS
from edge_export.bundle import build_bundle, onnx_logits
from edge_export.parity import ort_session
from edge_insights import __version__
from orchestration.assets.models import DECISION, split_examples
from orchestration.resources import MlflowResource, TrainingResource, WarehouseResource
from training.encoder import base_model_path, load_classifier, load_tokenizer
from training.loop import predict_logits
from training.metrics import abstain_threshold, prf, softmax
from training.model_store import ModelStore
from training.registry import CHAMPION, aliases, deploy, promote, register_bundle

RELEASE_GROUP = "release"
PRIVACY = ("Model input is the review text only (feature contract); texts were PII-scrubbed before "
           "storage and training; reviewer names never reach the model.")


@dg.asset(group_name=RELEASE_GROUP, deps=["student_model"], kinds={"onnx"},
          description="Student merged, exported to ONNX (opset 17, dynamic batch/sequence), parity-checked, "
                      "int8-quantised if it agrees with fp32; plus the teacher as the central fp32 bundle.")
def edge_bundle(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                training: TrainingResource) -> dg.MaterializeResult:
    cfg = training.config()
    store = ModelStore(training.models_dir, DECISION)
    eval_inputs, eval_labels = split_examples(warehouse, "eval")
    tokenizer = load_tokenizer()
    window = warehouse.get().frame(
        "SELECT min(crawled_at) AS first, max(crawled_at) AS last FROM signal_history WHERE intake = 'reviews'")
    common = {
        "decision": DECISION, "labels": store.require("labels"), "feature_contract": CONTRACTS[DECISION],
        "temperature": 1.0, "privacy": PRIVACY, "created_at": datetime.now(timezone.utc).isoformat(),
        "training": {"dagster_run_id": context.run_id, "preset": training.preset,
                     "data_window": {"first": str(window["first"][0]), "last": str(window["last"][0])},
                     "eval_examples": len(eval_inputs), "code_version": __version__},
        "metrics": {"teacher": store.require("teacher"), "student": store.require("student")},
    }
    bundles = {}
    for role, folder, allow_int8 in (("edge", store.student_dir, True), ("central", store.teacher_dir, False)):
        model = load_classifier(folder)
        probs = softmax(predict_logits(model, tokenizer, eval_inputs, max_length=cfg.max_length))
        # The central model decides everything it is asked: it never abstains.
        abstain = abstain_threshold(probs, cfg.edge_coverage) if role == "edge" else 0.0
        report = build_bundle(
            model, tokenizer, base_model_path() / "tokenizer.json", eval_inputs,
            training_bundle_dir(training, role), max_length=cfg.max_length,
            min_agreement=cfg.int8_min_agreement, allow_int8=allow_int8,
            metadata={**common, "role": role, "model_name": DECISION, "layers": model.num_layers,
                      "thresholds": {"abstain": abstain, "edge_coverage_target": cfg.edge_coverage}})
        shipped = onnx_logits(ort_session(training_bundle_dir(training, role) / "model.onnx"),
                              tokenizer, eval_inputs, cfg.max_length)
        bundles[role] = {"report": report, "f1": prf(eval_labels, shipped.argmax(1))["f1"], "abstain": abstain}
    edge = bundles["edge"]["report"]
    store.update(bundle={"edge_sha256": edge.manifest["bundle_sha256"],
                         "central_sha256": bundles["central"]["report"].manifest["bundle_sha256"],
                         "shipped_f1": bundles["edge"]["f1"], "parity": edge.parity_max_abs_delta,
                         "int8_agreement": edge.int8_agreement, "quantization": edge.quantization,
                         "latency_p50_ms": edge.latency_p50_ms, "latency_p99_ms": edge.latency_p99_ms,
                         "model_bytes": edge.size_shipped, "abstain": bundles["edge"]["abstain"]})
    return dg.MaterializeResult(metadata={
        "bundle_sha256": edge.manifest["bundle_sha256"], "quantization": edge.quantization,
        "quantization_reason": edge.quantization_reason,
        "parity_max_abs_logit_delta": edge.parity_max_abs_delta, "int8_agreement": edge.int8_agreement,
        "shipped_f1": bundles["edge"]["f1"], "model_bytes": edge.size_shipped,
        "fp32_model_bytes": edge.size_fp32, "latency_p50_ms": edge.latency_p50_ms,
        "latency_p99_ms": edge.latency_p99_ms, "abstain_threshold": bundles["edge"]["abstain"],
        "central_bundle_sha256": bundles["central"]["report"].manifest["bundle_sha256"],
        "central_parity_max_abs_logit_delta": bundles["central"]["report"].parity_max_abs_delta})


def training_bundle_dir(training: TrainingResource, role: str) -> Path:
    """Where the latest ``edge`` or ``central`` bundle of the decision is built."""
    return Path(training.bundles_dir) / DECISION / role


@dg.asset(group_name=RELEASE_GROUP, deps=["edge_bundle"], kinds={"mlflow"},
          description="The bundle as a registered MLflow model version (alias challenger); champion moves "
                      "to it only if student F1 ≥ the configured fraction of teacher F1.")
def registered_model(context: dg.AssetExecutionContext, training: TrainingResource,
                     mlflow: MlflowResource) -> dg.MaterializeResult:
    cfg = training.config()
    store = ModelStore(training.models_dir, DECISION)
    bundle = store.require("bundle")
    client, run_id = mlflow.client(), mlflow.run_for(context.run_id, DECISION)
    client.log_artifacts(run_id, str(training_bundle_dir(training, "central")), artifact_path="central_bundle")
    for key in ("parity", "int8_agreement", "shipped_f1", "latency_p50_ms", "latency_p99_ms", "model_bytes"):
        client.log_metric(run_id, f"bundle_{key}", float(bundle[key]))
    version = register_bundle(client, DECISION, run_id, training_bundle_dir(training, "edge"), tags={
        "bundle_sha256": bundle["edge_sha256"], "central_bundle_sha256": bundle["central_sha256"],
        "quantization": bundle["quantization"], "dagster_run_id": context.run_id})
    decision = promote(client, DECISION, version, student_f1=store.require("student")["f1"],
                       teacher_f1=store.require("teacher")["f1"], min_ratio=cfg.promotion_min_f1_ratio)
    context.log.info(decision.reason)
    store.update(registry={"version": version, "promoted": decision.promoted, "reason": decision.reason,
                           "aliases": aliases(client, DECISION)})
    return dg.MaterializeResult(metadata={
        "model_name": DECISION, "version": version, "promoted": decision.promoted,
        "promotion": decision.reason, "aliases": dg.MetadataValue.json(aliases(client, DECISION)),
        "mlflow_run_id": run_id})


@dg.asset(group_name=RELEASE_GROUP, deps=["registered_model"], kinds={"onnx"},
          description="The champion bundle (and its central teacher) pushed to the pods' deploy folder, "
                      "with release.json naming the model version.")
def deployed_bundle(training: TrainingResource, mlflow: MlflowResource) -> dg.MaterializeResult:
    client = mlflow.client()
    root = Path(training.deploy_dir)
    try:
        edge = deploy(client, DECISION, CHAMPION, root)
    except MlflowException as err:
        raise dg.Failure(description=f"no {CHAMPION} version of {DECISION} to deploy: no version has passed "
                                     f"the promotion gate yet ({err})") from err
    central = deploy(client, DECISION, CHAMPION, root, artifact_path="central_bundle", slot="central")
    version = client.get_model_version_by_alias(DECISION, CHAMPION).version
    return dg.MaterializeResult(metadata={"model_version": version, "edge_dir": str(edge),
                                          "central_dir": str(central)})
