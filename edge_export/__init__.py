"""Export room: merge LoRA, export to ONNX, quantize, check parity, write the edge bundle."""
