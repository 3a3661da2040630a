"""Per decision: features → central (teacher) model → distilled, calibrated student.

Each decision gets its own chain of assets under its name (``negative_review/teacher_labels`` …),
built by :func:`model_assets` from its :class:`~training.decisions.base.DecisionSpec`.
"""

import time

import dagster as dg
import numpy as np

from orchestration.resources import MlflowResource, TrainingResource, WarehouseResource
from orchestration.warehouse import Warehouse
from training.baseline import baseline_f1
from training.calibration import best_bias, expected_calibration_error, fit_temperature, fold_bias
from training.decisions.base import DecisionSpec
from training.distill import distil_student, fine_tune_teacher
from training.encoder import load_classifier, load_tokenizer, save_classifier
from training.examples import split_examples
from training.loop import Inputs, predict_logits, seed_everything
from training.metrics import ensure_two_classes, prf, softmax
from training.model_store import ModelStore

MODEL_GROUP = "models"
# Where each decision's examples come from, beyond the harvest chain's signal_history.
EXTRA_SOURCES = {"price_spike": ["price_history"], "urgent_inventory": ["replay_harvest"]}


def examples_of(wh: Warehouse, decision: str, split: str) -> tuple[Inputs, np.ndarray]:
    """Inputs and int64 labels [n] of one split (train / calibration / eval) of a decision."""
    # rowid keeps the written order, which the teacher's saved logits are aligned with
    frame = wh.frame("SELECT text, label, numbers FROM features WHERE decision = ? AND split = ? ORDER BY rowid",
                     [decision, split])
    if frame.empty:
        raise ValueError(f"no {split} examples of {decision}: materialise {decision}/signal_features first")
    windows = None if frame["numbers"].isna().all() else np.stack(frame["numbers"].map(np.asarray)).astype(np.float32)
    return Inputs(frame["text"].tolist(), windows), frame["label"].to_numpy(dtype=np.int64)


def _training_setup(training: TrainingResource, warehouse: WarehouseResource, decision: str):
    """Seeded config, warehouse, model store and tokenizer shared by the training assets."""
    cfg = training.config()
    seed_everything(cfg.seed, cfg.threads)
    return cfg, warehouse.get(), ModelStore(training.models_dir, decision), load_tokenizer()


