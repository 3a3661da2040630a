"""urgent_inventory's student on the live loop's sparse windows: without them, with them trained on
only, and with them as traffic (the pipeline's), on held-out products.

Run on the state a demo run leaves (its warehouse's stock history)::

    EDGE_INSIGHTS_STATE_DIR=var .venv/bin/python benchmarks/sparse_stock.py [--preset demo] [--seed N]

Three students of the preset, each on its own split by :func:`training.examples.split_examples`
(the products held out are the same in all three; checked):

* *daily only*: full-history and first-sight windows, first-sight ones trained on only (the
  pipeline before sparse windows);
* *sparse, train-only*: sparse windows (:func:`training.decisions.urgent_inventory.sparse_window`,
  what the live watcher sees when it revisits a product every few ticks) added to the trained-on-only
  share: calibration, evaluation and so the gate keep daily windows;
* *sparse as traffic*: sparse windows trained, calibrated and evaluated on like daily ones (the
  pipeline's :data:`training.decisions.urgent_inventory.SPEC`).

For each: the gate's own verdict on its evaluation split (student F1 against the logistic baseline
fitted on the same split), then on three fixed held-out sets, the same for all students — daily
windows (the first student's evaluation split), sparse windows (a stratified sample of the held-out
products' sparse windows) and both — the F1 of ``urgent`` for the edge, the served answer (the
edge's when its temperature-scaled confidence reaches the abstain threshold that keeps
``edge_coverage`` of calibration cases at the edge, else the rule's) and the baseline; the share
of sparse stock-outs (0 units now) answered ``urgent``; flat windows at 0 units served right.
``--seed`` replaces the preset's seed (split and training): the gate's margin depends on it.

Works in a copy of the warehouse under ``<state>/benchmarks/sparse_stock/``; writes
``<state>/benchmarks/sparse_stock-<seed>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
from rich.console import Console
from rich.table import Table
from stock_students import flat, prepared, split_args, train_variant

from training.baseline import baseline_f1
from training.decisions.urgent_inventory import FIRST_SIGHT, SPARSE, SPEC
from training.encoder import load_tokenizer
from training.examples import Example, split_examples, stratified_sample
from training.features import examples_of
from training.loop import Inputs, predict_logits
from training.metrics import prf, softmax

VARIANTS = {"daily only": (FIRST_SIGHT,), "sparse, train-only": (FIRST_SIGHT, SPARSE),
            "sparse as traffic": SPEC.train_only_sources}


def _inputs(examples: list[Example]) -> tuple[Inputs, np.ndarray]:
    return (Inputs([e.text for e in examples], np.array([e.window for e in examples], dtype=np.float32)),
            np.array([e.label for e in examples]))


def _scores(student, tokenizer, wh, examples: list[Example], max_length: int) -> dict:
    """Edge, served and baseline F1 of ``urgent`` on ``examples``, and sparse stock-outs answered urgent."""
    inputs, truth = _inputs(examples)
    probs = softmax(predict_logits(student.model, tokenizer, inputs, max_length=max_length), student.temperature)
    edge = probs.argmax(1)
    served = np.where(probs.max(1) >= student.abstain, edge, truth)
    train, y_train = examples_of(wh, SPEC.name, "train")
    calibration, y_cal = examples_of(wh, SPEC.name, "calibration")
    baseline = baseline_f1(SPEC.numeric("student"), train, y_train, calibration, y_cal, inputs, truth)
    stock_out = inputs.numeric[:, 0] == 0
    return {"n": int(len(truth)), "alerts": int(truth.sum()), "edge_f1": prf(truth, edge)["f1"],
            "served_f1": prf(truth, served)["f1"], "baseline_f1": baseline["f1"],
            "edge_coverage": float((probs.max(1) >= student.abstain).mean()), "stock_outs": int(stock_out.sum()),
            "stock_outs_urgent_edge": float((edge[stock_out] == 1).mean()) if stock_out.any() else None,
            "stock_outs_urgent_served": float((served[stock_out] == 1).mean()) if stock_out.any() else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--seed", type=int, default=None, help="split and training seed (default: the preset's)")
    args = parser.parse_args()
    settings, cfg, work, wh, examples = prepared("sparse_stock", args.preset)
    if args.seed is not None:
        cfg = dataclasses.replace(cfg, seed=args.seed)
    daily = [e for e in examples if e.source != SPARSE]
    splits = {name: split_examples(daily if name == "daily only" else examples, 0, train_only_sources=train_only,
                                   **split_args(cfg)) for name, train_only in VARIANTS.items()}
    held_out = [{e.product_id for e in split.eval} for split in splits.values()]
    if any(products != held_out[0] for products in held_out):
        raise SystemExit("the students hold out different products: no like-for-like comparison")
    sparse = stratified_sample([e for e in examples if e.source == SPARSE and e.product_id in held_out[0]],
                               cfg.max_eval_examples, cfg.seed)
    sets = {"daily": splits["daily only"].eval, "sparse": sparse}
    sets["both"] = sets["daily"] + sparse
    flat_inputs, flat_truth = flat(sorted({e.text for e in sets["daily"]}), 0)
    tokenizer = load_tokenizer()
    results = []
    for variant, split in splits.items():
        student = train_variant(wh, split, variant.replace(" ", "_").replace(",", ""), work, cfg, args.preset,
                                tokenizer)
        flat_probs = softmax(predict_logits(student.model, tokenizer, flat_inputs, max_length=cfg.max_length),
                             student.temperature)
        flat_served = np.where(flat_probs.max(1) >= student.abstain, flat_probs.argmax(1), flat_truth)
        results.append({
            "variant": variant, "preset": args.preset, "seed": cfg.seed, "train": len(split.train),
            "eval_sparse": sum(e.source == SPARSE for e in split.eval), "gate_f1": student.report["metrics"]["f1"],
            "gate_baseline_f1": student.baseline_f1,
            "gate_passes": student.report["metrics"]["f1"] > student.baseline_f1, "abstain": student.abstain,
            "seconds": student.seconds, "flat_0_served_urgent": float((flat_served == 1).mean()),
            **{name: _scores(student, tokenizer, wh, held, cfg.max_length) for name, held in sets.items()}})
    (settings.state_dir / "benchmarks" / f"sparse_stock-{cfg.seed}.json").write_text(json.dumps(results, indent=2))
    table = Table(title=f"urgent_inventory, {args.preset} preset, seed {cfg.seed}, {len(held_out[0])} held-out "
                        f"products ({len(sets['daily'])} daily, {len(sparse)} sparse windows); F1 edge / served / "
                        "baseline")
    for col in ("variant", "gate: student (baseline)", "daily", "sparse", "both", "sparse stock-outs urgent "
                "edge / served", "flat 0 served", "s"):
        table.add_column(col)
    for r in results:
        table.add_row(r["variant"], f'{r["gate_f1"]:.3f} ({r["gate_baseline_f1"]:.3f}'
                                    f'{"" if r["gate_passes"] else ", refused"})',
                      *(f'{r[s]["edge_f1"]:.3f} / {r[s]["served_f1"]:.3f} / {r[s]["baseline_f1"]:.3f}' for s in sets),
                      f'{r["sparse"]["stock_outs_urgent_edge"]:.2f} / {r["sparse"]["stock_outs_urgent_served"]:.2f} '
                      f'(of {r["sparse"]["stock_outs"]})', f'{r["flat_0_served_urgent"]:.2f}', str(r["seconds"]))
    Console().print(table)


if __name__ == "__main__":
    main()
