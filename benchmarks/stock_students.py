"""Shared by ``flat_stock.py`` and ``sparse_stock.py``: train one urgent_inventory student of a
preset on a given split, in a copy of the warehouse, as the pipeline does, and calibrate its
abstain threshold."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from commons.label_rules import urgent_inventory as rule
from commons.settings import Settings
from commons.warehouse import Warehouse
from training.config import TrainConfig, preset
from training.decisions.urgent_inventory import SPEC, examples_from_history
from training.encoder import load_classifier
from training.examples import Example, Split
from training.features import examples_of
from training.loop import Inputs, predict_logits
from training.metrics import abstain_threshold, softmax
from training.model_store import ModelStore
from training.student import train_student
from training.teacher import train_teacher


@dataclass
class Student:
    """A trained student: the classifier, its training report, the F1 of the gate's logistic baseline
    fitted on the same split, the temperature and abstain threshold it is served with, the
    seconds teacher and student took, and the model store holding them."""

    model: Any
    report: dict[str, Any]
    baseline_f1: float
    temperature: float
    abstain: float
    seconds: float
    store: ModelStore


def prepared(name: str, preset_name: str) -> tuple[Settings, TrainConfig, Path, Warehouse, list[Example]]:
    """The state folder's settings, the preset, the benchmark's work folder ``<state>/benchmarks/<name>``
    holding a copy of the warehouse (so the state's own is never written), and every urgent_inventory
    example of its stock history as the demo's job saw it: without the observations the live loop
    appended after it (partition ``live``), which are already windows of a budgeted watcher."""
    settings = Settings.from_env().ensure()
    work = settings.state_dir / "benchmarks" / name
    work.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.warehouse_path, work / "warehouse.duckdb")
    wh = Warehouse(work / "warehouse.duckdb")
    with wh.connect() as con:
        con.execute("DELETE FROM signal_history WHERE partition_key = 'live'")
    examples, _ = examples_from_history(wh.history(SPEC.history))
    return settings, preset(preset_name), work, wh, examples


def split_args(cfg: TrainConfig) -> dict:
    """The keyword arguments of :func:`training.examples.split_examples` the pipeline passes."""
    return {"eval_fraction": cfg.eval_fraction, "max_train": cfg.max_train_examples,
            "max_eval": cfg.max_eval_examples, "seed": cfg.seed}


def flat(titles: list[str], level: float) -> tuple[Inputs, np.ndarray]:
    """Flat windows (``level`` repeated) under every title, and the rule's label for them."""
    windows = np.full((len(titles), SPEC.window), level, dtype=np.float32)
    return Inputs(list(titles), windows), np.full(len(titles), int(rule(windows[0])))


def _rows(side: str, examples: list[Example]) -> list[dict]:
    return [{"text": e.text, "label": e.label, "product_id": e.product_id, "source": e.source,
             "numbers": list(e.window), "split": side} for e in examples]


def train_variant(wh: Warehouse, split: Split, variant: str, work: Path, cfg: TrainConfig, preset_name: str,
                  tokenizer) -> Student:
    """Write ``split`` as the ``variant`` feature table, train teacher and student under
    ``work/models/<variant>``, and calibrate the abstain threshold on its calibration examples
    (the one that keeps ``edge_coverage`` of them at the edge)."""
    wh.write_features(SPEC.name, variant, _rows("train", split.train) + _rows("calibration", split.calibration)
                      + _rows("eval", split.eval))
    store = ModelStore(work / "models" / variant, SPEC.name)
    started = time.perf_counter()
    train_teacher(wh, SPEC, cfg, store, preset_name)
    report = train_student(wh, SPEC, cfg, store)
    model = load_classifier(store.student_dir)
    calibration, _ = examples_of(wh, SPEC.name, "calibration", text=SPEC.student_reads_text)
    abstain = abstain_threshold(softmax(predict_logits(model, tokenizer, calibration, max_length=cfg.max_length),
                                        report["temperature"]), cfg.edge_coverage)
    return Student(model, report, report["baseline"]["f1"], report["temperature"], abstain,
                   round(time.perf_counter() - started, 1), store)
