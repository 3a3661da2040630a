"""The edge (student) model of a decision: distilled from its central oracle's answers, calibrated,
compared with a baseline on the same inputs."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from commons.errors import TrainingError
from commons.manifest import ORACLE_RULE
from commons.warehouse import Warehouse
from training.baseline import baseline_f1
from training.calibration import best_bias, expected_calibration_error, fit_temperature, fold_bias
from training.config import TrainConfig
from training.decisions.base import DecisionSpec
from training.distill import distil_student
from training.encoder import load_classifier, load_tokenizer, pretrained_classifier, save_classifier
from training.features import examples_of
from training.loop import predict_logits, seed_everything
from training.metrics import ensure_two_classes, prf, softmax
from training.model_store import ModelStore


def train_student(wh: Warehouse, spec: DecisionSpec, cfg: TrainConfig, store: ModelStore) -> dict[str, Any]:
    """Distil the student from the oracle's soft labels (initialised from the saved teacher's layers,
    or from the pretrained base for a rule oracle), then calibrate it on the calibration split: a
    decision bias folded into the head and a temperature T (Guo et al. 2017) kept for the manifest.

    Returns:
        ``{"metrics": {precision, recall, f1}, "ece_raw", "ece", "temperature", "decision_bias",
        "baseline": {...}, "teacher_f1", "layers", "train_seconds", "losses": [float]}``; also
        recorded in the model store (``student``, ``baseline``).

    Raises:
        TrainingError: a split holds one class only, or the teacher's soft labels do not match
            the training split (re-run the teacher).
    """
    seed_everything(cfg.seed, cfg.threads)
    tokenizer = load_tokenizer()
    name = spec.name
    train, y_train = examples_of(wh, name, "train", text=spec.student_reads_text)
    calibration, y_cal = examples_of(wh, name, "calibration", text=spec.student_reads_text)
    evaluation, y_eval = examples_of(wh, name, "eval", text=spec.student_reads_text)
    for side, y in (("train", y_train), ("calibration", y_cal), ("eval", y_eval)):
        ensure_two_classes(y, f"{name} {side}")
    soft = np.load(store.teacher_logits_path)
    if len(soft) != len(train):
        raise TrainingError(f"{len(soft)} teacher logits for {len(train)} training examples: re-run teacher_model")
    # A rule oracle has no layers to hand down: the student starts from the pretrained base.
    teacher = (pretrained_classifier(num_labels=2, seed=cfg.seed) if spec.oracle == ORACLE_RULE
               else load_classifier(store.teacher_dir))
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
    store.update(student={**metrics, **ece, "train_seconds": round(train_s, 1), "layers": student.num_layers,
                          "decision_bias": bias, "temperature": temperature},
                 baseline=baseline)
    return {"metrics": metrics, **ece, "temperature": temperature, "decision_bias": bias, "baseline": baseline,
            "teacher_f1": store.require("teacher")["f1"], "layers": student.num_layers,
            "train_seconds": round(train_s, 1), "losses": losses}
