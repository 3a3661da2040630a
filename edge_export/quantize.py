"""Dynamic int8 quantisation of an ONNX model with onnxruntime."""

from __future__ import annotations

import logging
from pathlib import Path

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic

# Module scope (ONNX node-name prefix from the PyTorch exporter) whose weights become int8.
QUANTIZED_SCOPE = "/encoder/"


def encoder_nodes(model_path: Path) -> list[str]:
    """Names of the nodes of ``model_path`` inside the text encoder's module scope."""
    graph = onnx.load(str(model_path), load_external_data=False).graph
    return [node.name for node in graph.node if node.name.startswith(QUANTIZED_SCOPE)]


def quantize_int8(fp32_path: Path, int8_path: Path) -> Path:
    """Encoder weights (MatMul, Gather embeddings) to signed int8 with one scale per output
    channel; activations quantised at run time. The numeric branch and the head stay fp32.

    Dynamic (not static) quantisation needs no calibration set and is onnxruntime's recommended
    mode for transformer encoders on CPU (onnxruntime docs, "Quantize ONNX models"). Per-channel
    scales were measured here on the demo student's 1,200 held-out reviews: label agreement with
    fp32 0.9933 (per-tensor: 0.9833), max |Δlogit| 0.22 (per-tensor: 0.57), same 14.9 MB.

    Run-time activation quantisation uses one scale per tensor, i.e. per batch: the heavy-tailed
    numeric features (a price move of 1 % next to one of 500 %) and the head's input (text
    features next to numeric-branch outputs up to ~80) would lose the small values that decide.
    Only the encoder is quantised: the branch and head hold ~15 k weights, ~45 KB in fp32.
    Measured on the demo's students (held-out F1 and label agreement with fp32, everything
    quantised → encoder only): price_spike 0.404 / 0.9925 → 0.421 / 0.9992 (fp32 0.418);
    urgent_inventory 0.980 / 0.9906 → 0.988 / 1.0 (fp32 0.988).

    Raises:
        ValueError: the graph has no node in the encoder's scope (an empty list would make
            onnxruntime quantise every node).
    """
    nodes = encoder_nodes(fp32_path)
    if not nodes:
        raise ValueError(f"{fp32_path} has no node named {QUANTIZED_SCOPE}…: not an EncoderClassifier export")
    # onnxruntime logs a root-level hint to run its pre-processing first; that pre-processing
    # (symbolic shape inference) fails on this BERT graph, so the hint is only noise here.
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_quantize=nodes)
    finally:
        logging.disable(logging.NOTSET)
    return int8_path
