"""Dynamic int8 quantisation of an ONNX model with onnxruntime."""

from __future__ import annotations

from pathlib import Path

from onnxruntime.quantization import QuantType, quantize_dynamic


def quantize_int8(fp32_path: Path, int8_path: Path) -> Path:
    """Weights of MatMul/Gemm to signed int8, activations quantised at run time.

    Dynamic (not static) quantisation needs no calibration set and is onnxruntime's recommended
    mode for transformer encoders on CPU (onnxruntime docs, "Quantize ONNX models").
    """
    quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8)
    return int8_path
