"""price_spike: alert when a product's price moves abnormally for that product.

Label (teacher's long view). For observation t of one product, with the previous
``LONG_WINDOW`` prices p_{t-1..t-L}:

    z_t = 0.6745 · (log p_t − median(log p_{t-i})) / max(MAD(log p_{t-i}), MAD_FLOOR)

the modified z-score of Iglewicz & Hoaglin (1993, "How to Detect and Handle Outliers"), where
0.6745 makes MAD consistent with σ under normality and |z| > 3.5 is their outlier threshold.
Log prices make the rule scale-free. ``MAD_FLOOR`` (0.01 in log units ≈ 1 %) keeps long flat
stretches — common in real price histories — from turning every small change into an alert.

An alert is the *onset* of an abnormal move: |z_t| > 3.5 while |z_{t-1}| ≤ 3.5. A price that
stays at its new level is observed several times a day and would otherwise be re-flagged until
the rolling median catches up (measured on the shared histories: 22.7 % of observations abnormal,
2.0 % onsets).

Views. The central model (teacher) sees the current price and the ``LONG_WINDOW + 1`` before it
(enough to know z_{t-1}); the edge (student) holds only the last ``SHORT_WINDOW`` observations
before the current one. Both get the product title as text. Evaluation is split by product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from commons.contracts import PRICE_SPIKE, PRICE_WINDOW
from training.decisions.base import DecisionSpec
from training.examples import Example

LONG_WINDOW = 30  # previous prices behind the robust z; the teacher sees LONG_WINDOW + 2 values
# Measured on the demo (held-out F1, teacher 0.391): student reading 6 / 11 / 16 values 0.354 /
# 0.377 / 0.393; 16 (half the teacher's view) is the shortest that keeps ≥ 0.95 × teacher with margin.
SHORT_WINDOW = 15
MAD_FLOOR = 0.01
Z_THRESHOLD = 3.5
LABELS = ("normal", "spike")


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


@dataclass(frozen=True)
class PriceWindows:
    """Samples of one product: raw price windows (most recent first) and labels.

    Attributes:
        long: float32 [m, LONG_WINDOW + 2] current price then the previous LONG_WINDOW + 1 prices.
        short: float32 [m, SHORT_WINDOW + 1] current price then the previous SHORT_WINDOW prices.
        labels: int64 [m] 1 = spike.
        z: float [m] the robust z-scores behind the labels.
    """

    long: np.ndarray
    short: np.ndarray
    labels: np.ndarray
    z: np.ndarray


def product_windows(prices: np.ndarray) -> PriceWindows | None:
    """All labelled samples of one product's price series (time order, > 0); None if too short."""
    prices = np.asarray(prices, dtype=np.float64)
    if len(prices) <= LONG_WINDOW + 1:
        return None
    z = robust_z(np.log(prices))
    abnormal = np.abs(z) > Z_THRESHOLD
    onset = abnormal[1:] & ~abnormal[:-1]
    # Windows ending at t (inclusive), reversed so the current price comes first.
    full = np.lib.stride_tricks.sliding_window_view(prices, LONG_WINDOW + 2)[:, ::-1]
    return PriceWindows(long=full.astype(np.float32), short=full[:, :SHORT_WINDOW + 1].astype(np.float32),
                        labels=onset.astype(np.int64), z=z[1:])


def examples_from_history(rows: pl.DataFrame) -> tuple[list[Example], int]:
    """price_spike examples from signal-history rows (product_id, title, price, crawled_at).

    History stores a product's observations as changes (unchanged re-observations add no row), so
    each example is one price change: "is this move abnormal for this product?" — the moment a
    decision is needed. Products with too few changes for the long window are counted, not used.
    """
    examples: list[Example] = []
    skipped = 0
    ordered = rows.sort(["product_id", "crawled_at"], maintain_order=True)
    for (product_id,), group in ordered.group_by("product_id", maintain_order=True):
        prices = group["price"].cast(pl.Float64).to_numpy()
        windows = product_windows(prices)
        if windows is None:
            skipped += len(prices)
            continue
        titles = group["title"].drop_nulls()
        title = str(titles[-1]) if len(titles) else ""
        examples += [Example(text=title, label=int(label), product_id=str(product_id), source="prices",
                             window=tuple(float(v) for v in window))
                     for window, label in zip(windows.long, windows.labels)]
    return examples, skipped


SPEC = DecisionSpec(
    name="price_spike", labels=LABELS, contract=PRICE_SPIKE, text_field="title", window_field="prices",
    window=PRICE_WINDOW, student_window=SHORT_WINDOW + 1, transform="price_log_ratio",
    history="prices",
    examples=examples_from_history,
    label_rule=(f"alert at the onset of |modified z| > {Z_THRESHOLD} of log price against the median/MAD "
                f"of the previous {LONG_WINDOW} prices (Iglewicz & Hoaglin 1993), MAD floor {MAD_FLOOR}"))
