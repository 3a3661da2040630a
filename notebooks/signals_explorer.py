# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Signals explorer
#
# What the warehouse's `signal_history` holds after a run: real price histories (Amazon JP, loaded by
# the `price_history_backfill` job) with the moves the **price_spike** label rule flags, and the books
# shop's stock counts (crawls and market-replay ticks) with restocks and the **urgent_inventory** rule.
# The state folder comes from `EDGE_INSIGHTS_STATE_DIR`.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import polars as pl

from commons.warehouse import Warehouse
from commons.contracts import STOCK_WINDOW
from commons.label_rules import LONG_WINDOW, Z_THRESHOLD, robust_z
from commons.label_rules import urgent_inventory as urgent

STATE = Path(os.environ["EDGE_INSIGHTS_STATE_DIR"])
warehouse = Warehouse(STATE / "warehouse.duckdb")
prices = warehouse.history("prices").sort(["product_id", "crawled_at"])
stock = warehouse.history("stock").drop_nulls("stock_count").sort(["product_id", "crawled_at"])
print(f"price history: {prices.height} changes of {prices['product_id'].n_unique()} products; "
      f"stock: {stock.height} observations of {stock['product_id'].n_unique()} books")

# %% [markdown]
# ## Prices and the spikes the label rule detects
#
# An alert is the onset of |modified z| > 3.5 of the log price against the median/MAD of the previous
# 30 prices (Iglewicz & Hoaglin 1993). History stores changes only, so each point is a price change.
# Shown: the four products with the most alerts (plots name them by ASIN; the table gives their titles).

# %%
def spikes(group: pl.DataFrame) -> np.ndarray:
    """Row indices of alert onsets in one product's time-ordered price changes."""
    values = group["price"].to_numpy()
    if len(values) <= LONG_WINDOW + 1:
        return np.array([], dtype=int)
    abnormal = np.abs(robust_z(np.log(values))) > Z_THRESHOLD
    onset = np.flatnonzero(abnormal[1:] & ~abnormal[:-1]) + 1
    return onset + LONG_WINDOW


def draw(ax, times, values: np.ndarray, line: dict, marks: list[tuple[np.ndarray, dict]],
         title: str, ylabel: str) -> None:
    """One product's series as a step line with marked points (``marks``: indices and style)."""
    ax.step(times, values, where="post", **line)
    for idx, style in marks:
        ax.scatter([times[i] for i in idx], values[idx], zorder=3, **style)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper left", fontsize=8)


per_product = {pid: (g, spikes(g)) for (pid,), g in prices.group_by("product_id", maintain_order=True)}
ranked = sorted(per_product.items(), key=lambda kv: (-len(kv[1][1]), -kv[1][0].height))[:4]
print(f"alerts over all products: {sum(len(s) for _, s in per_product.values())}")
for pid, (group, onsets) in ranked:
    print(f"{pid}  {group.height:>4} changes  {len(onsets):>2} alerts  {(group['title'].drop_nulls().to_list() or [''])[-1][:60]}")
fig, axes = plt.subplots(len(ranked), 1, figsize=(11, 2.6 * len(ranked)), sharex=True, squeeze=False)
for ax, (pid, (group, onsets)) in zip(axes[:, 0], ranked):
    draw(ax, group["crawled_at"].to_list(), group["price"].to_numpy(), {"color": "tab:blue", "label": "price"},
         [(onsets, {"color": "tab:red", "label": "spike onset"})],
         f"{pid}: {len(onsets)} alerts over {group.height} price changes", "price (JPY)")
axes[-1, 0].set_xlabel("observed at (UTC)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Stock counts and restocks
#
# A restock is an increase of a book's stock count between two observations; a red dot marks an
# observation the urgent_inventory rule calls urgent (out of stock, ≤ 3 units, or ≤ ½ the median of the
# previous 7). Shown: the four books with the most stock changes, by observation in time order
# (market-replay ticks are simulated days; the live crawl comes later, so dates would hide the ticks).

# %%
books = sorted(((pid, g) for (pid,), g in stock.group_by("product_id", maintain_order=True)),
               key=lambda kv: -int((kv[1]["stock_count"].diff().fill_null(0) != 0).sum()))[:4]
restocks_total = sum(int((g["stock_count"].diff().fill_null(0) > 0).sum())
                     for (_,), g in stock.group_by("product_id"))
print(f"restocks over all books: {restocks_total}")
fig, axes = plt.subplots(len(books), 1, figsize=(11, 2.4 * len(books)), squeeze=False)
for ax, (pid, group) in zip(axes[:, 0], books):
    counts = group["stock_count"].to_numpy()
    up = np.flatnonzero(np.diff(counts) > 0) + 1
    flagged = np.array([i for i in range(STOCK_WINDOW - 1, len(counts))
                        if urgent(counts[i - STOCK_WINDOW + 1:i + 1][::-1])], dtype=int)
    draw(ax, np.arange(group.height), counts, {"color": "tab:green", "label": "units in stock"},
         [(up, {"marker": "^", "color": "tab:blue", "label": "restock"}),
          (flagged, {"color": "tab:red", "label": "urgent"})],
         f"{(group['title'].drop_nulls().to_list() or [pid])[-1][:70]}", "stock (units)")
axes[-1, 0].set_xlabel("observation (count, time order)")
fig.tight_layout()
plt.show()
