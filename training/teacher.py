"""The central oracle of a decision and its soft labels: a fine-tuned, bias-calibrated teacher, or the
decision's own label rule (:data:`commons.manifest.ORACLE_RULE`)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from commons.manifest import ORACLE_RULE
from commons.warehouse import Warehouse
from training.calibration import best_bias, fold_bias
from training.config import TrainConfig
from training.decisions.base import DecisionSpec
from training.distill import fine_tune_teacher
from training.encoder import load_tokenizer, save_classifier
from training.features import examples_of
from training.loop import Inputs, predict_logits, seed_everything
from training.metrics import prf
from training.model_store import ModelStore
from training.oracle import rule_logits


def train_teacher(wh: Warehouse, spec: DecisionSpec, cfg: TrainConfig, store: ModelStore,
                  preset: str) -> dict[str, Any]:
    """Build the decision's central oracle and the student's soft labels (its logits on train).

    A ``model`` oracle: fine-tune the 6-layer teacher on the train split, fold a decision bias
    fitted on the calibration split, save it. A ``rule`` oracle: the label rule itself
    (:mod:`training.oracle`); nothing is trained.

    Returns:
        ``{"metrics": {precision, recall, f1} on eval, "train_seconds", "losses": [float],
        "soft_labels": n, "oracle": kind}``; the metrics are also recorded in the model store
        (``teacher``).
    """
    seed_everything(cfg.seed, cfg.threads)
    train, y_train = examples_of(wh, spec.name, "train")
    evaluation, y_eval = examples_of(wh, spec.name, "eval")
    started = time.perf_counter()
    if spec.oracle == ORACLE_RULE:
        soft, eval_logits, losses, layers = rule_logits(spec, train), rule_logits(spec, evaluation), [], 0
    else:
        soft, eval_logits, losses, layers = _fine_tuned(wh, spec, cfg, store, train, y_train, evaluation)
    train_s = time.perf_counter() - started
    np.save(store.teacher_logits_path, soft)
    metrics = prf(y_eval, eval_logits.argmax(1))
    store.update(teacher={**metrics, "train_seconds": round(train_s, 1), "layers": layers, "oracle": spec.oracle},
                 labels=list(spec.labels), preset=preset)
    return {"metrics": metrics, "train_seconds": round(train_s, 1), "losses": losses, "soft_labels": len(soft),
            "oracle": spec.oracle}


def _fine_tuned(wh: Warehouse, spec: DecisionSpec, cfg: TrainConfig, store: ModelStore, train: Inputs,
                y_train: np.ndarray, evaluation: Inputs) -> tuple[np.ndarray, np.ndarray, list[float], int]:
    """Fine-tune, calibrate and save the teacher; its train logits, eval logits, losses and depth."""
    tokenizer = load_tokenizer()
    teacher, losses = fine_tune_teacher(tokenizer, train, y_train.tolist(), cfg, spec.numeric("teacher"))
    soft = predict_logits(teacher, tokenizer, train, max_length=cfg.max_length)
    calibration, y_cal = examples_of(wh, spec.name, "calibration")
    fold_bias(teacher, best_bias(predict_logits(teacher, tokenizer, calibration, max_length=cfg.max_length), y_cal))
    save_classifier(teacher, store.teacher_dir)
    return soft, predict_logits(teacher, tokenizer, evaluation, max_length=cfg.max_length), losses, teacher.num_layers
