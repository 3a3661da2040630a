"""urgent_inventory: flag low stock and stock-out transitions from harvested stock counts.

Data: the books shop's stock counts over harvest partitions — the live crawl and the market
replay's ticks (prices and stock moving with real price histories, :mod:`crawlers.replay`).
History stores a product's observations as changes, so each example is one observed stock state.

Label (:func:`commons.label_rules.urgent_inventory`, on the last ``STOCK_WINDOW`` observations,
most recent first; an out-of-stock page counts 0 units):

* out of stock now (0 units), or
* low stock: ≤ ``LOW_STOCK`` units, or
* a sharp drop: at most half of the median of the previous observations (a run on the product).

The central oracle applies the rule itself (oracle kind ``rule``). The student reads the same
``STUDENT_WINDOW`` = 8 counts:
the drop rule needs the median of the 7 earlier counts, and on the newest 2 alone no model
passes logistic regression — measured on the demo's held-out products, F1 0.925 for logistic
regression and 0.915 for gradient boosting on the raw 2 counts, 0.905–0.92 for the student.
Products with fewer observations than the window are padded with their oldest count (no change
observed).

Each observation also gives a *first-sight* example: the window of an observer whose history of
the product begins at that observation (a product first seen, a watcher started late, history
folded by retention), i.e. the count repeated ``STOCK_WINDOW`` times, as
:func:`live.history.window` pads it. History stores changes only, so a flat window reaches a pod
only this way; without these examples every flat window in training was a fresh restock (ok), and
the student answered ``ok`` with confidence 0.94–0.996 for a product flat at 0–3 units, which the
rule's level branch calls urgent. First-sight windows carry the series' real levels, so the level
branch is learnt apart from the drop branch (source ``books/first_sight``). They are trained on
only: calibration and evaluation keep the traffic's mix of windows, which sets the abstain
threshold and the drift reference.

Each observation also gives, where they differ from the full-history window, *sparse* examples
(source ``books/sparse``, :func:`sparse_window`): the windows of :data:`OBSERVERS` observers that
each saw only one observation every few, as the live watcher does when its request budget spreads
revisits over more products than it can visit every tick, recording a level only when it changed.
Such windows jump across sell-downs and restocks (``[0, 4, 13, 0, 6, 15, 0, 9]``); daily windows
never do, and a student trained on those alone answered ``ok`` at 0 units for them, confidently
enough that the rule was never asked. A watcher's window spans 2–3 cycles once it has recorded 8
changes (86 % of a demo's live windows hold two restocks or more), so the observers' steps are
spread over the product's whole known history (:func:`span_step`) and several observers view each
observation: with one observer stepping 1–5 observations, only a product's last few observations
reached back that far (17 % of the eval split), and the student answered ``urgent`` at 0.93–0.98
for the live loop's ``[4, 10, 0, 4, 12, 0, 6, 14]`` (ok: 4 units are above the low level and half
the median), 57 of its 71 edge-kept disagreements with the rule over 2,067 live windows.
Sparse windows are traffic (the live loop's), not a train-only view: they are trained, calibrated
and evaluated on like the daily ones, so the gate and its baseline score both kinds of window and
the abstain threshold and drift reference cover both.
Trained on only, the view fixed those stock-outs but the gate, scoring daily windows alone, then
preferred the baseline. ``benchmarks/sparse_stock.py`` compares the three on the demo's history.
"""

from __future__ import annotations

import random

import numpy as np
import polars as pl

from commons.contracts import STOCK_WINDOW, URGENT_INVENTORY
from commons.label_rules import DROP_RATIO, LOW_STOCK
from commons.label_rules import urgent_inventory as urgent
from commons.manifest import ORACLE_RULE
from training.decisions.base import DecisionSpec
from training.examples import Example

STUDENT_WINDOW = STOCK_WINDOW
LABELS = ("ok", "urgent")
SOURCE = "books"
FIRST_SIGHT = "books/first_sight"
SPARSE = "books/sparse"
OBSERVERS = 2
"""Sparse observers per product, each with its own steps: up to as many sparse views per observation."""


