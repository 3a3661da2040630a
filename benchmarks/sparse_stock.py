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
``--variant`` trains only the students named (repeatable; the held-out sets stay those above), e.g.
``--variant "sparse as traffic"`` for the pipeline's alone. Each student is also scored on its own
evaluation split (the gate's) and, where the state holds a live store, on every urgent_inventory
window the live loop decided: for both, the edge-kept disagreements with the rule (edge answers at
or above the abstain threshold that differ from it), what the drift baseline counts. ``--ship``
also exports each student as the pipeline ships it (:func:`edge_export.release.build_edge_bundle`:
pruned vocabulary, int8 where it agrees) and records the shipped F1, which is what the gate compares
with the baseline, and the bundle's drift baseline.

Works in a copy of the warehouse under ``<state>/benchmarks/sparse_stock/``; writes
``<state>/benchmarks/sparse_stock-<seed>.json`` (``-<variant>`` appended per student named).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from stock_students import flat, prepared, split_args, train_variant

from commons.label_rules import urgent_inventory as rule
from edge_export.release import build_edge_bundle
from live.store import existing_store
from training.baseline import baseline_f1
from training.decisions.urgent_inventory import FIRST_SIGHT, SPARSE, SPEC
from training.drift import disagreement_baseline
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


def live_examples(store_path: Path) -> list[Example]:
    """Every urgent_inventory window the live loop captured in the store at ``store_path`` (title and
    the 8 counts it sent the pod, newest first), labelled by the rule, source ``live``; none where
    there is no store file.

    Raises:
        live.store.StoreUnreadable: a file that is not a live store.
    """
    if not store_path.is_file():
        return []
    rows = existing_store(store_path).query("SELECT record FROM changes WHERE decision = ? ORDER BY seq",
                                            (SPEC.name,))
    records = [json.loads(row["record"]) for row in rows]
    return [Example(text=r["title"], label=int(rule(np.array(r["stock_counts"]))), product_id=r["product_id"],
                    source="live", window=tuple(float(v) for v in r["stock_counts"])) for r in records]


def _scores(student, tokenizer, wh, examples: list[Example], max_length: int) -> dict:
    """Edge, served and baseline F1 of ``urgent`` on ``examples``, edge-kept disagreements, and sparse
    stock-outs answered urgent."""
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
            "kept": disagreement_baseline(edge, truth, probs.max(1), student.abstain),
            "stock_outs_urgent_edge": float((edge[stock_out] == 1).mean()) if stock_out.any() else None,
            "stock_outs_urgent_served": float((served[stock_out] == 1).mean()) if stock_out.any() else None}


def _shipped(wh, cfg, student, out_dir: Path, preset_name: str) -> dict:
    """The student exported into ``out_dir`` as the pipeline ships it: its F1 on the evaluation split
    (the gate's figure), quantisation, and the drift baseline sealed in its manifest."""
    bundle = build_edge_bundle(wh, SPEC, cfg, student.store, out_dir, run_id=f"sparse_stock-{cfg.seed}",
                               preset=preset_name)
    return {"f1": bundle["shipped_f1"], "gate_passes": bundle["shipped_f1"] > student.baseline_f1,
            "quantization": bundle["quantization"], "drift_baseline": bundle["drift_baseline"]}


def _slug(variant: str) -> str:
    return variant.replace(" ", "_").replace(",", "")


def _disagreements(result: dict) -> str:
    own, live = result["own_eval"]["kept"], result["live"] and result["live"]["kept"]
    return (f'{own["disagreements"]} / {own["n"]:,}' +
            (f'; {live["disagreements"]} / {live["n"]:,} ({live["disagreement"]:.3f})' if live else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--seed", type=int, default=None, help="split and training seed (default: the preset's)")
    parser.add_argument("--variant", action="append", choices=list(VARIANTS),
                        help="train only this student (repeatable; default: all three)")
    parser.add_argument("--ship", action="store_true", help="export each student as the pipeline ships it")
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
    live = live_examples(settings.live_store_path)
    tokenizer = load_tokenizer()
    results = []
    for variant, split in ((name, splits[name]) for name in args.variant or VARIANTS):
        student = train_variant(wh, split, _slug(variant), work, cfg, args.preset, tokenizer)
        flat_probs = softmax(predict_logits(student.model, tokenizer, flat_inputs, max_length=cfg.max_length),
                             student.temperature)
        flat_served = np.where(flat_probs.max(1) >= student.abstain, flat_probs.argmax(1), flat_truth)
        results.append({
            "variant": variant, "preset": args.preset, "seed": cfg.seed, "train": len(split.train),
            "eval_sparse": sum(e.source == SPARSE for e in split.eval), "gate_f1": student.report["metrics"]["f1"],
            "gate_baseline_f1": student.baseline_f1,
            "gate_passes": student.report["metrics"]["f1"] > student.baseline_f1, "abstain": student.abstain,
            "seconds": student.seconds, "flat_0_served_urgent": float((flat_served == 1).mean()),
            **{name: _scores(student, tokenizer, wh, held, cfg.max_length) for name, held in sets.items()},
            "own_eval": _scores(student, tokenizer, wh, split.eval, cfg.max_length),
            "live": _scores(student, tokenizer, wh, live, cfg.max_length) if live else None,
            "shipped": _shipped(wh, cfg, student, work / "edge" / _slug(variant), args.preset) if args.ship else None})
    suffix = "" if args.variant is None else "-" + "+".join(map(_slug, args.variant))
    (settings.state_dir / "benchmarks" / f"sparse_stock-{cfg.seed}{suffix}.json").write_text(json.dumps(results,
                                                                                                     indent=2))
    table = Table(title=f"urgent_inventory, {args.preset} preset, seed {cfg.seed}, {len(held_out[0])} held-out "
                        f"products ({len(sets['daily'])} daily, {len(sparse)} sparse windows); F1 edge / served / "
                        "baseline")
    for col in ("variant", "gate: student (baseline)", "daily", "sparse", "both", "sparse stock-outs urgent "
                "edge / served", "flat 0 served", "edge-kept disagreements: own eval / live", "s"):
        table.add_column(col)
    for r in results:
        shipped = r["shipped"]
        gate = (f'{r["gate_f1"]:.4f} ({r["gate_baseline_f1"]:.4f}{"" if r["gate_passes"] else ", refused"})' +
                (f'; shipped {shipped["f1"]:.4f}{"" if shipped["gate_passes"] else ", refused"}' if shipped else ""))
        table.add_row(r["variant"], gate,
                      *(f'{r[s]["edge_f1"]:.3f} / {r[s]["served_f1"]:.3f} / {r[s]["baseline_f1"]:.3f}' for s in sets),
                      f'{r["sparse"]["stock_outs_urgent_edge"]:.2f} / {r["sparse"]["stock_outs_urgent_served"]:.2f} '
                      f'(of {r["sparse"]["stock_outs"]})', f'{r["flat_0_served_urgent"]:.2f}', _disagreements(r),
                      str(r["seconds"]))
    Console().print(table)


if __name__ == "__main__":
    main()
