"""Per decision: export → register → gate → deploy.

The student becomes an edge bundle (ONNX, int8 when it agrees with fp32), the teacher a central
bundle (fp32); the edge bundle is a registered MLflow version (alias ``challenger``) with a model
card, and ``champion`` moves to it only through the gate (training.gates).
"""

import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from edge_export.bundle import build_bundle, onnx_logits
from edge_export.parity import ort_session
from edge_export.vocabulary import prune_vocabulary
from edge_insights import __version__
from orchestration.assets.models import examples_of
from orchestration.resources import MlflowResource, TrainingResource, WarehouseResource
from training.decisions.base import DecisionSpec
from training.encoder import base_model_path, load_classifier, load_tokenizer
from training.gates import evaluate_gate
from training.loop import Inputs, predict_logits
from training.metrics import abstain_threshold, prf, softmax
from training.model_card import model_card
from training.model_store import ModelStore
from training.registry import CHAMPION, aliases, champion_version, deploy, promote, register_bundle


def bundle_dir(training: TrainingResource, decision: str, role: str) -> Path:
    """Where the latest ``edge`` or ``central`` bundle of a decision is built."""
    return Path(training.bundles_dir) / decision / role


def _input_example(spec: DecisionSpec, inputs: Inputs) -> dict:
    record = {spec.text_field: inputs.texts[0]}
    if spec.window_field is not None:
        record[spec.window_field] = [float(v) for v in inputs.numeric[0]]
    return {"records": [record]}


