"""Features → central (teacher) model → distilled student, for the negative_review decision."""


import time

import dagster as dg
import numpy as np

from orchestration.resources import MlflowResource, TrainingResource, WarehouseResource
from training.distill import distil_student, fine_tune_teacher
from training.encoder import load_classifier, load_tokenizer, save_classifier
from training.examples import LABELS, make_split
from training.loop import Inputs, predict_logits, seed_everything
from training.metrics import prf
from training.model_store import ModelStore

MODEL_GROUP = "models"
DECISION = "negative_review"


def split_examples(warehouse: WarehouseResource, split: str) -> tuple[Inputs, np.ndarray]:
    """Inputs and int64 labels [n] of the ``train`` or ``eval`` split of the feature snapshot."""
    frame = warehouse.get().frame("SELECT text, label FROM features_negative_review WHERE split = ?", [split])
    if frame.empty:
        raise ValueError(f"no {split} examples: materialise signal_features first")
    return Inputs(frame["text"].tolist()), frame["label"].to_numpy(dtype=np.int64)


@dg.asset(group_name=MODEL_GROUP, deps=["signal_history"], kinds={"duckdb"},
          description="negative_review examples (rating ≤ 2, or the reviewer's own negative flag) from "
                      "signal history, split by product: evaluation products are never trained on.")
def signal_features(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                    training: TrainingResource) -> dg.MaterializeResult:
    cfg = training.config()
    wh = warehouse.get()
    records = wh.signals("signal_history", "intake = 'reviews'")
    split = make_split(records, eval_fraction=cfg.eval_fraction, max_train=cfg.max_train_examples,
                       max_eval=cfg.max_eval_examples, seed=cfg.seed)
    rows = [{"text": e.text, "label": e.label, "product_id": e.product_id, "source": e.source, "split": side}
            for side, examples in (("train", split.train), ("eval", split.eval)) for e in examples]
    wh.write_features(context.run_id, rows)
    eval_products = sorted({e.product_id for e in split.eval})
    return dg.MaterializeResult(metadata={
        "review_records": len(records), "unlabelled": split.unlabelled,
        "train": len(split.train), "train_negative": sum(e.label for e in split.train),
        "eval": len(split.eval), "eval_negative": sum(e.label for e in split.eval),
        "eval_products": dg.MetadataValue.json(eval_products),
    })


@dg.asset(group_name=MODEL_GROUP, deps=["signal_features"], kinds={"pytorch", "mlflow"},
          description="Central model: all-MiniLM-L6-v2 (6 layers) + LoRA + head fine-tuned on the labelled "
                      "reviews; its logits on the training texts are the student's soft labels.")
def teacher_labels(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                   training: TrainingResource, mlflow: MlflowResource) -> dg.MaterializeResult:
    cfg = training.config()
    seed_everything(cfg.seed, cfg.threads)
    store = ModelStore(training.models_dir, DECISION)
    inputs, labels = split_examples(warehouse, "train")
    eval_inputs, eval_labels = split_examples(warehouse, "eval")
    tokenizer = load_tokenizer()
    started = time.perf_counter()
    teacher, losses = fine_tune_teacher(tokenizer, inputs, labels.tolist(), cfg)
    train_s = time.perf_counter() - started
    save_classifier(teacher, store.teacher_dir)
    soft = predict_logits(teacher, tokenizer, inputs, max_length=cfg.max_length)
    np.save(store.root / "teacher_logits.npy", soft)
    metrics = prf(eval_labels, predict_logits(teacher, tokenizer, eval_inputs, max_length=cfg.max_length).argmax(1))
    store.update(teacher={**metrics, "train_seconds": round(train_s, 1), "layers": teacher.num_layers},
                 labels=list(LABELS), preset=training.preset)
    client, run_id = mlflow.client(), mlflow.run_for(context.run_id, DECISION)
    for key, value in cfg.to_params().items():
        client.log_param(run_id, key, value)
    for step, loss in enumerate(losses):
        client.log_metric(run_id, "teacher_train_loss", loss, step=step)
    for key, value in metrics.items():
        client.log_metric(run_id, f"teacher_{key}", value)
    return dg.MaterializeResult(metadata={
        "teacher_f1": metrics["f1"], "teacher_precision": metrics["precision"],
        "teacher_recall": metrics["recall"], "train_seconds": round(train_s, 1),
        "steps": len(losses), "soft_labels": len(soft), "mlflow_run_id": run_id})


@dg.asset(group_name=MODEL_GROUP, deps=["teacher_labels"], kinds={"pytorch", "mlflow"},
          description="Micro-model: a shallow encoder initialised from the teacher's layers, LoRA + head "
                      "trained by knowledge distillation on temperature-scaled teacher logits + hard labels.")
def student_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                  training: TrainingResource, mlflow: MlflowResource) -> dg.MaterializeResult:
    cfg = training.config()
    seed_everything(cfg.seed, cfg.threads)
    store = ModelStore(training.models_dir, DECISION)
    inputs, labels = split_examples(warehouse, "train")
    eval_inputs, eval_labels = split_examples(warehouse, "eval")
    soft = np.load(store.root / "teacher_logits.npy")
    if len(soft) != len(inputs):
        raise ValueError(f"{len(soft)} teacher logits for {len(inputs)} training examples: re-run teacher_labels")
    tokenizer = load_tokenizer()
    teacher = load_classifier(store.teacher_dir)
    started = time.perf_counter()
    student, losses = distil_student(teacher, tokenizer, inputs, labels.tolist(), soft, cfg)
    train_s = time.perf_counter() - started
    save_classifier(student, store.student_dir)
    metrics = prf(eval_labels, predict_logits(student, tokenizer, eval_inputs, max_length=cfg.max_length).argmax(1))
    teacher_f1 = store.require("teacher")["f1"]
    store.update(student={**metrics, "train_seconds": round(train_s, 1), "layers": student.num_layers})
    client, run_id = mlflow.client(), mlflow.run_for(context.run_id, DECISION)
    for step, loss in enumerate(losses):
        client.log_metric(run_id, "student_train_loss", loss, step=step)
    for key, value in metrics.items():
        client.log_metric(run_id, f"student_{key}", value)
    return dg.MaterializeResult(metadata={
        "student_f1": metrics["f1"], "student_precision": metrics["precision"],
        "student_recall": metrics["recall"], "teacher_f1": teacher_f1,
        "f1_ratio": metrics["f1"] / teacher_f1 if teacher_f1 else 0.0, "layers": student.num_layers,
        "train_seconds": round(train_s, 1), "mlflow_run_id": run_id})
