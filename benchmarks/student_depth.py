"""Students of 1, 2 and 3 layers distilled from the same teacher: size, latency, F1.

Run on the state a demo run leaves (teacher, teacher logits and the features of a decision)::

    EDGE_INSIGHTS_STATE_DIR=var .venv/bin/python benchmarks/student_depth.py [--decision negative_review]

Each student is distilled with the demo preset except its depth, calibrated on the calibration
split, exported (vocabulary pruned) and int8-quantised like a shipped bundle; F1 is measured on the evaluation split
(products never trained on) with the shipped ONNX model; latency is one decision (batch 1,
tokenise + run, 1 thread), p50/p99 over up to 200 examples. Writes
``<state>/benchmarks/student_depth.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from commons.settings import Settings
from commons.warehouse import Warehouse
from edge_export.bundle import build_bundle, onnx_logits
from edge_export.parity import ort_session
from edge_export.vocabulary import prune_vocabulary
from training.calibration import best_bias, fold_bias
from training.config import preset
from training.decisions import DECISIONS
from training.distill import distil_student
from training.encoder import base_model_path, load_classifier, load_tokenizer
from training.features import examples_of
from training.loop import predict_logits, seed_everything
from training.metrics import prf
from training.model_store import ModelStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decision", default="negative_review", choices=sorted(DECISIONS))
    parser.add_argument("--layers", default="1,2,3")
    args = parser.parse_args()
    settings = Settings.from_env().ensure()
    spec, wh = DECISIONS[args.decision], Warehouse(settings.warehouse_path)
    store = ModelStore(settings.models_dir, args.decision)
    teacher, tokenizer = load_classifier(store.teacher_dir), load_tokenizer()
    soft = np.load(store.root / "teacher_logits.npy")
    train, y_train = examples_of(wh, args.decision, "train")
    calibration, y_cal = examples_of(wh, args.decision, "calibration")
    evaluation, y_eval = examples_of(wh, args.decision, "eval")
    rows = []
    for layers in (int(n) for n in args.layers.split(",")):
        cfg = replace(preset("demo"), student_layers=layers)
        seed_everything(cfg.seed, cfg.threads)
        student, _ = distil_student(teacher, tokenizer, train, y_train.tolist(), soft, cfg, spec.numeric("student"))
        fold_bias(student, best_bias(predict_logits(student, tokenizer, calibration, max_length=cfg.max_length), y_cal))
        with tempfile.TemporaryDirectory() as tmp:
            # as the edge_bundle asset ships it: vocabulary pruned to the train + calibration texts
            pruned = prune_vocabulary(student, base_model_path() / "tokenizer.json",
                                      train.texts + calibration.texts, Path(tmp) / "vocabulary",
                                      keep_top=cfg.vocab_keep_top)
            report = build_bundle(pruned.model, pruned.tokenizer, pruned.tokenizer_file, evaluation, Path(tmp) / "b",
                                  max_length=cfg.max_length, min_agreement=cfg.int8_min_agreement,
                                  metadata={"decision": args.decision})
            logits = onnx_logits(ort_session(Path(tmp) / "b" / "model.onnx"), pruned.tokenizer, evaluation,
                                 cfg.max_length)
        rows.append({"layers": layers, "f1": prf(y_eval, logits.argmax(1))["f1"], "quantization": report.quantization,
                     "model_mb": report.size_shipped / 2**20, "p50_ms": report.latency_p50_ms,
                     "p99_ms": report.latency_p99_ms})
    table = Table(title=f"{args.decision}: students by depth (teacher F1 {store.require('teacher')['f1']:.3f})")
    for col in ("layers", "F1 (shipped)", "quantization", "model MB", "p50 ms", "p99 ms"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["layers"]), f'{r["f1"]:.3f}', r["quantization"], f'{r["model_mb"]:.1f}',
                      f'{r["p50_ms"]:.2f}', f'{r["p99_ms"]:.2f}')
    Console().print(table)
    out = settings.state_dir / "benchmarks" / "student_depth.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
