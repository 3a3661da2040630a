"""A decision's labelled examples: built from signal history, split by product, stored, read back.

The snapshot lives in the warehouse's ``features`` table (one row per example with its split), so
the teacher, the student, export and the champion comparison all read the same examples.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from commons.errors import TrainingError
from commons.warehouse import Warehouse
from training.config import TrainConfig
from training.decisions.base import DecisionSpec
from training.examples import split_examples
from training.loop import Inputs

SPLITS = ("train", "calibration", "eval")


def build_features(wh: Warehouse, spec: DecisionSpec, cfg: TrainConfig, run_id: str) -> dict[str, Any]:
    """Build, split (by product) and store a decision's examples; returns the counts as metadata:
    history rows, examples, alerts, rows without a label, and per split its size and alerts."""
    rows = wh.history(spec.history)
    examples, unlabelled = spec.examples(rows)
    split = split_examples(examples, unlabelled, eval_fraction=cfg.eval_fraction,
                           max_train=cfg.max_train_examples, max_eval=cfg.max_eval_examples, seed=cfg.seed,
                           train_only_sources=spec.train_only_sources)
    parts = {"train": split.train, "calibration": split.calibration, "eval": split.eval}
    wh.write_features(spec.name, run_id, [
        {"text": e.text, "label": e.label, "product_id": e.product_id, "source": e.source,
         "numbers": list(e.window) if e.window is not None else None, "split": side}
        for side, part in parts.items() for e in part])
    meta: dict[str, Any] = {"history_rows": len(rows), "examples": len(examples),
                            "alerts": sum(e.label for e in examples), "without_label": unlabelled}
    for side, part in parts.items():
        meta[side] = len(part)
        meta[f"{side}_alerts"] = sum(e.label for e in part)
    meta["eval_products"] = len({e.product_id for e in split.eval})
    return meta


def examples_of(wh: Warehouse, decision: str, split: str, *, text: bool = True,
                exclude_sources: tuple[str, ...] = ()) -> tuple[Inputs, np.ndarray]:
    """Inputs and int64 labels [n] of one split (``train`` / ``calibration`` / ``eval``).

    ``text`` False: every text is empty, as a pod feeds a model that ignores its text fields
    (:attr:`training.decisions.base.DecisionSpec.student_reads_text`). ``exclude_sources``: leave
    out examples of these sources (e.g. a decision's train-only views, which are not traffic).

    Raises:
        TrainingError: the split is empty (the features were not built yet).
    """
    frame = wh.features(decision, split)
    if frame.is_empty():
        raise TrainingError(f"no {split} examples of {decision}: materialise {decision}/signal_features first")
    frame = frame.filter(~pl.col("source").is_in(list(exclude_sources)).fill_null(False))
    numbers = frame["numbers"]
    windows = None if numbers.null_count() == len(numbers) else \
        np.stack([np.asarray(v) for v in numbers.to_list()]).astype(np.float32)
    texts = frame["text"].to_list() if text else [""] * len(frame)
    return Inputs(texts, windows), frame["label"].to_numpy().astype(np.int64)
