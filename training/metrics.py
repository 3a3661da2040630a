"""Binary classification metrics of the alert class (label 1) and the edge abstain threshold."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_fscore_support


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``; float [n, k] → float [n, k]."""
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def prf(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of the alert class (label 1); 0.0 where undefined."""
    p, r, f, _ = precision_recall_fscore_support(labels, predictions, average="binary", pos_label=1,
                                                 zero_division=0)
    return {"precision": float(p), "recall": float(r), "f1": float(f)}


def abstain_threshold(probs: np.ndarray, coverage: float) -> float:
    """Confidence below which a case goes to the central model, so that ``coverage`` of the
    given cases stay at the edge. Confidence = max softmax probability; threshold = the
    (1 - coverage) quantile of confidences."""
    confidence = probs.max(axis=1)
    return float(np.quantile(confidence, 1.0 - coverage)) if len(confidence) else 0.5


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of rows whose argmax label is the same in two logit arrays [n, k]."""
    return float((a.argmax(axis=1) == b.argmax(axis=1)).mean()) if len(a) else 1.0


def ensure_two_classes(labels: np.ndarray, name: str) -> None:
    """Raise ValueError when a split lacks alerts or non-alerts (metrics would be meaningless)."""
    if len(np.unique(labels)) < 2:
        raise ValueError(f"{name} split has a single class ({len(labels)} examples)")
