"""Assemble an edge bundle: export, parity, int8 quantisation, agreement, manifest.

The bundle ships the int8 model when it agrees with fp32 on at least ``min_agreement`` of the
evaluation texts; otherwise fp32 ships and the manifest records why.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from commons.onnxruntime_quiet import onnxruntime
from torch import nn
from transformers import PreTrainedTokenizerFast

from commons.errors import ExportError
from commons.manifest import write_manifest
from edge_export.onnx_export import OPSET, export_onnx
from edge_export.parity import max_abs_logit_delta, ort_logits, ort_session
from edge_export.quantize import quantize_int8
from training.loop import Inputs, model_inputs
from training.metrics import agreement

# fp32 ONNX vs PyTorch on the same graph should differ only by kernel rounding.
PARITY_BOUND = 1e-4


class ParityError(ExportError):
    """The exported graph does not reproduce the PyTorch model within :data:`PARITY_BOUND`."""


@dataclass(frozen=True)
class ExportReport:
    """What export measured. Logit deltas in logit units, sizes in bytes, latency in ms."""

    parity_max_abs_delta: float
    int8_agreement: float
    quantization: str
    quantization_reason: str
    size_fp32: int
    size_shipped: int
    latency_p50_ms: float
    latency_p99_ms: float
    manifest: dict[str, Any]


def _latency(session, tokenizer: PreTrainedTokenizerFast, inputs: Inputs, max_length: int) -> tuple[float, float]:
    """p50/p99 of single-example model latency (tokenise + run), ms, over up to 200 examples."""
    samples = []
    for i in range(min(len(inputs), 200)):
        start = time.perf_counter()
        ort_logits(session, model_inputs(tokenizer, inputs.take([i]), max_length))
        samples.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 99))


EVAL_BATCH = 64
"""Examples per ONNX run when the export stage scores a bundle. Dynamic int8 quantises activations
with a scale taken from each batch, so a score is reproduced only batch for batch."""


def onnx_logits(session, tokenizer: PreTrainedTokenizerFast, inputs: Inputs, max_length: int,
                batch_size: int = EVAL_BATCH) -> np.ndarray:
    """Logits of an ONNX session over many examples, float32 [n, k]."""
    parts = [ort_logits(session, model_inputs(tokenizer, inputs.take(range(i, min(i + batch_size, len(inputs)))),
                                              max_length))
             for i in range(0, len(inputs), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.float32)


def build_bundle(model: nn.Module, tokenizer: PreTrainedTokenizerFast, tokenizer_file: Path,
                 eval_inputs: Inputs, out_dir: Path, *, max_length: int, min_agreement: float,
                 metadata: dict[str, Any], allow_int8: bool = True) -> ExportReport:
    """Export ``model`` into a sealed bundle folder ``out_dir`` (replaced if it exists).

    Args:
        model: merged, eval-mode classifier (``logits = model(input_ids, attention_mask)``).
        tokenizer_file: the ``tokenizer.json`` the pod will load.
        eval_inputs: held-out examples for parity (first 32) and int8 agreement (all).
        metadata: manifest fields (decision, labels, feature_contract, thresholds, metrics …).
        allow_int8: False ships fp32 without trying int8 (the central model).

    Raises:
        ParityError: fp32 ONNX differs from PyTorch by more than :data:`PARITY_BOUND`.
    """
    n = len(eval_inputs)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(model, Path(tmp) / "fp32.onnx", model_inputs(tokenizer, eval_inputs.take(range(min(2, n))),
                                                                         max_length))
        parity = max_abs_logit_delta(model, fp32, model_inputs(tokenizer, eval_inputs.take(range(min(32, n))),
                                                              max_length))
        if parity > PARITY_BOUND:
            raise ParityError(f"ONNX fp32 differs from PyTorch by {parity:.2e} > {PARITY_BOUND:.0e}")
        fp32_logits = onnx_logits(ort_session(fp32), tokenizer, eval_inputs, max_length)
        shipped, quant, why, agree = fp32, "none", "int8 not attempted for this bundle", 1.0
        if allow_int8:
            int8 = quantize_int8(fp32, Path(tmp) / "int8.onnx")
            agree = agreement(fp32_logits, onnx_logits(ort_session(int8), tokenizer, eval_inputs, max_length))
            if agree >= min_agreement:
                shipped, quant = int8, "dynamic_int8"
                why = f"int8 agrees with fp32 on {agree:.4f} ≥ {min_agreement} of {n} eval examples"
            else:
                why = f"int8 agreement {agree:.4f} < {min_agreement}: fp32 ships"
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
        shutil.copy(shipped, out_dir / "model.onnx")
        shutil.copy(tokenizer_file, out_dir / "tokenizer.json")
        size_fp32 = fp32.stat().st_size
    session = ort_session(out_dir / "model.onnx")
    p50, p99 = _latency(session, tokenizer, eval_inputs, max_length)
    size = (out_dir / "model.onnx").stat().st_size
    bundle_bytes = sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file())
    manifest = write_manifest(out_dir, {
        **metadata,
        "max_length": max_length,
        "opset": OPSET,
        "quantization": quant,
        "quantization_reason": why,
        "export": {"parity_max_abs_logit_delta": parity, "int8_agreement": agree,
                   "model_bytes": size, "fp32_model_bytes": size_fp32,
                   "latency_p50_ms": p50, "latency_p99_ms": p99, "latency_threads": 1},
        "compute": {"runtime": "onnxruntime", "runtime_version": onnxruntime.__version__, "opset": OPSET,
                    "quantization": quant, "threads": 1, "memory_hint_mb": round(size / 2**20) + 64,
                    "bundle_mb": round(bundle_bytes / 2**20, 3), "latency_p50_ms": p50},
    })
    return ExportReport(parity, agree, quant, why, size_fp32, size, p50, p99, manifest)
