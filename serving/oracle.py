"""A central oracle that is its decision's label rule: the same pod, no ONNX graph.

For decisions whose truth is a computation over history (price_spike, urgent_inventory), the
central bundle's manifest says ``oracle: {"kind": "rule"}`` and holds no ``model.onnx``: the pod
answers with :data:`commons.label_rules.RULES` on the record's number window — the label itself,
exact, since the feature contract carries the rule's whole window. The bundle keeps a tokenizer
only for the input profile every decision log entry carries (:mod:`serving.input_profile`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from commons.label_rules import RULES
from commons.manifest import ORACLE_RULE, BundleError, load_manifest

from .contract import ModelInputs, model_inputs
from .inference import TOKENIZER_FILE, SealedBundle


class RuleOracle(SealedBundle):
    """A verified rule bundle that labels records with its decision's rule.

    Args:
        bundle_dir: folder holding ``manifest.json`` (``oracle.kind == "rule"``, one numeric input
            holding the rule's window) and ``tokenizer.json``.

    Attributes:
        manifest, decision, labels, temperature (1.0), inputs: as :class:`serving.inference.EdgeModel`.

    Raises:
        BundleError: the manifest fails its hashes or lacks a key, its oracle kind is not ``rule``,
            the decision has no rule, or the contract does not feed exactly one number window.
    """

    def __init__(self, bundle_dir: Path) -> None:
        bundle_dir = Path(bundle_dir)
        self.manifest: dict[str, Any] = load_manifest(bundle_dir)
        try:
            self.decision: str = self.manifest["decision"]
            self.labels: list[str] = list(self.manifest["labels"])
            kind = self.manifest["oracle"]["kind"]
        except (KeyError, TypeError) as missing:
            raise BundleError(f"manifest in {bundle_dir} lacks {missing}") from None
        if kind != ORACLE_RULE:
            raise BundleError(f"oracle kind {kind!r} is not {ORACLE_RULE!r}")
        if self.decision not in RULES:
            raise BundleError(f"no label rule for decision {self.decision!r}")
        self._rule = RULES[self.decision]
        self.temperature = 1.0
        self.inputs: ModelInputs = model_inputs(self.manifest, self.decision)
        if len(self.inputs.numeric_inputs) != 1:
            raise BundleError(f"a rule reads one number window; the manifest feeds "
                              f"{len(self.inputs.numeric_inputs)} numeric inputs")
        # Only the input profile reads it; the rule reads no text.
        self._tokenizer = Tokenizer.from_file(str(bundle_dir / TOKENIZER_FILE))

    def predict(self, texts: list[str], numeric: npt.ArrayLike | None = None) -> tuple[list[str], np.ndarray]:
        """Label each record by the rule on its number window.

        Args:
            texts: ``batch`` strings (not read: the rule decides on numbers).
            numeric: float ``[batch, window]``, the records' windows (most recent value first).

        Returns:
            ``(labels, probs)``: the rule's label per record and float32 ``[batch, 2]`` one-hot
            probabilities (the rule is certain).

        Raises:
            ValueError: ``numeric`` is missing or not ``[batch, window]``.
        """
        width = self.inputs.numeric_width
        array = np.asarray(numeric if numeric is not None else np.zeros((0, 0)), dtype=np.float64)
        if numeric is None or array.shape != (len(texts), width):
            raise ValueError(f"numeric must be [batch, {width}] for {len(texts)} records")
        alert = np.array([self._rule(row) for row in array], dtype=bool)
        probs = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        probs[np.arange(len(texts)), alert.astype(int)] = 1.0
        return [self.labels[int(a)] for a in alert], probs
