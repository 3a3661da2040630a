"""Export of the PII name tagger: ONNX, int8, and the tokenizer beside it, in one folder.

The folder is what :class:`data_quality.pii_tagger.NameTagger` loads (``tagger.int8.onnx``,
``tokenizer.json``); the fp32 export is kept for parity checks.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from data_quality.pii_tagger import FP32_FILE, INT8_FILE, TOKENIZER_FILE
from data_quality.pii_tagger_training import TokenTagger
from edge_export.onnx_export import export_onnx
from edge_export.quantize import quantize_int8



def export_name_tagger(model: TokenTagger, tokenizer_file: Path, folder: Path) -> Path:
    """Write ``model`` as fp32 and int8 ONNX (encoder weights int8, per channel; see
    :func:`~edge_export.quantize.quantize_int8`) plus a copy of ``tokenizer_file`` into
    ``folder``; returns the int8 model's path."""
    folder.mkdir(parents=True, exist_ok=True)
    example = {"input_ids": torch.ones(2, 16, dtype=torch.long),
               "attention_mask": torch.ones(2, 16, dtype=torch.long)}
    fp32 = export_onnx(model, folder / FP32_FILE, example, per_token=True)
    shutil.copyfile(tokenizer_file, folder / TOKENIZER_FILE)
    return quantize_int8(fp32, folder / INT8_FILE)
