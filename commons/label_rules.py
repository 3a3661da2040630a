"""The label rules of the decisions whose truth is a computation over history.

One implementation, used twice: training labels every example with it (:mod:`training.decisions`),
and a central pod whose oracle kind is ``rule`` answers with it (:mod:`serving.oracle`). Each rule
reads exactly the window its decision's feature contract carries (:mod:`commons.contracts`), so the
central answer is the label itself, not an approximation of it.

price_spike. For observation t of one product, with the previous ``LONG_WINDOW`` prices:

    z_t = 0.6745 · (log p_t − median(log p_{t-i})) / max(MAD(log p_{t-i}), MAD_FLOOR)

the modified z-score of Iglewicz & Hoaglin (1993, "How to Detect and Handle Outliers"), where
0.6745 makes MAD consistent with σ under normality and |z| > 3.5 is their outlier threshold. An
alert is the *onset* of an abnormal move, |z_t| > 3.5 while |z_{t-1}| ≤ 3.5, so it needs
``LONG_WINDOW + 2`` prices (the contract's 32).

urgent_inventory. Out of stock now (0 units), at most ``LOW_STOCK`` units, or at most
``DROP_RATIO`` × the median of the earlier counts of the window (the contract's 8).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

LONG_WINDOW = 30
MAD_FLOOR = 0.01  # log units ≈ 1 %: long flat stretches would otherwise flag every small change
Z_THRESHOLD = 3.5
LOW_STOCK = 3
DROP_RATIO = 0.5


def robust_z(log_prices: np.ndarray, long_window: int = LONG_WINDOW) -> np.ndarray:
    """Modified z-score of each log price against the previous ``long_window`` log prices.

    Args:
        log_prices: float [n] one product's log prices in time order.

    Returns:
        float [n - long_window]: z for t = long_window … n-1.
    """
    windows = np.lib.stride_tricks.sliding_window_view(log_prices[:-1], long_window)
    current = log_prices[long_window:]
    median = np.median(windows, axis=1)
    mad = np.median(np.abs(windows - median[:, None]), axis=1)
    return 0.6745 * (current - median) / np.maximum(mad, MAD_FLOOR)


def spike_onsets(prices: np.ndarray) -> np.ndarray:
    """Whether each observation from ``LONG_WINDOW + 1`` on is a spike onset.

    Args:
        prices: float [n] one product's prices (> 0) in time order, n ≥ ``LONG_WINDOW + 2``.

    Returns:
        bool [n - LONG_WINDOW - 1]: entry i for observation t = i + LONG_WINDOW + 1.
    """
    abnormal = np.abs(robust_z(np.log(np.asarray(prices, dtype=np.float64)))) > Z_THRESHOLD
    return abnormal[1:] & ~abnormal[:-1]


def price_spike(window: np.ndarray) -> bool:
    """The price_spike rule on one contract window (most recent price first, ``LONG_WINDOW + 2``
    prices > 0).

    Raises:
        ValueError: the window is shorter than ``LONG_WINDOW + 2``.
    """
    window = np.asarray(window, dtype=np.float64)
    if len(window) < LONG_WINDOW + 2:
        raise ValueError(f"price_spike needs {LONG_WINDOW + 2} prices, got {len(window)}")
    return bool(spike_onsets(window[:LONG_WINDOW + 2][::-1])[-1])


def urgent_inventory(window: np.ndarray) -> bool:
    """The urgent_inventory rule on one window of stock counts (most recent first, ≥ 2 counts)."""
    window = np.asarray(window, dtype=np.float64)
    now = window[0]
    return bool(now == 0 or now <= LOW_STOCK or now <= DROP_RATIO * np.median(window[1:]))


RULES: dict[str, Callable[[np.ndarray], bool]] = {"price_spike": price_spike,
                                                   "urgent_inventory": urgent_inventory}
"""Decision name → its rule over the contract's number window (True = the alert label)."""
