"""The edge model: one verified bundle's tokenizer and ONNX Runtime session.

The bundle layout is fixed (see :mod:`commons.manifest`): ``model.onnx`` takes ``input_ids``
and ``attention_mask`` (int64, ``[batch, seq]``) and, when the manifest lists ``numeric_inputs``,
``numeric`` (float32, ``[batch, n_numeric]``, fixed width); it returns ``logits`` (float32,
``[batch, n_labels]``). ``tokenizer.json`` is a Hugging Face ``tokenizers`` file;
``manifest.json`` names the labels, ``max_length`` (tokens, special tokens included),
``temperature``, the feature contract and how its fields feed the graph (see
:mod:`serving.contract`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from commons.onnxruntime_quiet import onnxruntime as ort
from tokenizers import Tokenizer

from commons.manifest import BundleError, load_manifest

from .contract import ModelInputs, model_inputs

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
INPUT_NAMES = ("input_ids", "attention_mask")
NUMERIC_INPUT = "numeric"
OUTPUT_NAME = "logits"
DEFAULT_OPTIMIZATION = ort.GraphOptimizationLevel.ORT_ENABLE_ALL


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


class SealedBundle:
    """What every model a pod serves exposes about its verified bundle (``manifest``, ``_tokenizer``
    set by the subclass; ``signed_by`` by :func:`serving.bundle_model.open_bundle`: the release key
    id the signature verified under, None for a bundle opened without its signature)."""

    manifest: dict[str, Any]
    _tokenizer: Tokenizer
    signed_by: str | None = None

    @property
    def tokenizer(self) -> Tokenizer:
        """The bundle's tokenizer (for a graph: truncation and padding enabled as it needs)."""
        return self._tokenizer

    @property
    def bundle_sha256(self) -> str:
        """Identity of the bundle: sha256 hex over its sealed manifest."""
        return self.manifest["bundle_sha256"]


