"""Numeric feature branch: raw windows in, learned features out, inside the exported graph.

Pods pass raw numbers (a price window, recent stock counts); the transforms that turn them into
model features live here, in the graph, so edge and training can never compute them differently.

Transforms (input float32 [batch, k+1], most recent value first):
* ``price_log_ratio`` — r_i = log(p0 / p_i) for i = 1..k and |r_i|: scale-free returns of the
  current price against each earlier one, and their magnitudes (a spike is a move either way);
  ×10 so a 1 % move is 0.1 (prices must be > 0; the contract enforces it).
* ``stock_level`` — log1p(s_i) for each count, and s_{i+1} - s_i scaled by 1/(1 + s_{i+1})
  (relative depletion between consecutive observations); counts are clamped at 0.
"""

from __future__ import annotations

import torch
from torch import nn

TRANSFORMS = ("price_log_ratio", "stock_level")


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
        return 2 * (self.use - 1) if self.kind == "price_log_ratio" else 2 * self.use - 1

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        raw = raw[:, :self.use]
        if self.kind == "price_log_ratio":
            # log of the ratio, not a difference of logs: prices of ~10^5 have logs of ~11.5, and
            # subtracting two of them loses the digits ONNX Runtime and PyTorch round differently
            # (measured 8.8e-5 at the branch output, past the 1e-4 logit parity bound downstream).
            prices = raw.clamp(min=1e-6)
            returns = 10.0 * torch.log(prices[:, :1] / prices[:, 1:])
            return torch.cat([returns, returns.abs()], dim=1)
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
