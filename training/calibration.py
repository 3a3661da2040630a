"""Calibration of a trained binary classifier on held-out calibration data.

Two corrections, both folded into what ships:

* **Decision bias** b — added to the alert logit. Students and teachers train on class-balanced
  sets while alerts are rare in traffic; shifting the logit (a prior correction, Saerens,
  Latinne & Decaestecker 2002) restores precision. b is chosen on the calibration split to
  maximise F1 of the alert class and is written into the head's bias, so argmax is the decision.
* **Temperature** T — logits are divided by T before softmax (Guo et al. 2017, "On Calibration of
  Modern Neural Networks"); T minimises negative log-likelihood on the calibration split and is
  carried in the bundle manifest for the pod.

ECE uses 15 equal-width confidence bins, as in Guo et al. 2017.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import minimize_scalar

from training.metrics import prf, softmax

ECE_BINS = 15


def best_bias(logits: np.ndarray, labels: np.ndarray) -> float:
    """Offset b for the alert logit that maximises alert-class F1 (grid over margin quantiles)."""
    margin = logits[:, 1] - logits[:, 0]
    candidates = np.unique(np.concatenate([[0.0], -np.quantile(margin, np.linspace(0.01, 0.99, 99))]))
    scores = [prf(labels, (margin + b > 0).astype(int))["f1"] for b in candidates]
    best = max(scores)
    # Among equally good offsets, the one closest to no shift.
    return float(min((c for c, s in zip(candidates, scores) if s == best), key=abs))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """T > 0 minimising NLL of softmax(logits / T) (bounded search in [0.05, 20])."""
    def nll(t: float) -> float:
        probs = softmax(logits, t)
        return float(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None)).mean())

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE = Σ_b |B_b|/n · |accuracy(B_b) − confidence(B_b)| over equal-width confidence bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def fold_bias(model: torch.nn.Module, bias: float) -> None:
    """Add ``bias`` to the alert logit of ``model.head`` in place (ships inside the graph)."""
    with torch.no_grad():
        model.head.bias[1] += bias
