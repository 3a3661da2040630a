"""The edge model: one verified bundle's tokenizer and ONNX Runtime session.

The bundle layout is fixed (see :mod:`edge_export.manifest`): ``model.onnx`` takes ``input_ids``
and ``attention_mask`` (int64, ``[batch, seq]``) and returns ``logits`` (float32,
``[batch, n_labels]``); ``tokenizer.json`` is a Hugging Face ``tokenizers`` file; ``manifest.json``
names the labels, ``max_length`` (tokens, special tokens included) and ``temperature``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from edge_export.manifest import BundleError, load_manifest

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "logits"


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Temperature-scaled softmax over the last axis.

    Args:
        logits: float array ``[batch, n_labels]``.
        temperature: > 0; logits are divided by it before the softmax.

    Returns:
        float32 ``[batch, n_labels]``, each row summing to 1.
    """
    scaled = logits.astype(np.float32) / np.float32(temperature)
    # Subtracting the row maximum keeps exp() from overflowing on confident logits.
    scaled -= scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


class EdgeModel:
    """A loaded, hash-verified edge bundle that scores texts.

    Args:
        bundle_dir: folder holding ``model.onnx``, ``tokenizer.json`` and ``manifest.json``.
        threads: ONNX Runtime intra-op threads (one per pod keeps pods from fighting over cores).

    Attributes:
        manifest: the verified manifest (dict).
        decision: the decision this bundle makes, e.g. ``"negative_review"``.
        labels: label names, index ``i`` is logit column ``i``.
        max_length: tokens per text after truncation, special tokens included.
        temperature: logits divisor applied before the softmax.

    Raises:
        BundleError: a file or the manifest fails its hash, the manifest lacks a key the pod needs,
            the graph's inputs/outputs differ from the fixed layout, or the tokenizer has no
            padding token.
    """

    def __init__(self, bundle_dir: Path, *, threads: int = 1) -> None:
        bundle_dir = Path(bundle_dir)
        self.manifest: dict[str, Any] = load_manifest(bundle_dir)
        try:
            self.decision: str = self.manifest["decision"]
            self.labels: list[str] = list(self.manifest["labels"])
            self.max_length: int = int(self.manifest["max_length"])
        except KeyError as missing:
            raise BundleError(f"manifest in {bundle_dir} lacks {missing}") from None
        self.temperature: float = float(self.manifest.get("temperature", 1.0))
        if self.temperature <= 0:
            raise BundleError(f"temperature must be > 0, manifest says {self.temperature}")
        self._tokenizer = self._load_tokenizer(bundle_dir / TOKENIZER_FILE)
        self._session = self._load_session(bundle_dir / MODEL_FILE, threads)
        # The first run allocates ORT's memory arenas; paying that at load keeps the first
        # request's latency representative and proves the graph runs before the pod says ok.
        self.predict(["warm-up"])

    @property
    def bundle_sha256(self) -> str:
        """Identity of the bundle: sha256 hex over its sealed manifest."""
        return self.manifest["bundle_sha256"]

    def _load_tokenizer(self, path: Path) -> Tokenizer:
        tokenizer = Tokenizer.from_file(str(path))
        padding = tokenizer.padding or {}
        pad_token = padding.get("pad_token", "[PAD]")
        pad_id = padding.get("pad_id", tokenizer.token_to_id(pad_token))
        if pad_id is None:
            raise BundleError(f"{path.name} defines no padding token")
        tokenizer.enable_truncation(max_length=self.max_length)
        # length=None pads to the longest text of the batch, not to a fixed width.
        tokenizer.enable_padding(direction="right", pad_id=pad_id, pad_token=pad_token, length=None)
        return tokenizer

    def _load_session(self, path: Path, threads: int) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        inputs = sorted(i.name for i in session.get_inputs())
        if inputs != sorted(INPUT_NAMES):
            raise BundleError(f"{path.name} inputs are {inputs}, expected {list(INPUT_NAMES)}")
        outputs = {o.name: o.shape for o in session.get_outputs()}
        if OUTPUT_NAME not in outputs:
            raise BundleError(f"{path.name} has no '{OUTPUT_NAME}' output")
        width = outputs[OUTPUT_NAME][-1]
        if isinstance(width, int) and width != len(self.labels):
            raise BundleError(f"{path.name} emits {width} logits for {len(self.labels)} labels")
        return session

    def logits(self, texts: list[str]) -> np.ndarray:
        """Raw model logits.

        Args:
            texts: ``batch`` strings; each is truncated to ``max_length`` tokens and the batch is
                padded to its longest member.

        Returns:
            float32 ``[batch, n_labels]`` (``[0, n_labels]`` for an empty list).
        """
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        }
        (logits,) = self._session.run([OUTPUT_NAME], feed)
        return logits.astype(np.float32, copy=False)

    def predict(self, texts: list[str]) -> tuple[list[str], np.ndarray]:
        """Label each text.

        Args:
            texts: ``batch`` strings.

        Returns:
            ``(labels, probs)``: the arg-max label per text, and float32 ``[batch, n_labels]``
            probabilities from the temperature-scaled softmax of the logits.
        """
        probs = softmax(self.logits(texts), self.temperature)
        return [self.labels[i] for i in probs.argmax(axis=-1)], probs
