"""urgent_inventory's student before and after first-sight examples: held-out F1 and flat windows.

Run on the state a demo run leaves (its warehouse's stock history)::

    EDGE_INSIGHTS_STATE_DIR=var .venv/bin/python benchmarks/flat_stock.py [--preset tiny]

Two students of the preset on the pipeline's split (:func:`training.examples.split_examples`):
*before* from the full-history windows only, as the decision built its examples before
first-sight windows (:mod:`training.decisions.urgent_inventory`), *after* from both kinds (neither
with the sparse windows added later, which ``sparse_stock.py`` measures). Their
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

import numpy as np
from rich.console import Console
from rich.table import Table
from stock_students import flat, prepared, split_args, train_variant

from training.decisions.urgent_inventory import SOURCE, SPARSE, SPEC
from training.encoder import load_tokenizer
from training.examples import split_examples
from training.loop import predict_logits
from training.metrics import softmax

FLAT_LEVELS = (0, 1, 2, 3, 40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny")
    args = parser.parse_args()
    settings, cfg, work, wh, examples = prepared("flat_stock", args.preset)
    examples = [e for e in examples if e.source != SPARSE]  # as before the sparse view (sparse_stock.py)
    splits = {"before": split_examples([e for e in examples if e.source == SOURCE], 0, **split_args(cfg)),
              "after": split_examples(examples, 0, train_only_sources=SPEC.train_only_sources, **split_args(cfg))}
    if any(splits["before"].__dict__[side] != splits["after"].__dict__[side] for side in ("calibration", "eval")):
        raise SystemExit("the two students' calibration or eval examples differ: no like-for-like comparison")
    titles = sorted({e.text for e in splits["after"].eval})
    tokenizer = load_tokenizer()
    results = []
    for variant, split in splits.items():
        student = train_variant(wh, split, variant, work, cfg, args.preset, tokenizer)
        row = {"variant": variant, "preset": args.preset, "f1": student.report["metrics"]["f1"],
               "abstain": student.abstain, "seconds": student.seconds}
        for level in FLAT_LEVELS:
            inputs, truth = flat(titles, level)
            probs = softmax(predict_logits(student.model, tokenizer, inputs, max_length=cfg.max_length),
                            student.temperature)
            edge = probs.argmax(1)
            served = np.where(probs.max(1) >= student.abstain, edge, truth)
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
