"""Numeric feature branch: raw windows in, learned features out, inside the exported graph.

Pods pass raw numbers (a price window, recent stock counts); the transforms that turn them into
model features live here, in the graph, so edge and training can never compute them differently.

Transforms (input float32 [batch, k+1], most recent value first):
* ``price_log_ratio`` — r_i = log(p0 / p_i) for i = 1..k and |r_i|: scale-free returns of the
  current price against each earlier one, and their magnitudes (a spike is a move either way);
  ×10 so a 1 % move is 0.1 (prices must be > 0; the contract enforces it).
* ``price_robust_z`` — the returns and magnitudes of ``price_log_ratio``, plus the rule's own
  statistic on the window read: the modified z-score (Iglewicz & Hoaglin 1993; as
  :func:`commons.label_rules.robust_z`) of the current price against the k-1 before it and of the
  previous price against the k-1 before that, each as tanh(|z| − 3.5) (how far past the label
  rule's threshold; bounded, steepest at it). On all 32 values it is the label rule's input; on a
  shorter view it approximates it.
* ``stock_level`` — log1p(s_i) for each count, and s_{i+1} - s_i scaled by 1/(1 + s_{i+1})
  (relative depletion between consecutive observations); counts are clamped at 0.
"""

from __future__ import annotations

import torch
from torch import nn

from commons.label_rules import MAD_FLOOR, Z_THRESHOLD

TRANSFORMS = ("price_log_ratio", "price_robust_z", "stock_level")
#: Transforms that read only ratios of the window's values: a model over one of them cannot see the
#: window's level (a price in yen or pounds, a cheap or a dear product), so a shift of the level is
#: not drift of what it reads (:func:`edge_export.release.drift_baseline` leaves it untested).
SCALE_FREE = ("price_log_ratio", "price_robust_z")


def _median(x: torch.Tensor) -> torch.Tensor:
    """Median over the last axis of ``x`` [batch, n] → [batch]; the mean of the two middle values
    for even n, as numpy's (sorting exports to ONNX, unlike ``torch.median``'s lower median)."""
    ordered = torch.sort(x, dim=1).values
    n = x.shape[1]
    return 0.5 * (ordered[:, (n - 1) // 2] + ordered[:, n // 2])


def _modified_z(deviations: torch.Tensor) -> torch.Tensor:
    """Modified z of a value from its log ratios to the n values before it [batch, n] → [batch]."""
    median = _median(deviations)
    mad = _median((deviations - median[:, None]).abs()).clamp(min=MAD_FLOOR)
    return 0.6745 * median / mad


class WindowFeatures(nn.Module):
    """Parameter-free transform of a raw window [batch, width] → features [batch, out_width].

    ``use`` ≤ ``width``: only the ``use`` most recent values are read. A student keeps the pod's
    input contract (the full window, so a pod can forward the same record to the central model)
    while seeing only the short window the edge model is built for.
    """

    def __init__(self, kind: str, width: int, use: int | None = None) -> None:
        super().__init__()
        use = width if use is None else use
        if kind not in TRANSFORMS:
            raise ValueError(f"unknown numeric transform {kind!r}; known: {TRANSFORMS}")
        if not 2 <= use <= width:
            raise ValueError(f"need 2 <= use <= width, got use={use}, width={width}")
        self.kind, self.width, self.use = kind, width, use

    @property
    def out_width(self) -> int:
        return {"price_log_ratio": 2 * (self.use - 1), "price_robust_z": 2 * (self.use - 1) + 2,
                "stock_level": 2 * self.use - 1}[self.kind]

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        raw = raw[:, :self.use]
        if self.kind in SCALE_FREE:
            # log of the ratio, not a difference of logs: prices of ~10^5 have logs of ~11.5, and
            # subtracting two of them loses the digits ONNX Runtime and PyTorch round differently
            # (measured 8.8e-5 at the branch output, past the 1e-4 logit parity bound downstream).
            prices = raw.clamp(min=1e-6)
            ratios = torch.log(prices[:, :1] / prices[:, 1:])
            features = [10.0 * ratios, 10.0 * ratios.abs()]
            if self.kind == "price_robust_z":
                # log p0 − median(log p_i) = median(log(p0 / p_i)), and the MAD is shift-free, so
                # both z-scores come from the ratios: small numbers, no cancellation.
                current = _modified_z(ratios[:, :-1])
                previous = _modified_z(ratios[:, 1:] - ratios[:, :1])
                features += [torch.tanh(current.abs() - Z_THRESHOLD)[:, None],
                             torch.tanh(previous.abs() - Z_THRESHOLD)[:, None]]
            return torch.cat(features, dim=1)
        counts = raw.clamp(min=0.0)
        depletion = (counts[:, 1:] - counts[:, :-1]) / (1.0 + counts[:, 1:])
        return torch.cat([torch.log1p(counts), depletion], dim=1)


class NumericBranch(nn.Module):
    """WindowFeatures → Linear(hidden) → GELU → Linear(hidden): [batch, width] → [batch, hidden].

    No per-sample normalisation (LayerNorm) on purpose: it would erase the size of a move, which
    is the signal."""

    def __init__(self, kind: str, width: int, hidden: int = 32, use: int | None = None) -> None:
        super().__init__()
        self.features = WindowFeatures(kind, width, use)
        self.net = nn.Sequential(nn.Linear(self.features.out_width, hidden), nn.GELU(),
                                 nn.Linear(hidden, hidden))
        self.hidden = hidden

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return self.net(self.features(raw))

    def spec(self) -> dict:
        """Constructor arguments, for saving."""
        return {"kind": self.features.kind, "width": self.features.width, "hidden": self.hidden,
                "use": self.features.use}
