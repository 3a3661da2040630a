"""Numerical checks of an exported model: ONNX vs PyTorch parity and int8 vs fp32 agreement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from commons.onnxruntime_quiet import onnxruntime as ort
import torch
from torch import nn


def ort_session(path: Path, threads: int = 1) -> ort.InferenceSession:
    """A CPU session with full graph optimisation and a fixed thread count."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_logits(session: ort.InferenceSession, encoded: dict[str, torch.Tensor | np.ndarray]) -> np.ndarray:
    """Run a session on int64 ``input_ids``/``attention_mask`` [batch, seq] and, if present,
    float32 ``numeric`` [batch, width]; returns float32 logits [batch, k]."""
    feed = {k: np.asarray(v, dtype=np.float32 if k == "numeric" else np.int64) for k, v in encoded.items()}
    return session.run(["logits"], feed)[0]


def max_abs_logit_delta(model: nn.Module, onnx_path: Path, encoded: dict[str, torch.Tensor]) -> float:
    """max |logit_torch − logit_onnx| over a fixed batch (float, logit units)."""
    with torch.no_grad():
        reference = model(**encoded).numpy()
    return float(np.abs(reference - ort_logits(ort_session(onnx_path), encoded)).max())
