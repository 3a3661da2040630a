"""Edge speed: teacher and student in PyTorch against the student in ONNX Runtime, fp32 and int8.

Run from the repository root on the artefacts a demo run leaves in the state folder::

    EDGE_INSIGHTS_STATE_DIR=var .venv/bin/python benchmarks/edge_speed.py [--decision negative_review] [--n 200]

One process, one thread (``torch.set_num_threads(1)``, ONNX Runtime ``intra_op_num_threads=1``),
real review texts from the decision's eval split in the warehouse. For each model:

- latency of ONE decision (batch 1, tokenise + run): p50/p99 over ``--n`` texts, ms;
- throughput at batch ``--batch`` (default 32) over the same texts, records/s (median of 3 passes);
- size on disk (model file; for ONNX also the whole bundle folder), bytes;
- RSS delta of loading and running it, MiB (psutil, before vs. the highest of after load and
  after the runs). In one process these are approximate: freed memory is not always returned to
  the OS and shared libraries load once, so a later row may show less than it would alone.

ONNX rows run exactly the pod's path (:class:`serving.inference.EdgeModel`: the bundle's
``tokenizer.json`` through ``tokenizers``, then ONNX Runtime); PyTorch rows tokenise with the
training tokenizer (:func:`training.loop.encode`), as the models were trained and evaluated.
The fp32 student, over the word pieces the shipped bundle keeps
(:func:`edge_export.vocabulary.restrict_model`), is exported here with
:func:`edge_export.onnx_export.export_onnx` and the int8
one quantised here with :func:`edge_export.quantize.quantize_int8`, each sealed as a bundle in a
temporary folder, so all four rows exist whatever the demo's edge bundle shipped. A second table
compares ONNX Runtime graph optimisation levels for the int8 student at batch 1.

Writes ``<state>/benchmarks/edge_speed.json`` and prints the tables. Reads, never changes, the
models and bundles in the state folder.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402
from commons.onnxruntime_quiet import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from commons.manifest import MANIFEST_NAME, write_manifest  # noqa: E402
from commons.settings import Settings  # noqa: E402
from edge_export.onnx_export import export_onnx  # noqa: E402
from edge_export.quantize import quantize_int8  # noqa: E402
from edge_export.vocabulary import restrict_model  # noqa: E402
from serving.inference import EdgeModel  # noqa: E402
from training.encoder import base_model_path, load_classifier, load_tokenizer  # noqa: E402
from training.loop import encode  # noqa: E402

MIB = 2 ** 20
WARM_UP = 5
THROUGHPUT_PASSES = 3
# Targets of the edge model (issue notes): ≥ 10× faster than the teacher at batch 1, ≤ 15 MB.
TARGET_SPEEDUP = 10.0
TARGET_BUNDLE_MB = 15.0
OPT_LEVELS = {"ORT_DISABLE_ALL": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
              "ORT_ENABLE_BASIC": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "ORT_ENABLE_ALL": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}

# Texts in → logits out: one decision or one batch, tokenisation included.
Predict = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Row:
    """One model's measurements.

    Attributes:
        name: row label, e.g. ``"student ONNX int8"``.
        runtime: ``"torch"`` or ``"onnxruntime"``.
        layers: encoder layers.
        p50_ms, p99_ms: batch-1 latency (tokenise + run), milliseconds.
        throughput_rps: records per second at the batch size of the run.
        model_bytes: the model file on disk (``weights.pt`` or ``model.onnx``).
        bundle_bytes: the whole bundle folder (model, tokenizer, manifest); None for PyTorch.
        load_s: seconds to load the model (and, for ONNX, verify the bundle and warm up).
        rss_delta_mib: resident memory added by loading and running it (approximate).
    """

    name: str
    runtime: str
    layers: int
    p50_ms: float
    p99_ms: float
    throughput_rps: float
    model_bytes: int
    bundle_bytes: int | None
    load_s: float
    rss_delta_mib: float


@dataclass(frozen=True)
class LevelRow:
    """Batch-1 latency of the int8 student under one ONNX Runtime graph optimisation level.

    Attributes:
        level: ``GraphOptimizationLevel`` name.
        p50_ms, p99_ms: tokenise + run of one text, milliseconds.
        load_s: seconds to verify the bundle, build the optimised session and warm up.
    """

    level: str
    p50_ms: float
    p99_ms: float
    load_s: float


def eval_texts(settings: Settings, decision: str, n: int) -> list[str]:
    """The first ``n`` texts of the decision's eval split in the warehouse (read-only).

    Raises:
        SystemExit: the warehouse or its feature table is missing, or the split is empty.
    """
    path = settings.warehouse_path
    if not path.is_file():
        raise SystemExit(f"no warehouse at {path}: run `make demo` (or set EDGE_INSIGHTS_STATE_DIR)")
    with duckdb.connect(str(path), read_only=True) as con:
        try:
            rows = con.execute("SELECT text FROM features WHERE decision = ? AND split = 'eval' LIMIT ?",
                               [decision, n]).fetchall()
        except duckdb.CatalogException:
            raise SystemExit(f"warehouse {path} has no features table") from None
    if not rows:
        raise SystemExit(f"the features table holds no eval texts of {decision}")
    return [text for (text,) in rows]


def latencies_ms(predict: Predict, texts: Sequence[str]) -> tuple[float, float]:
    """p50 and p99 of one-text decisions, ms, after ``WARM_UP`` untimed ones."""
    for text in texts[:WARM_UP]:
        predict([text])
    samples = []
    for text in texts:
        start = time.perf_counter()
        predict([text])
        samples.append((time.perf_counter() - start) * 1000.0)
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 99))


def throughput(predict: Predict, texts: Sequence[str], batch: int) -> float:
    """Records per second over ``texts`` in batches of ``batch`` (last one may be shorter).

    The median of ``THROUGHPUT_PASSES`` passes, so one burst of load from another process on a
    shared core does not decide the number.
    """
    predict(texts[:batch])
    rates = []
    for _ in range(THROUGHPUT_PASSES):
        start = time.perf_counter()
        for i in range(0, len(texts), batch):
            predict(texts[i:i + batch])
        rates.append(len(texts) / (time.perf_counter() - start))
    return float(np.median(rates))


def level_rows(bundle_dir: Path, texts: Sequence[str]) -> list[LevelRow]:
    """Batch-1 latency of one bundle under each of ``OPT_LEVELS``, timed interleaved.

    All sessions are loaded first and each text is decided by every level in turn (rotating which
    goes first), so load from other processes on shared cores falls on all levels alike.
    """
    models, load_s = {}, {}
    for name, level in OPT_LEVELS.items():
        start = time.perf_counter()
        models[name] = EdgeModel(bundle_dir, threads=1, graph_optimization=level)
        load_s[name] = time.perf_counter() - start
    names = list(models)
    for text in texts[:WARM_UP]:
        for name in names:
            models[name].logits([text])
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i, text in enumerate(texts):
        for name in names[i % len(names):] + names[:i % len(names)]:
            start = time.perf_counter()
            models[name].logits([text])
            samples[name].append((time.perf_counter() - start) * 1000.0)
    return [LevelRow(name, float(np.percentile(samples[name], 50)), float(np.percentile(samples[name], 99)),
                     load_s[name]) for name in names]


def rss() -> int:
    """Resident set size of this process, bytes."""
    return psutil.Process().memory_info().rss


def folder_bytes(folder: Path) -> int:
    """Total size of the files directly in ``folder``, bytes."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def measure(name: str, runtime: str, load: Callable[[], tuple[Predict, int]], texts: list[str],
            batch: int, model_file: Path, bundle_dir: Path | None) -> Row:
    """Load a model, time it, and record its memory and disk footprint.

    Args:
        load: returns ``(predict, layers)``; everything it allocates is released after the row.
        batch: batch size of the throughput run.
    """
    gc.collect()
    before = rss()
    start = time.perf_counter()
    predict, layers = load()
    load_s = time.perf_counter() - start
    loaded = rss()
    p50, p99 = latencies_ms(predict, texts)
    rps = throughput(predict, texts, batch)
    peak = max(loaded, rss())
    del predict
    gc.collect()
    size = model_file.stat().st_size
    return Row(name, runtime, layers, p50, p99, rps, size,
               folder_bytes(bundle_dir) if bundle_dir else None, load_s, (peak - before) / MIB)


