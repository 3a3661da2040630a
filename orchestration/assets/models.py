"""Per decision: features → teacher model → student model → edge/central bundles → registry → deploy.

Each decision gets its own chain of assets under its name (``negative_review/teacher_model`` …),
built by :func:`decision_assets` from its :class:`~training.decisions.base.DecisionSpec`. Each
asset calls one room function and reports what it measured.
"""

import dagster as dg

from edge_export.publish import publish
from edge_export.release import build_central_bundle, build_edge_bundle
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

    @dg.asset(key_prefix=[name], name="signal_features", group_name=name,
              deps=["signal_history", *EXTRA_SOURCES.get(name, [])], kinds={"duckdb", "polars"},
              description=f"{name} examples from signal history ({spec.label_rule}); split by product into "
                          "train / calibration / eval, so evaluation products are never trained on.")
    def signal_features(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                        training: TrainingResource) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=build_features(warehouse.get(), spec, training.config(), context.run_id))

    @dg.asset(key_prefix=[name], name="teacher_model", group_name=name, deps=[key("signal_features")],
              kinds={"pytorch", "mlflow"},
              description=f"Central (teacher) model for {name}: all-MiniLM-L6-v2 (6 layers) + LoRA + head"
                          f"{' + numeric branch over the long window' if spec.window_field else ''}, trained and "
                          "saved; its logits on the training examples are the student's soft labels.")
    def teacher_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                      training: TrainingResource, mlflow: MlflowResource) -> dg.MaterializeResult:
        cfg = training.config()
        result = train_teacher(warehouse.get(), spec, cfg, training.store(name), training.preset)
        run_id = mlflow.run_for(context.run_id, name)
        log_stage(mlflow.client(), run_id, params=cfg.to_params(), losses=result["losses"],
                  loss_name="teacher_train_loss", metrics={f"teacher_{k}": v for k, v in result["metrics"].items()})
        return dg.MaterializeResult(metadata={
            **{f"teacher_{k}": v for k, v in result["metrics"].items()}, "train_seconds": result["train_seconds"],
            "steps": len(result["losses"]), "soft_labels": result["soft_labels"], "mlflow_run_id": run_id})

    @dg.asset(key_prefix=[name], name="student_model", group_name=name, deps=[key("teacher_model")],
              kinds={"pytorch", "mlflow"},
              description=f"Micro-model (student) for {name}: a shallow encoder initialised from the teacher's "
                          f"layers{window}; LoRA + head trained by knowledge distillation (temperature-scaled KL "
                          "+ hard labels), then calibrated (decision bias, temperature) on the calibration split.")
    def student_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                      training: TrainingResource, mlflow: MlflowResource) -> dg.MaterializeResult:
        r = train_student(warehouse.get(), spec, training.config(), training.store(name))
        run_id = mlflow.run_for(context.run_id, name)
        log_stage(mlflow.client(), run_id, losses=r["losses"], loss_name="student_train_loss", metrics={
            **{f"student_{k}": v for k, v in {**r["metrics"], "ece_raw": r["ece_raw"], "ece": r["ece"]}.items()},
            **{f"baseline_{k}": v for k, v in r["baseline"].items()}, "temperature": r["temperature"]})
        return dg.MaterializeResult(metadata={
            **{f"student_{k}": v for k, v in r["metrics"].items()}, "teacher_f1": r["teacher_f1"],
            "baseline_f1": r["baseline"]["f1"], "f1_ratio": r["metrics"]["f1"] / r["teacher_f1"] if r["teacher_f1"] else 0.0,
            "ece_raw": r["ece_raw"], "ece": r["ece"], "temperature": r["temperature"],
            "decision_bias": r["decision_bias"], "layers": r["layers"], "train_seconds": r["train_seconds"],
            "mlflow_run_id": run_id})

    @dg.asset(key_prefix=[name], name="edge_bundle", group_name=name, deps=[key("student_model")], kinds={"onnx"},
              description="Student merged and exported to ONNX (opset 17, dynamic batch/sequence, one graph with "
                          "the numeric branch) over a pruned vocabulary, parity-checked, encoder int8-quantised if it "
                          "agrees with fp32, with its abstain threshold.")
    def edge_bundle(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                    training: TrainingResource) -> dg.MaterializeResult:
        b = build_edge_bundle(warehouse.get(), spec, training.config(), training.store(name),
                              training.bundle_dir(name, "edge"), run_id=context.run_id, preset=training.preset)
        return dg.MaterializeResult(metadata={
            "bundle_sha256": b["edge_sha256"], "quantization": b["quantization"],
            "quantization_reason": b["quantization_reason"], "parity_max_abs_logit_delta": b["parity"],
            "int8_agreement": b["int8_agreement"], "shipped_f1": b["shipped_f1"], "model_bytes": b["model_bytes"],
            "fp32_model_bytes": b["fp32_model_bytes"], "vocabulary_tokens": b["vocabulary_tokens"],
            "latency_p50_ms": b["latency_p50_ms"], "latency_p99_ms": b["latency_p99_ms"],
            "abstain_threshold": b["abstain"], "edge_coverage_on_eval": b["edge_coverage"]})

    @dg.asset(key_prefix=[name], name="central_bundle", group_name=name, deps=[key("teacher_model")],
              kinds={"onnx"},
              description="Teacher exported to ONNX as the central model (fp32, full vocabulary): the hybrid "
                          "oracle that low-confidence edge cases are routed to.")
    def central_bundle(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                       training: TrainingResource) -> dg.MaterializeResult:
        c = build_central_bundle(warehouse.get(), spec, training.config(), training.store(name),
                                 training.bundle_dir(name, "central"), run_id=context.run_id, preset=training.preset)
        return dg.MaterializeResult(metadata={"central_bundle_sha256": c["central_sha256"],
                                              "central_f1": c["central_f1"],
                                              "central_parity_max_abs_logit_delta": c["central_parity"]})

    @dg.asset(key_prefix=[name], name="registered_model", group_name=name,
              deps=[key("edge_bundle"), key("central_bundle")], kinds={"mlflow"},
              description="The edge bundle as a registered MLflow model version (alias challenger) with model card, "
                          "input example and tags, the central bundle beside it; champion moves to it only through "
                          "the gate (≥ fraction of teacher F1, beats the baseline, no regression against the champion).")
    def registered_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                         training: TrainingResource, mlflow: MlflowResource) -> dg.MaterializeResult:
        run_id = mlflow.run_for(context.run_id, name)
        r = publish(mlflow.client(), run_id, warehouse.get(), spec, training.config(), training.store(name),
                    training.bundle_dir(name, "edge"), training.bundle_dir(name, "central"),
                    dagster_run_id=context.run_id)
        context.log.info(r["reason"])
        return dg.MaterializeResult(metadata={
            "model_name": name, "version": r["version"], "promoted": r["promoted"], "promotion": r["reason"],
            "champion_f1_before": r["champion_f1_before"] if r["champion_f1_before"] is not None else "none",
            "aliases": dg.MetadataValue.json(r["aliases"]), "mlflow_run_id": run_id})

    @dg.asset(key_prefix=[name], name="deployed_bundle", group_name=name, deps=[key("registered_model")],
              kinds={"onnx"},
              description="The champion bundle (and the central teacher it was distilled from) pushed to the "
                          "pods' deploy folder, with release.json naming the model version.")
    def deployed_bundle(context: dg.AssetExecutionContext, training: TrainingResource,
                        mlflow: MlflowResource) -> dg.MaterializeResult:
        result = deploy_champion(mlflow.client(), name, training.deploy_dir_path)
        if not result["deployed"]:
            context.log.warning(f"{name}: no {CHAMPION} yet, nothing deployed")
        return dg.MaterializeResult(metadata=result)

    return [signal_features, teacher_model, student_model, edge_bundle, central_bundle, registered_model,
            deployed_bundle]