def model_assets(spec: DecisionSpec) -> list[dg.AssetsDefinition]:
    """The features, teacher and student assets of one decision."""
    name = spec.name
    prefix = [name]

    @dg.asset(key_prefix=prefix, name="signal_features", group_name=name,
              deps=["signal_history", *EXTRA_SOURCES.get(name, [])], kinds={"duckdb"},
              description=f"{name} examples from signal history ({spec.label_rule}); split by product into "
                          "train / calibration / eval, so evaluation products are never trained on.")
    def signal_features(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                        training: TrainingResource) -> dg.MaterializeResult:
        cfg = training.config()
        wh = warehouse.get()
        rows = wh.frame(spec.history_sql)
        examples, unlabelled = spec.examples(rows)
        split = split_examples(examples, unlabelled, eval_fraction=cfg.eval_fraction,
                               max_train=cfg.max_train_examples, max_eval=cfg.max_eval_examples, seed=cfg.seed)
        out = [{"text": e.text, "label": e.label, "product_id": e.product_id, "source": e.source,
                "numbers": list(e.window) if e.window is not None else None, "split": side}
               for side, part in (("train", split.train), ("calibration", split.calibration), ("eval", split.eval))
               for e in part]
        wh.write_features(name, context.run_id, out)
        meta = {"history_rows": len(rows), "examples": len(examples), "alerts": sum(e.label for e in examples),
                "without_label": unlabelled}
        for side, part in (("train", split.train), ("calibration", split.calibration), ("eval", split.eval)):
            meta[side] = len(part)
            meta[f"{side}_alerts"] = sum(e.label for e in part)
        meta["eval_products"] = len({e.product_id for e in split.eval})
        return dg.MaterializeResult(metadata=meta)

    @dg.asset(key_prefix=prefix, name="teacher_labels", group_name=name, deps=[dg.AssetKey([name, "signal_features"])],
              kinds={"pytorch", "mlflow"},
              description=f"Central model for {name}: all-MiniLM-L6-v2 (6 layers) + LoRA + head"
                          f"{' + numeric branch over the long window' if spec.window_field else ''}; its logits "
                          "on the training examples are the student's soft labels.")
    def teacher_labels(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                       training: TrainingResource, mlflow: MlflowResource) -> dg.MaterializeResult:
        cfg, wh, store, tokenizer = _training_setup(training, warehouse, name)
        train, y_train = examples_of(wh, name, "train")
        evaluation, y_eval = examples_of(wh, name, "eval")
        started = time.perf_counter()
        teacher, losses = fine_tune_teacher(tokenizer, train, y_train.tolist(), cfg, spec.numeric("teacher"))
        train_s = time.perf_counter() - started
        soft = predict_logits(teacher, tokenizer, train, max_length=cfg.max_length)
        calibration, y_cal = examples_of(wh, name, "calibration")
        fold_bias(teacher, best_bias(predict_logits(teacher, tokenizer, calibration, max_length=cfg.max_length), y_cal))
        save_classifier(teacher, store.teacher_dir)
        np.save(store.root / "teacher_logits.npy", soft)
        metrics = prf(y_eval, predict_logits(teacher, tokenizer, evaluation, max_length=cfg.max_length).argmax(1))
        store.update(teacher={**metrics, "train_seconds": round(train_s, 1), "layers": teacher.num_layers},
                     labels=list(spec.labels), preset=training.preset)
        client, run_id = mlflow.client(), mlflow.run_for(context.run_id, name)
        for key, value in cfg.to_params().items():
            client.log_param(run_id, key, value)
        for step, loss in enumerate(losses):
            client.log_metric(run_id, "teacher_train_loss", loss, step=step)
        for key, value in metrics.items():
            client.log_metric(run_id, f"teacher_{key}", value)
        return dg.MaterializeResult(metadata={
            **{f"teacher_{k}": v for k, v in metrics.items()}, "train_seconds": round(train_s, 1),
            "steps": len(losses), "soft_labels": len(soft), "mlflow_run_id": run_id})

    @dg.asset(key_prefix=prefix, name="student_model", group_name=name, deps=[dg.AssetKey([name, "teacher_labels"])],
              kinds={"pytorch", "mlflow"},
              description=f"Micro-model for {name}: a shallow encoder initialised from the teacher's layers"
                          f"{f', numeric branch over the newest {spec.student_window} values' if spec.window_field else ''}"
                          "; LoRA + head trained by knowledge distillation (temperature-scaled KL + hard labels), "
                          "then calibrated (decision bias, temperature) on the calibration split.")
    def student_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                      training: TrainingResource, mlflow: MlflowResource) -> dg.MaterializeResult:
        cfg, wh, store, tokenizer = _training_setup(training, warehouse, name)
        train, y_train = examples_of(wh, name, "train")
        calibration, y_cal = examples_of(wh, name, "calibration")
        evaluation, y_eval = examples_of(wh, name, "eval")
        for side, y in (("train", y_train), ("calibration", y_cal), ("eval", y_eval)):
            ensure_two_classes(y, f"{name} {side}")
        soft = np.load(store.root / "teacher_logits.npy")
        if len(soft) != len(train):
            raise ValueError(f"{len(soft)} teacher logits for {len(train)} training examples: re-run teacher_labels")
        teacher = load_classifier(store.teacher_dir)
        started = time.perf_counter()
        student, losses = distil_student(teacher, tokenizer, train, y_train.tolist(), soft, cfg, spec.numeric("student"))
        train_s = time.perf_counter() - started
        cal_logits = predict_logits(student, tokenizer, calibration, max_length=cfg.max_length)
        bias = best_bias(cal_logits, y_cal)
        fold_bias(student, bias)
        temperature = fit_temperature(cal_logits + np.array([0.0, bias]), y_cal)
        save_classifier(student, store.student_dir)
        eval_logits = predict_logits(student, tokenizer, evaluation, max_length=cfg.max_length)
        metrics = prf(y_eval, eval_logits.argmax(1))
        ece = {"ece_raw": expected_calibration_error(softmax(eval_logits), y_eval),
               "ece": expected_calibration_error(softmax(eval_logits, temperature), y_eval)}
        baseline = baseline_f1(spec.numeric("student"), train, y_train, calibration, y_cal, evaluation, y_eval)
        teacher_f1 = store.require("teacher")["f1"]
        store.update(student={**metrics, **ece, "train_seconds": round(train_s, 1), "layers": student.num_layers,
                              "decision_bias": bias, "temperature": temperature},
                     baseline=baseline)
        client, run_id = mlflow.client(), mlflow.run_for(context.run_id, name)
        for step, loss in enumerate(losses):
            client.log_metric(run_id, "student_train_loss", loss, step=step)
        for key, value in {**{f"student_{k}": v for k, v in {**metrics, **ece}.items()},
                           **{f"baseline_{k}": v for k, v in baseline.items()}, "temperature": temperature}.items():
            client.log_metric(run_id, key, value)
        return dg.MaterializeResult(metadata={
            **{f"student_{k}": v for k, v in metrics.items()}, "teacher_f1": teacher_f1,
            "baseline_f1": baseline["f1"], "f1_ratio": metrics["f1"] / teacher_f1 if teacher_f1 else 0.0,
            **ece, "temperature": temperature, "decision_bias": bias, "layers": student.num_layers,
            "train_seconds": round(train_s, 1), "mlflow_run_id": run_id})

    return [signal_features, teacher_labels, student_model]
