"""urgent_inventory's student without and with sparse-observer examples, on held-out products.

Run on the state a demo run leaves (its warehouse's stock history)::

    EDGE_INSIGHTS_STATE_DIR=var .venv/bin/python benchmarks/sparse_stock.py [--preset demo]

Two students of the preset on the pipeline's split (:func:`training.examples.split_examples`):
*before* trains on full-history and first-sight windows, as the pipeline does
(:mod:`training.decisions.urgent_inventory`); *after* adds the sparse view to the same
train-only share (the pipeline does not: the gate's baseline, also fitted on it, would win).
Their calibration and eval examples are the same (checked). Both are measured on the held-out
products only:

* F1 of ``urgent`` on their full-history windows (the traffic the gate scores), and the gate's
  logistic baseline fitted on the same split;
* on their sparse windows (what the live watcher sees when it revisits a product every few
  ticks): F1 of ``urgent``, edge answer and served answer (the edge's when its temperature-scaled
  confidence reaches the abstain threshold that keeps ``edge_coverage`` of calibration cases at
  the edge, else the rule's), and the share of stock-outs (0 units now) answered ``urgent``;
* flat windows at 0 units (the case first-sight windows fixed), served right.

Works in a copy of the warehouse under ``<state>/benchmarks/sparse_stock/``; writes
``<state>/benchmarks/sparse_stock.json``.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from rich.console import Console
from rich.table import Table
from stock_students import flat, prepared, split_args, train_variant

from training.decisions.urgent_inventory import FIRST_SIGHT, SPARSE, SPEC
from training.encoder import load_tokenizer
from training.examples import split_examples
from training.loop import Inputs, predict_logits
from training.metrics import prf, softmax


def _answers(student, tokenizer, inputs: Inputs, truth: np.ndarray, max_length: int) -> dict:
    """Edge and served answers of ``student`` on ``inputs`` against the rule's ``truth`` (0/1 per row)."""
    probs = softmax(predict_logits(student.model, tokenizer, inputs, max_length=max_length), student.temperature)
    edge = probs.argmax(1)
    served = np.where(probs.max(1) >= student.abstain, edge, truth)
    stock_out = inputs.numeric[:, 0] == 0
    return {"n": int(len(truth)), "alerts": int(truth.sum()), "edge_f1": prf(truth, edge)["f1"],
            "served_f1": prf(truth, served)["f1"], "stock_outs": int(stock_out.sum()),
            "stock_outs_urgent_edge": float((edge[stock_out] == 1).mean()) if stock_out.any() else None,
            "stock_outs_urgent_served": float((served[stock_out] == 1).mean()) if stock_out.any() else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="demo")
    args = parser.parse_args()
    settings, cfg, work, wh, examples = prepared("sparse_stock", args.preset, sparse=True)
    splits = {"before": split_examples([e for e in examples if e.source != SPARSE], 0,
                                       train_only_sources=(FIRST_SIGHT,), **split_args(cfg)),
              "after": split_examples(examples, 0, train_only_sources=(FIRST_SIGHT, SPARSE), **split_args(cfg))}
    if any(splits["before"].__dict__[side] != splits["after"].__dict__[side] for side in ("calibration", "eval")):
        raise SystemExit("the two students' calibration or eval examples differ: no like-for-like comparison")
    held_out = {e.product_id for e in splits["after"].eval}
    sparse = [e for e in examples if e.source == SPARSE and e.product_id in held_out]
    sparse_inputs = Inputs([e.text for e in sparse], np.array([e.window for e in sparse], dtype=np.float32))
    sparse_truth = np.array([e.label for e in sparse])
    flat_inputs, flat_truth = flat(sorted({e.text for e in splits["after"].eval}), 0)
    tokenizer = load_tokenizer()
    results = []
    for variant, split in splits.items():
        student = train_variant(wh, split, variant, work, cfg, args.preset, tokenizer)
        results.append({
            "variant": variant, "preset": args.preset, "train": len(split.train),
            "train_sparse": sum(e.source == SPARSE for e in split.train), "f1": student.report["metrics"]["f1"],
            "baseline_f1": student.baseline_f1, "gate_passes": student.report["metrics"]["f1"] > student.baseline_f1,
            "abstain": student.abstain, "seconds": student.seconds,
            "sparse": _answers(student, tokenizer, sparse_inputs, sparse_truth, cfg.max_length),
            "flat_0": _answers(student, tokenizer, flat_inputs, flat_truth, cfg.max_length)})
    (settings.state_dir / "benchmarks" / "sparse_stock.json").write_text(json.dumps(results, indent=2))
    table = Table(title=f"urgent_inventory, {args.preset} preset, {len(held_out)} held-out products, "
                        f"{len(sparse)} sparse windows ({int(sparse_truth.sum())} urgent)")
    for col in ("variant", "held-out F1 (baseline)", "sparse F1 edge / served", "stock-outs urgent edge / served",
                "flat 0 served", "s"):
        table.add_column(col)
    for r in results:
        sp = r["sparse"]
        table.add_row(r["variant"], f'{r["f1"]:.3f} ({r["baseline_f1"]:.3f}{"" if r["gate_passes"] else ", refused"})',
                      f'{sp["edge_f1"]:.3f} / {sp["served_f1"]:.3f}',
                      f'{sp["stock_outs_urgent_edge"]:.2f} / {sp["stock_outs_urgent_served"]:.2f} '
                      f'(of {sp["stock_outs"]})', f'{r["flat_0"]["stock_outs_urgent_served"]:.2f}',
                      str(r["seconds"]))
    Console().print(table)


if __name__ == "__main__":
    main()
