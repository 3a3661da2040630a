"""The central (teacher) model of a decision: fine-tuned, bias-calibrated, saved with its soft labels."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from commons.warehouse import Warehouse
from training.calibration import best_bias, fold_bias
from training.config import TrainConfig
from training.decisions.base import DecisionSpec
from training.distill import fine_tune_teacher
from training.encoder import load_tokenizer, save_classifier
from training.features import examples_of
from training.loop import predict_logits, seed_everything
from training.metrics import prf
from training.model_store import ModelStore


def train_teacher(wh: Warehouse, spec: DecisionSpec, cfg: TrainConfig, store: ModelStore,
                  preset: str) -> dict[str, Any]:
    """Fine-tune the 6-layer teacher on the train split, fold a decision bias fitted on the
    calibration split, save it and its train-split logits (the student's soft labels).

    Returns:
        ``{"metrics": {precision, recall, f1} on eval, "train_seconds", "losses": [float],
        "soft_labels": n}``; the metrics are also recorded in the model store (``teacher``).
    """
    seed_everything(cfg.seed, cfg.threads)
    tokenizer = load_tokenizer()
    train, y_train = examples_of(wh, spec.name, "train")
    evaluation, y_eval = examples_of(wh, spec.name, "eval")
    started = time.perf_counter()
    teacher, losses = fine_tune_teacher(tokenizer, train, y_train.tolist(), cfg, spec.numeric("teacher"))
    train_s = time.perf_counter() - started
    soft = predict_logits(teacher, tokenizer, train, max_length=cfg.max_length)
    calibration, y_cal = examples_of(wh, spec.name, "calibration")
    fold_bias(teacher, best_bias(predict_logits(teacher, tokenizer, calibration, max_length=cfg.max_length), y_cal))
    save_classifier(teacher, store.teacher_dir)
    np.save(store.teacher_logits_path, soft)
    metrics = prf(y_eval, predict_logits(teacher, tokenizer, evaluation, max_length=cfg.max_length).argmax(1))
    store.update(teacher={**metrics, "train_seconds": round(train_s, 1), "layers": teacher.num_layers},
                 labels=list(spec.labels), preset=preset)
    return {"metrics": metrics, "train_seconds": round(train_s, 1), "losses": losses, "soft_labels": len(soft)}