def torch_loader(folder: Path, max_length: int) -> Callable[[], tuple[Predict, int]]:
    """Loader of a saved classifier (``training.encoder``) run in PyTorch, inference mode."""
    def load() -> tuple[Predict, int]:
        model = load_classifier(folder)
        tokenizer = load_tokenizer()

        def predict(texts: Sequence[str]) -> np.ndarray:
            enc = encode(tokenizer, texts, max_length)
            with torch.inference_mode():
                return model(enc["input_ids"], enc["attention_mask"]).numpy()

        return predict, model.num_layers
    return load


def onnx_loader(bundle_dir: Path, layers: int) -> Callable[[], tuple[Predict, int]]:
    """Loader of a sealed bundle through the pod's :class:`EdgeModel`, one ORT thread."""
    def load() -> tuple[Predict, int]:
        model = EdgeModel(bundle_dir, threads=1)
        return (lambda texts: model.logits(list(texts))), layers
    return load


def seal_bundle(model_path: Path, edge_dir: Path, out_dir: Path, quantization: str) -> Path:
    """A bundle folder like the shipped edge bundle but holding ``model_path``.

    The manifest keeps the edge bundle's metadata (labels, contract, max_length …), records the
    given quantization and is re-sealed over the new files.
    """
    out_dir.mkdir(parents=True)
    shutil.copy(model_path, out_dir / "model.onnx")
    shutil.copy(edge_dir / "tokenizer.json", out_dir / "tokenizer.json")
    manifest = json.loads((edge_dir / MANIFEST_NAME).read_text())
    for key in ("files", "bundle_sha256", "schema_version", "export"):
        manifest.pop(key, None)
    write_manifest(out_dir, {**manifest, "quantization": quantization,
                             "quantization_reason": "built by benchmarks/edge_speed.py"})
    return out_dir


def fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def print_tables(console: Console, rows: list[Row], levels: list[LevelRow], meta: dict) -> None:
    table = Table(title=f"{meta['decision']}: one thread, {meta['n_texts']} eval texts "
                        f"(mean {meta['mean_tokens']:.1f} tokens, max_length {meta['max_length']})")
    for column in ("model", "layers", "p50 ms (b=1)", "p99 ms (b=1)", f"rec/s (b={meta['batch']})",
                   "model MB", "bundle MB", "load s", "RSS Δ MiB*"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in rows:
        table.add_row(r.name, str(r.layers), fmt(r.p50_ms, ".2f"), fmt(r.p99_ms, ".2f"),
                      fmt(r.throughput_rps, ",.0f"), fmt(r.model_bytes / 1e6, ".1f"),
                      fmt(None if r.bundle_bytes is None else r.bundle_bytes / 1e6, ".1f"),
                      fmt(r.load_s, ".2f"), fmt(r.rss_delta_mib, ".0f"))
    console.print(table)
    console.print("* RSS deltas are measured in one process and are approximate (freed memory may "
                  "stay with the process; shared libraries are counted once).")
    opt = Table(title="int8 student, batch 1: ONNX Runtime graph optimisation level (interleaved)")
    for column in ("level", "p50 ms", "p99 ms", "load s"):
        opt.add_column(column, justify="left" if column == "level" else "right")
    for r in levels:
        opt.add_row(r.level, fmt(r.p50_ms, ".2f"), fmt(r.p99_ms, ".2f"), fmt(r.load_s, ".2f"))
    console.print(opt)
    ratio, bundle_mb = meta["teacher_over_int8_p50"], meta["int8_bundle_mb"]
    console.print(f"teacher (PyTorch) p50 / int8 student p50 at batch 1: {ratio:.1f}× "
                  f"(target ≥ {TARGET_SPEEDUP:.0f}×: {'met' if ratio >= TARGET_SPEEDUP else 'NOT met'})")
    console.print(f"1-minute load average: {meta['load_average_1m']['before']:.2f} before, "
                  f"{meta['load_average_1m']['after']:.2f} after, on {meta['cpu_count']} CPUs")
    console.print(f"int8 bundle: {bundle_mb:.2f} MB (model {meta['int8_model_mb']:.2f} MB; "
                  f"target ≤ {TARGET_BUNDLE_MB:.0f} MB: {'met' if bundle_mb <= TARGET_BUNDLE_MB else 'NOT met'})")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decision", default="negative_review")
    parser.add_argument("--n", type=int, default=200, help="eval texts timed one by one (and batched)")
    parser.add_argument("--batch", type=int, default=32, help="batch size of the throughput run")
    args = parser.parse_args(argv)
    if args.n < 1 or args.batch < 1:
        parser.error("--n and --batch must be ≥ 1")

    settings = Settings.from_env()
    models = settings.models_dir / args.decision
    bundles = settings.bundles_dir / args.decision
    teacher_dir, student_dir, edge_dir = models / "teacher", models / "student", bundles / "edge"
    for needed in (teacher_dir / "weights.pt", student_dir / "weights.pt", edge_dir / MANIFEST_NAME):
        if not needed.is_file():
            raise SystemExit(f"missing {needed}: run `make demo` (or set EDGE_INSIGHTS_STATE_DIR)")
    torch.set_num_threads(1)
    # Other processes on the same cores skew every number; the load average is kept with them.
    load_before = os.getloadavg()[0]
    edge_manifest = json.loads((edge_dir / MANIFEST_NAME).read_text())
    max_length = int(edge_manifest["max_length"])
    texts = eval_texts(settings, args.decision, args.n)
    tokenizer = load_tokenizer()
    tokens = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    # Off a terminal rich assumes 80 columns, too narrow for the table.
    console = Console(width=None if sys.stdout.isatty() else 120)
    console.print(f"state {settings.state_dir}; shipped edge bundle quantization: "
                  f"{edge_manifest.get('quantization')}")

    with tempfile.TemporaryDirectory(prefix="edge_speed_") as tmp:
        work = Path(tmp)
        # The shipped bundle's tokenizer may keep only part of the vocabulary
        # (edge_export.vocabulary): export the student over exactly the pieces it ships.
        student = restrict_model(load_classifier(student_dir), base_model_path() / "tokenizer.json",
                                 edge_dir / "tokenizer.json")
        student_layers = student.num_layers
        fp32 = export_onnx(student, work / "fp32.onnx", encode(load_tokenizer(edge_dir), texts[:2], max_length))
        int8 = quantize_int8(fp32, work / "int8.onnx")
        del student
        fp32_bundle = seal_bundle(fp32, edge_dir, work / "bundle_fp32", "none")
        int8_bundle = seal_bundle(int8, edge_dir, work / "bundle_int8", "dynamic_int8")

        # Smallest first: memory a large row frees may stay with the process and would hide
        # what a later, smaller row adds.
        rows = [
            measure("student ONNX int8", "onnxruntime", onnx_loader(int8_bundle, student_layers), texts,
                    args.batch, int8_bundle / "model.onnx", int8_bundle),
            measure("student ONNX fp32", "onnxruntime", onnx_loader(fp32_bundle, student_layers), texts,
                    args.batch, fp32_bundle / "model.onnx", fp32_bundle),
            measure("student PyTorch", "torch", torch_loader(student_dir, max_length), texts, args.batch,
                    student_dir / "weights.pt", None),
            measure("teacher PyTorch", "torch", torch_loader(teacher_dir, max_length), texts, args.batch,
                    teacher_dir / "weights.pt", None),
        ]
        levels = level_rows(int8_bundle, texts)

    by_name = {r.name: r for r in rows}
    int8_row = by_name["student ONNX int8"]
    meta = {
        "decision": args.decision, "state_dir": str(settings.state_dir), "threads": 1,
        "n_texts": len(texts), "batch": args.batch, "max_length": max_length,
        "mean_tokens": float(np.mean(tokens)), "text_source": f"features table, {args.decision} eval split",
        "shipped_edge_quantization": edge_manifest.get("quantization"),
        "teacher_over_int8_p50": by_name["teacher PyTorch"].p50_ms / int8_row.p50_ms,
        "int8_bundle_mb": int8_row.bundle_bytes / 1e6, "int8_model_mb": int8_row.model_bytes / 1e6,
        "targets": {"teacher_over_int8_p50_min": TARGET_SPEEDUP, "int8_bundle_mb_max": TARGET_BUNDLE_MB},
        "notes": ["latency = tokenise + run of one text; throughput over the same texts in batches",
                  "rows are timed one after another; optimisation levels interleaved text by text",
                  "ONNX rows run serving.inference.EdgeModel (tokenizers + onnxruntime), PyTorch rows "
                  "the training tokenizer + torch.inference_mode",
                  "rss_delta_mib is approximate: all rows share one process",
                  "MB = 10^6 bytes, MiB = 2^20 bytes"],
        "versions": {"torch": torch.__version__, "onnxruntime": ort.__version__,
                     "python": sys.version.split()[0]},
        "cpu_count": psutil.cpu_count(), "load_average_1m": {"before": load_before, "after": os.getloadavg()[0]},
        "measured_at": datetime.now(timezone.utc).isoformat(),
    }
    print_tables(console, rows, levels, meta)
    out = settings.state_dir / "benchmarks" / "edge_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**meta, "rows": [asdict(r) for r in rows],
                               "optimization_levels": [asdict(r) for r in levels]},
                              indent=2, allow_nan=False) + "\n")
    console.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
