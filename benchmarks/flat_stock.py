"""urgent_inventory's student before and after first-sight examples: held-out F1 and flat windows.

Run on the state a demo run leaves (its warehouse's stock history)::

    EDGE_INSIGHTS_STATE_DIR=var .venv/bin/python benchmarks/flat_stock.py [--preset tiny]

Two students of the preset on the pipeline's split (:func:`training.examples.split_examples`):
*before* from the full-history windows only, as the decision built its examples before
first-sight windows (:mod:`training.decisions.urgent_inventory`), *after* from both kinds. Their
calibration and eval examples are the same (checked), and so is the set of full-history windows
they train on; *after* adds first-sight ones. Both are measured on the same held-out products: F1
of ``urgent`` on their full-history windows, and on flat windows (the count repeated 8 times) at 0–3 units (the rule
says urgent) and at 40 (ok), each with every held-out title, the share the edge answers right and
the share *served* right (the edge's answer when its temperature-scaled confidence reaches the
abstain threshold that keeps ``edge_coverage`` of calibration cases at the edge, else the rule's).
Works in a copy of the warehouse under ``<state>/benchmarks/flat_stock/``; writes
``<state>/benchmarks/flat_stock.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from commons.label_rules import urgent_inventory as rule
from commons.settings import Settings
from commons.warehouse import Warehouse
from training.config import TrainConfig, preset
from training.decisions.urgent_inventory import SOURCE, SPEC
from training.encoder import load_classifier, load_tokenizer
from training.examples import Example, split_examples
from training.features import examples_of
from training.loop import Inputs, predict_logits
from training.metrics import abstain_threshold, prf, softmax
from training.model_store import ModelStore
from training.student import train_student
from training.teacher import train_teacher

FLAT_LEVELS = (0, 1, 2, 3, 40)


def _rows(side: str, examples: list[Example]) -> list[dict]:
    return [{"text": e.text, "label": e.label, "product_id": e.product_id, "source": e.source,
             "numbers": list(e.window), "split": side} for e in examples]


def _split_args(cfg: TrainConfig) -> dict:
    return {"eval_fraction": cfg.eval_fraction, "max_train": cfg.max_train_examples,
            "max_eval": cfg.max_eval_examples, "seed": cfg.seed}


def _flat(titles: list[str], level: float) -> tuple[Inputs, np.ndarray]:
    windows = np.full((len(titles), SPEC.window), level, dtype=np.float32)
    return Inputs(list(titles), windows), np.full(len(titles), int(rule(windows[0])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny")
    args = parser.parse_args()
    settings = Settings.from_env().ensure()
    cfg = preset(args.preset)
    work = settings.state_dir / "benchmarks" / "flat_stock"
    work.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.warehouse_path, work / "warehouse.duckdb")
    wh = Warehouse(work / "warehouse.duckdb")
    examples, _ = SPEC.examples(wh.history(SPEC.history))
    splits = {"before": split_examples([e for e in examples if e.source == SOURCE], 0, **_split_args(cfg)),
              "after": split_examples(examples, 0, train_only_sources=SPEC.train_only_sources, **_split_args(cfg))}
    if any(splits["before"].__dict__[side] != splits["after"].__dict__[side] for side in ("calibration", "eval")):
        raise SystemExit("the two students' calibration or eval examples differ: no like-for-like comparison")
    titles = sorted({e.text for e in splits["after"].eval})
    tokenizer = load_tokenizer()
    results = []
    for variant, split in splits.items():
        wh.write_features(SPEC.name, variant, _rows("train", split.train) + _rows("calibration", split.calibration)
                          + _rows("eval", split.eval))
        store = ModelStore(work / "models" / variant, SPEC.name)
        started = time.perf_counter()
        train_teacher(wh, SPEC, cfg, store, args.preset)
        student = train_student(wh, SPEC, cfg, store)
        model = load_classifier(store.student_dir)
        cal, _ = examples_of(wh, SPEC.name, "calibration")
        abstain = abstain_threshold(softmax(predict_logits(model, tokenizer, cal, max_length=cfg.max_length),
                                            student["temperature"]), cfg.edge_coverage)
        row = {"variant": variant, "preset": args.preset, "f1": student["metrics"]["f1"], "abstain": abstain,
               "seconds": round(time.perf_counter() - started, 1)}
        for level in FLAT_LEVELS:
            inputs, truth = _flat(titles, level)
            probs = softmax(predict_logits(model, tokenizer, inputs, max_length=cfg.max_length),
                            student["temperature"])
            edge = probs.argmax(1)
            served = np.where(probs.max(1) >= abstain, edge, truth)
            row[f"flat_{level}"] = {"edge": float((edge == truth).mean()), "served": float((served == truth).mean()),
                                    "confidence_urgent": float(probs[:, 1].mean())}
        results.append(row)
    (settings.state_dir / "benchmarks" / "flat_stock.json").write_text(json.dumps(results, indent=2))
    table = Table(title=f"urgent_inventory, {args.preset} preset, {len(titles)} held-out titles")
    for col in ("variant", "held-out F1", *(f"flat {lv}: edge / served" for lv in FLAT_LEVELS), "s"):
        table.add_column(col)
    for r in results:
        table.add_row(r["variant"], f'{r["f1"]:.3f}',
                      *(f'{r[f"flat_{lv}"]["edge"]:.2f} / {r[f"flat_{lv}"]["served"]:.2f}' for lv in FLAT_LEVELS),
                      str(r["seconds"]))
    Console().print(table)


if __name__ == "__main__":
    main()