class EdgeModel(SealedBundle):
    """A loaded, hash-verified edge bundle that scores texts, with numbers when its graph takes them.

    Args:
        bundle_dir: folder holding ``model.onnx``, ``tokenizer.json`` and ``manifest.json``.
        threads: ONNX Runtime intra-op threads (one per pod keeps pods from fighting over cores).
        graph_optimization: ONNX Runtime graph optimisation level; pods keep the default (all
            optimisations), benchmarks compare levels.

    Attributes:
        manifest: the verified manifest (dict).
        decision: the decision this bundle makes, e.g. ``"negative_review"``.
        labels: label names, index ``i`` is logit column ``i``.
        max_length: tokens per text after truncation, special tokens included.
        temperature: logits divisor applied before the softmax.
        inputs: how contract fields feed the graph (text fields, numeric inputs and their width).

    Raises:
        BundleError: a file or the manifest fails its hash, the manifest lacks a key the pod needs,
            its feature contract, ``text_fields`` or ``numeric_inputs`` are inconsistent (see
            :func:`serving.contract.model_inputs`), the graph's inputs/outputs differ from the
            fixed layout (a ``numeric`` input exactly when numeric inputs are listed, float32,
            as wide as they add up to), or the tokenizer has no padding token.
    """

    def __init__(self, bundle_dir: Path, *, threads: int = 1,
                 graph_optimization: ort.GraphOptimizationLevel = DEFAULT_OPTIMIZATION) -> None:
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
        self.inputs: ModelInputs = model_inputs(self.manifest, self.decision)
        self._tokenizer = self._load_tokenizer(bundle_dir / TOKENIZER_FILE)
        self._session = self._load_session(bundle_dir / MODEL_FILE, threads, graph_optimization)
        # The first run allocates ORT's memory arenas; paying that at load keeps the first
        # request's latency representative and proves the graph runs before the pod says ok.
        # Ones, not zeros, for the numbers: feature code inside a graph may divide or take logs.
        width = self.inputs.numeric_width
        self.predict(["warm-up"], np.ones((1, width), dtype=np.float32) if width else None)

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

    def _load_session(self, path: Path, threads: int,
                      graph_optimization: ort.GraphOptimizationLevel) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = graph_optimization
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        inputs = {i.name: i for i in session.get_inputs()}
        width = self.inputs.numeric_width
        expected = sorted(INPUT_NAMES + ((NUMERIC_INPUT,) if width else ()))
        if sorted(inputs) != expected:
            listed = "lists numeric_inputs" if width else "lists no numeric_inputs"
            raise BundleError(f"{path.name} inputs are {sorted(inputs)}; the manifest {listed}, "
                              f"so the pod feeds {expected}")
        if width:
            numeric = inputs[NUMERIC_INPUT]
            if numeric.type != "tensor(float)" or len(numeric.shape) != 2:
                raise BundleError(f"{path.name} input '{NUMERIC_INPUT}' is {numeric.type} "
                                  f"{numeric.shape}, expected float32 [batch, {width}]")
            # A symbolic width could not be checked against the manifest, so it is refused too.
            if numeric.shape[1] != width:
                raise BundleError(f"{path.name} input '{NUMERIC_INPUT}' has width {numeric.shape[1]}, "
                                  f"numeric_inputs add up to {width}")
        outputs = {o.name: o.shape for o in session.get_outputs()}
        if OUTPUT_NAME not in outputs:
            raise BundleError(f"{path.name} has no '{OUTPUT_NAME}' output")
        width = outputs[OUTPUT_NAME][-1]
        if isinstance(width, int) and width != len(self.labels):
            raise BundleError(f"{path.name} emits {width} logits for {len(self.labels)} labels")
        return session

    def _numeric_feed(self, numeric: npt.ArrayLike | None, batch: int) -> np.ndarray | None:
        """``numeric`` as the graph's float32 ``[batch, numeric_width]`` input, None if it takes none.

        Raises:
            ValueError: numbers given to a text-only graph, none given to a graph that needs
                them, or a shape other than ``[batch, numeric_width]``.
        """
        width = self.inputs.numeric_width
        if not width:
            if numeric is not None:
                raise ValueError("this bundle's graph takes text only; numeric must be None")
            return None
        if numeric is None:
            raise ValueError(f"this bundle's graph needs numeric float32 [batch, {width}]")
        array = np.asarray(numeric, dtype=np.float32)
        if array.shape != (batch, width):
            raise ValueError(f"numeric has shape {array.shape}, expected ({batch}, {width})")
        return array

    def logits(self, texts: list[str], numeric: npt.ArrayLike | None = None) -> np.ndarray:
        """Raw model logits.

        Args:
            texts: ``batch`` strings; each is truncated to ``max_length`` tokens and the batch is
                padded to its longest member.
            numeric: for a graph with numeric inputs, ``batch`` rows of ``inputs.numeric_width``
                numbers (anything ``np.asarray`` takes; cast to float32), row ``i`` belonging to
                ``texts[i]``; None for a text-only graph.

        Returns:
            float32 ``[batch, n_labels]`` (``[0, n_labels]`` for an empty list).

        Raises:
            ValueError: ``numeric`` is missing, superfluous or misshapen (see the graph's inputs).
        """
        feed_numeric = self._numeric_feed(numeric, len(texts))
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        }
        if feed_numeric is not None:
            feed[NUMERIC_INPUT] = feed_numeric
        (logits,) = self._session.run([OUTPUT_NAME], feed)
        return logits.astype(np.float32, copy=False)

    def predict(self, texts: list[str], numeric: npt.ArrayLike | None = None) -> tuple[list[str], np.ndarray]:
        """Label each text (with its numeric row, for a graph that takes numbers).

        Args:
            texts: ``batch`` strings.
            numeric: as in :meth:`logits`.

        Returns:
            ``(labels, probs)``: the arg-max label per text, and float32 ``[batch, n_labels]``
            probabilities from the temperature-scaled softmax of the logits.

        Raises:
            ValueError: as :meth:`logits`.
        """
        probs = softmax(self.logits(texts, numeric), self.temperature)
        return [self.labels[i] for i in probs.argmax(axis=-1)], probs
