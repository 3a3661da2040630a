"""Per decision: features → teacher model → student model → edge/central bundles → registry → deploy.

Each decision gets its own chain of assets under its name (``negative_review/teacher_model`` …),
built by :func:`decision_assets` from its :class:`~training.decisions.base.DecisionSpec`. Each
asset calls one room function and reports what it measured.
"""

import dagster as dg

from commons.manifest import ORACLE_RULE
from edge_export.publish import publish
from edge_export.release import build_central_bundle, build_edge_bundle
from orchestration.jobs import ERASURE_TRIGGER, TRIGGER_TAG
from orchestration.resources import MlflowResource, TrainingResource, WarehouseResource
from training.decisions.base import DecisionSpec
from training.features import build_features
from training.registry import CHAMPION, deploy_champion
from training.student import train_student
from training.teacher import train_teacher
from training.tracking import log_stage

# Where each decision's examples come from, beyond the harvest chain's signal_history.
EXTRA_SOURCES = {"price_spike": ["price_history"], "urgent_inventory": ["replay_harvest"]}


def decision_assets(spec: DecisionSpec) -> list[dg.AssetsDefinition]:
    """The seven assets of one decision's chain."""
    name = spec.name
    key = lambda stage: dg.AssetKey([name, stage])  # noqa: E731
    window = f" + numeric branch over the newest {spec.student_window} values" if spec.window_field else ""

    def stage(stage_name: str, deps: list, kinds: set[str], description: str):
        """``@dg.asset`` for one stage of this decision's chain (key ``<decision>/<stage>``)."""
        return dg.asset(key_prefix=[name], name=stage_name, group_name=name, deps=deps, kinds=kinds,
                        description=description)

    def export(builder, role: str, context: dg.AssetExecutionContext, warehouse: WarehouseResource,
               training: TrainingResource) -> dict:
        """Build this decision's ``edge`` or ``central`` bundle with ``builder`` (edge_export.release)."""
        return builder(warehouse.get(), spec, training.config(), training.store(name), training.bundle_dir(name, role),
                       run_id=context.run_id, preset=training.preset)

    @stage("signal_features", ["signal_history", *EXTRA_SOURCES.get(name, [])], {"duckdb", "polars"},
           f"{name} examples from signal history ({spec.label_rule}); split by product into "
           "train / calibration / eval, so evaluation products are never trained on.")
    def signal_features(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                        training: TrainingResource) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=build_features(warehouse.get(), spec, training.config(), context.run_id))

    rule = spec.oracle == ORACLE_RULE
    teacher_text = (f"Central oracle for {name}: its label rule ({spec.label_rule}) on the contract's window, "
                    "exact, nothing trained; its answers on the training examples are the student's soft labels."
                    if rule else
                    f"Central (teacher) model for {name}: all-MiniLM-L6-v2 (6 layers) + LoRA + head"
                    f"{' + numeric branch over the long window' if spec.window_field else ''}, trained and saved; "
                    "its logits on the training examples are the student's soft labels.")
    student_text = (f"Micro-model (student) for {name}: a shallow encoder initialised from "
                    f"{'the pretrained base' if rule else 'the teacher'}'s layers"
                    f"{window}; LoRA + head trained by knowledge distillation (temperature-scaled KL + hard labels), "
                    "then calibrated (decision bias, temperature) on the calibration split.")

    @stage("teacher_model", [key("signal_features")], {"python", "mlflow"} if rule else {"pytorch", "mlflow"},
           teacher_text)
    def teacher_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                      training: TrainingResource, mlflow: MlflowResource) -> dg.MaterializeResult:
        cfg = training.config()
        with mlflow.stage(context.run_id, name) as (client, run_id):
            result = train_teacher(warehouse.get(), spec, cfg, training.store(name), training.preset)
            metrics = {f"teacher_{k}": v for k, v in result["metrics"].items()}
            log_stage(client, run_id, params=cfg.to_params(), losses=result["losses"],
                      loss_name="teacher_train_loss", metrics=metrics)
        return dg.MaterializeResult(metadata={**metrics, "oracle": result["oracle"], "train_seconds": result["train_seconds"],
                                              "steps": len(result["losses"]), "soft_labels": result["soft_labels"],
                                              "mlflow_run_id": run_id})

    @stage("student_model", [key("teacher_model")], {"pytorch", "mlflow"}, student_text)
    def student_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                      training: TrainingResource, mlflow: MlflowResource) -> dg.MaterializeResult:
        with mlflow.stage(context.run_id, name) as (client, run_id):
            r = train_student(warehouse.get(), spec, training.config(), training.store(name))
            scores = {**r["metrics"], "ece_raw": r["ece_raw"], "ece": r["ece"]}
            log_stage(client, run_id, losses=r["losses"], loss_name="student_train_loss", metrics={
                **{f"student_{k}": v for k, v in scores.items()}, "temperature": r["temperature"],
                **{f"baseline_{k}": v for k, v in r["baseline"].items()}})
        return dg.MaterializeResult(metadata={
            **{f"student_{k}": v for k, v in r["metrics"].items()}, "teacher_f1": r["teacher_f1"],
            "baseline_f1": r["baseline"]["f1"], "f1_ratio": r["metrics"]["f1"] / r["teacher_f1"] if r["teacher_f1"] else 0.0,
            "ece_raw": r["ece_raw"], "ece": r["ece"], "temperature": r["temperature"],
            "decision_bias": r["decision_bias"], "layers": r["layers"], "train_seconds": r["train_seconds"],
            "mlflow_run_id": run_id})

    @stage("edge_bundle", [key("student_model")], {"onnx"},
           "Student merged and exported to ONNX (opset 17, dynamic batch/sequence, one graph with the numeric "
           "branch) over a pruned vocabulary, parity-checked, encoder int8-quantised if it agrees with fp32, with "
           "its abstain threshold.")
    def edge_bundle(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                    training: TrainingResource) -> dg.MaterializeResult:
        b = export(build_edge_bundle, "edge", context, warehouse, training)
        return dg.MaterializeResult(metadata={
            "bundle_sha256": b["edge_sha256"], "quantization": b["quantization"],
            "quantization_reason": b["quantization_reason"], "parity_max_abs_logit_delta": b["parity"],
            "int8_agreement": b["int8_agreement"], "shipped_f1": b["shipped_f1"], "model_bytes": b["model_bytes"],
            "fp32_model_bytes": b["fp32_model_bytes"], "vocabulary_tokens": b["vocabulary_tokens"],
            "latency_p50_ms": b["latency_p50_ms"], "latency_p99_ms": b["latency_p99_ms"],
            "abstain_threshold": b["abstain"], "edge_coverage_on_eval": b["edge_coverage"],
            "drift_baseline": dg.MetadataValue.json(b["drift_baseline"])})

    @stage("central_bundle", [key("teacher_model")], {"python"} if rule else {"onnx"},
           "The label rule sealed as the central bundle (no graph; the pod answers with the rule itself)"
           if rule else "Teacher exported to ONNX as the central model (fp32, full vocabulary): the hybrid oracle "
           "that low-confidence edge cases are routed to.")
    def central_bundle(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                       training: TrainingResource) -> dg.MaterializeResult:
        c = export(build_central_bundle, "central", context, warehouse, training)
        parity = {} if c["central_parity"] is None else {"central_parity_max_abs_logit_delta": c["central_parity"]}
        return dg.MaterializeResult(metadata={"central_bundle_sha256": c["central_sha256"], "oracle": c["oracle"],
                                              "central_f1": c["central_f1"], **parity})

    @stage("registered_model", [key("edge_bundle"), key("central_bundle")], {"mlflow"},
           "The edge bundle as a registered MLflow model version (alias challenger) with model card, "
           "input example and tags, the central bundle beside it; champion moves to it only through "
           "the gate (≥ fraction of teacher F1, beats the baseline, no regression against the champion "
           "unless the run replaces a champion that learned from erased data).")
    def registered_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                         training: TrainingResource, mlflow: MlflowResource) -> dg.MaterializeResult:
        with mlflow.stage(context.run_id, name) as (client, run_id):
            r = publish(client, run_id, warehouse.get(), spec, training.config(), training.store(name),
                        training.bundle_dir(name, "edge"), training.bundle_dir(name, "central"),
                        dagster_run_id=context.run_id, signer=training.signer(), audit=training.audit(),
                        champion_erased=context.run.tags.get(TRIGGER_TAG) == ERASURE_TRIGGER)
        context.log.info(r["reason"])
        return dg.MaterializeResult(metadata={
            "model_name": name, "version": r["version"], "promoted": r["promoted"], "promotion": r["reason"],
            "signed_by": r["signed_by"] or "unsigned (refused by the gate)", "sign_s": r["sign_s"],
            "champion_f1_before": r["champion_f1_before"] if r["champion_f1_before"] is not None else "none",
            "aliases": dg.MetadataValue.json(r["aliases"]), "mlflow_run_id": run_id})

    @stage("deployed_bundle", [key("registered_model")], {"onnx"},
           "The champion bundle (and the central teacher it was distilled from) pushed to the pods' deploy folder, "
           "with release.json naming the model version.")
    def deployed_bundle(context: dg.AssetExecutionContext, training: TrainingResource,
                        mlflow: MlflowResource) -> dg.MaterializeResult:
        result = deploy_champion(mlflow.client(), name, training.deploy_dir_path, audit=training.audit())
        if not result["deployed"]:
            context.log.warning(f"{name}: no {CHAMPION} yet, nothing deployed")
        return dg.MaterializeResult(metadata=result)

    return [signal_features, teacher_model, student_model, edge_bundle, central_bundle, registered_model,
            deployed_bundle]