def examples_from_history(rows: pl.DataFrame) -> tuple[list[Example], int]:
    """Rows (product_id, title, stock_count, availability, crawled_at) → per observation its
    full-history example (source :data:`SOURCE`) and, from a product's second observation on, its
    first-sight example (:data:`FIRST_SIGHT`) and the distinct views of its :data:`OBSERVERS` sparse
    observers that differ from the full-history one (:data:`SPARSE`, :func:`sparse_window`); plus the
    count of observations with no known count."""
    examples: list[Example] = []
    unknown = 0
    ordered = rows.sort(["product_id", "crawled_at"], maintain_order=True)
    for (product_id,), group in ordered.group_by("product_id", maintain_order=True):
        counts = []
        for stock, availability in zip(group["stock_count"], group["availability"]):
            if availability == "out_of_stock":
                counts.append(0.0)
            elif stock is not None and stock == stock:
                counts.append(float(stock))
            else:
                counts.append(np.nan)
        titles = group["title"].drop_nulls()
        title = str(titles[-1]) if len(titles) else ""
        series = np.array(counts)
        known = series[~np.isnan(series)]
        observers = [random.Random(f"sparse:{product_id}:{k}") for k in range(OBSERVERS)]
        seen = 0
        for t in range(len(series)):
            if np.isnan(series[t]):
                unknown += 1
                continue
            past = series[max(0, t - STOCK_WINDOW + 1):t + 1][::-1]
            past = past[~np.isnan(past)]
            windows = {SOURCE: np.concatenate([past, np.full(STOCK_WINDOW - len(past), past[-1])])}
            if len(past) > 1:  # with one observation the window is already the first-sight one
                windows[FIRST_SIGHT] = np.full(STOCK_WINDOW, past[0])
            seen += 1
            views = {tuple(sparse_window(known[:seen], steps)) for steps in observers}
            views.discard(tuple(windows[SOURCE]))
            examples += [Example(text=title, label=int(urgent(window)), product_id=str(product_id), source=source,
                                 window=tuple(float(v) for v in window)) for source, window in windows.items()]
            examples += [Example(text=title, label=int(urgent(np.array(view))), product_id=str(product_id),
                                 source=SPARSE, window=view) for view in sorted(views)]
    return examples, unknown


def sparse_window(known: np.ndarray, steps: random.Random) -> np.ndarray:
    """The newest-first window of an observer that saw the last of ``known`` (a product's known
    counts, oldest first) and, before it, one count every few observations back, steps spread so the
    window reaches back over the whole known history (:func:`span_step`); levels equal to the one
    seen after them are dropped (no change, nothing recorded); padded with the oldest seen. Shape
    ``(STOCK_WINDOW,)``, float64."""
    seen, at = [known[-1]], len(known) - 1
    longest = span_step(len(known))
    while len(seen) < STOCK_WINDOW:
        at -= steps.randint(1, longest)
        if at < 0:
            break
        if known[at] != seen[-1]:
            seen.append(known[at])
    return np.array(seen + [seen[-1]] * (STOCK_WINDOW - len(seen)), dtype=np.float64)


def span_step(known: int) -> int:
    """Longest step, in observations, of a sparse view of ``known`` observations: steps of 1 to it
    (uniform) average the step that takes ``STOCK_WINDOW - 1`` of them from the newest to the oldest
    (at least 1)."""
    return max(1, round(2 * (known - 1) / (STOCK_WINDOW - 1)) - 1)


SPEC = DecisionSpec(
    name="urgent_inventory", labels=LABELS, contract=URGENT_INVENTORY, text_field="title",
    window_field="stock_counts", window=STOCK_WINDOW, student_window=STUDENT_WINDOW,
    transform="stock_level",
    history="stock",
    examples=examples_from_history, oracle=ORACLE_RULE, train_only_sources=(FIRST_SIGHT,),
    label_rule=(f"urgent when out of stock, ≤ {LOW_STOCK} units, or ≤ {DROP_RATIO:g} × the median of the "
                f"previous {STOCK_WINDOW - 1} observations"))