def release_assets(spec: DecisionSpec) -> list[dg.AssetsDefinition]:
    """The edge_bundle, registered_model and deployed_bundle assets of one decision."""
    name = spec.name
    prefix = [name]

    @dg.asset(key_prefix=prefix, name="edge_bundle", group_name=name, deps=[dg.AssetKey([name, "student_model"])],
              kinds={"onnx"},
              description="Student merged and exported to ONNX (opset 17, dynamic batch/sequence, one graph with "
                          "the numeric branch) over a pruned vocabulary, parity-checked, encoder int8-quantised if it "
                          "agrees with fp32; plus the teacher as the central fp32 bundle.")
    def edge_bundle(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                    training: TrainingResource) -> dg.MaterializeResult:
        cfg = training.config()
        store = ModelStore(training.models_dir, name)
        wh, tokenizer = warehouse.get(), load_tokenizer()
        evaluation, y_eval = examples_of(wh, name, "eval")
        calibration, _ = examples_of(wh, name, "calibration")
        student_state = store.require("student")
        common = {
            "decision": name, "model_name": name, "labels": store.require("labels"),
            "feature_contract": spec.contract, **spec.manifest_inputs(),
            "privacy": (f"Model inputs are the feature-contract fields only ({', '.join(spec.contract['fields'])}); "
                        "texts were PII-scrubbed before storage and training."),
            "created_at": datetime.now(timezone.utc).isoformat(),
            "training": {"dagster_run_id": context.run_id, "preset": training.preset, "label_rule": spec.label_rule,
                         "eval_examples": len(evaluation), "code_version": __version__},
            "metrics": {"teacher": store.require("teacher"), "student": student_state,
                        "baseline": store.require("baseline")},
        }
        shipped = {}
        with tempfile.TemporaryDirectory() as vocab_dir:
            # The edge bundle keeps only the word pieces its decision's texts use (the embedding
            # table is most of its size); the central bundle keeps them all.
            full_vocabulary = base_model_path() / "tokenizer.json"
            pruned = prune_vocabulary(load_classifier(store.student_dir), full_vocabulary,
                                      examples_of(wh, name, "train")[0].texts + calibration.texts, Path(vocab_dir),
                                      keep_top=cfg.vocab_keep_top)
            roles = {"edge": (pruned.model, pruned.tokenizer, pruned.tokenizer_file, True,
                              {"vocabulary": pruned.manifest_entry()}),
                     "central": (load_classifier(store.teacher_dir), tokenizer, full_vocabulary, False, {})}
            for role, (model, role_tokenizer, tokenizer_file, allow_int8, vocabulary) in roles.items():
                temperature = student_state["temperature"] if role == "edge" else 1.0
                probs = softmax(predict_logits(model, role_tokenizer, calibration, max_length=cfg.max_length),
                                temperature)
                # The central model decides everything it is asked: it never abstains.
                abstain = abstain_threshold(probs, cfg.edge_coverage) if role == "edge" else 0.0
                report = build_bundle(model, role_tokenizer, tokenizer_file, evaluation,
                                      bundle_dir(training, name, role), max_length=cfg.max_length,
                                      min_agreement=cfg.int8_min_agreement, allow_int8=allow_int8,
                                      metadata={**common, **vocabulary, "role": role, "layers": model.num_layers,
                                                "temperature": temperature,
                                                "thresholds": {"abstain": abstain, "edge_coverage_target": cfg.edge_coverage}})
                logits = onnx_logits(ort_session(bundle_dir(training, name, role) / "model.onnx"), role_tokenizer,
                                     evaluation, cfg.max_length)
                shipped[role] = {"report": report, "metrics": prf(y_eval, logits.argmax(1)), "abstain": abstain,
                                 "coverage": float((softmax(logits, temperature).max(1) >= abstain).mean())}
        edge = shipped["edge"]["report"]
        store.update(bundle={
            "edge_sha256": edge.manifest["bundle_sha256"], "central_sha256": shipped["central"]["report"].manifest["bundle_sha256"],
            "shipped": shipped["edge"]["metrics"], "shipped_f1": shipped["edge"]["metrics"]["f1"],
            "parity": edge.parity_max_abs_delta, "int8_agreement": edge.int8_agreement,
            "quantization": edge.quantization, "latency_p50_ms": edge.latency_p50_ms,
            "latency_p99_ms": edge.latency_p99_ms, "model_bytes": edge.size_shipped, "abstain": shipped["edge"]["abstain"],
            "edge_coverage": shipped["edge"]["coverage"], "vocabulary_tokens": pruned.kept,
            "input_example": _input_example(spec, evaluation)})
        return dg.MaterializeResult(metadata={
            "bundle_sha256": edge.manifest["bundle_sha256"], "quantization": edge.quantization,
            "quantization_reason": edge.quantization_reason,
            "parity_max_abs_logit_delta": edge.parity_max_abs_delta, "int8_agreement": edge.int8_agreement,
            "shipped_f1": shipped["edge"]["metrics"]["f1"], "model_bytes": edge.size_shipped,
            "fp32_model_bytes": edge.size_fp32, "vocabulary_tokens": pruned.kept, "latency_p50_ms": edge.latency_p50_ms,
            "latency_p99_ms": edge.latency_p99_ms, "abstain_threshold": shipped["edge"]["abstain"],
            "edge_coverage_on_eval": shipped["edge"]["coverage"],
            "central_bundle_sha256": shipped["central"]["report"].manifest["bundle_sha256"],
            "central_f1": shipped["central"]["metrics"]["f1"],
            "central_parity_max_abs_logit_delta": shipped["central"]["report"].parity_max_abs_delta})

    @dg.asset(key_prefix=prefix, name="registered_model", group_name=name, deps=[dg.AssetKey([name, "edge_bundle"])],
              kinds={"mlflow"},
              description="The bundle as a registered MLflow model version (alias challenger) with model card, "
                          "input example and tags; champion moves to it only through the gate (≥ fraction of "
                          "teacher F1, beats the baseline, no regression against the current champion).")
    def registered_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                         training: TrainingResource, mlflow: MlflowResource) -> dg.MaterializeResult:
        cfg = training.config()
        store = ModelStore(training.models_dir, name)
        state, bundle = store.state(), store.require("bundle")
        client, run_id = mlflow.client(), mlflow.run_for(context.run_id, name)
        champion = champion_version(client, name)
        champion_f1 = None
        if champion is not None:
            evaluation, y_eval = examples_of(warehouse.get(), name, "eval")
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(client.download_artifacts(champion.run_id, "bundle", tmp))
                logits = onnx_logits(ort_session(local / "model.onnx"), load_tokenizer(local), evaluation,
                                     json.loads((local / "manifest.json").read_text())["max_length"])
            champion_f1 = prf(y_eval, logits.argmax(1))["f1"]
        gate = evaluate_gate(bundle["shipped_f1"], state["teacher"]["f1"], state["baseline"]["f1"], champion_f1,
                             cfg.promotion_min_f1_ratio, cfg.gate_on_baseline)
        client.log_artifacts(run_id, str(bundle_dir(training, name, "central")), artifact_path="central_bundle")
        client.log_text(run_id, model_card(name, spec.label_rule, spec.contract, state, gate.reason), "model_card.md")
        client.log_dict(run_id, bundle["input_example"], "input_example.json")
        for key in ("parity", "int8_agreement", "shipped_f1", "latency_p50_ms", "latency_p99_ms", "model_bytes",
                    "edge_coverage"):
            client.log_metric(run_id, f"bundle_{key}", float(bundle[key]))
        version = register_bundle(client, name, run_id, bundle_dir(training, name, "edge"), tags={
            "bundle_sha256": bundle["edge_sha256"], "teacher_bundle_sha256": bundle["central_sha256"],
            "quantization": bundle["quantization"], "dagster_run_id": context.run_id,
            "signature": json.dumps(spec.contract["fields"], sort_keys=True)[:5000],
            "f1": f"{bundle['shipped_f1']:.4f}", "champion_compared": str(champion.version) if champion else "none"})
        decision = promote(client, name, version, gate)
        context.log.info(decision.reason)
        store.update(registry={"version": version, "promoted": decision.promoted, "reason": decision.reason,
                               "champion_f1_before": champion_f1, "aliases": aliases(client, name)})
        return dg.MaterializeResult(metadata={
            "model_name": name, "version": version, "promoted": decision.promoted, "promotion": decision.reason,
            "champion_f1_before": champion_f1 if champion_f1 is not None else "none",
            "aliases": dg.MetadataValue.json(aliases(client, name)), "mlflow_run_id": run_id})

    @dg.asset(key_prefix=prefix, name="deployed_bundle", group_name=name,
              deps=[dg.AssetKey([name, "registered_model"])], kinds={"onnx"},
              description="The champion bundle (and the central teacher it was distilled from) pushed to the "
                          "pods' deploy folder, with release.json naming the model version.")
    def deployed_bundle(context: dg.AssetExecutionContext, training: TrainingResource,
                        mlflow: MlflowResource) -> dg.MaterializeResult:
        client = mlflow.client()
        root = Path(training.deploy_dir)
        if champion_version(client, name) is None:
            # The gate blocked every version so far: nothing may reach a pod. This is the gate
            # working, not a failed run; the metadata says why.
            context.log.warning(f"{name}: no {CHAMPION} yet, nothing deployed")
            return dg.MaterializeResult(metadata={"deployed": False,
                                                  "reason": f"no version of {name} has passed the gate yet"})
        edge = deploy(client, name, CHAMPION, root)
        central = deploy(client, name, CHAMPION, root, artifact_path="central_bundle", slot="central")
        version = client.get_model_version_by_alias(name, CHAMPION).version
        return dg.MaterializeResult(metadata={"deployed": True, "model_version": version, "edge_dir": str(edge),
                                              "central_dir": str(central)})

    return [edge_bundle, registered_model, deployed_bundle]
