"""Price and stock windows from the warehouse's signal history: the seed of the live windows and the
source ``explain`` rebuilds a decision's input from.

Both read a product's shop observations (intakes other than ``reviews``) in ``crawled_at`` order:
prices at price changes (an observation repeating the previous price adds nothing) and stock
levels at every observation (:func:`live.capture.stock_level`). The watcher appends what it
observes to the same history (intake ``books``, partition ``live``), so a live decision's window
can be rebuilt from the warehouse alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from commons.warehouse import Warehouse


def series_of(rows: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """(prices at price changes, stock levels) of one product's observations, oldest first."""
    prices: list[float] = []
    stocks: list[float] = []
    for row in rows:
        if row.get("price") is not None:
            price = float(row["price"])
            if not prices or prices[-1] != price:
                prices.append(price)
        if row.get("availability") == "out_of_stock":
            stocks.append(0.0)
        elif row.get("stock_count") is not None:
            stocks.append(float(row["stock_count"]))
    return prices, stocks


def product_windows(warehouse_path: Path, until: str | None = None,
                    product_id: str | None = None) -> dict[str, tuple[list[float], list[float]]]:
    """Product id → (prices, stock levels), oldest first, from ``signal_history`` (empty if no warehouse).

    Args:
        warehouse_path: the DuckDB file.
        until: only observations with ``crawled_at`` at or before this ISO-8601 instant.
        product_id: one product only.
    """
    if not Path(warehouse_path).exists():
        return {}
    where, params = ["intake <> 'reviews'", "product_id IS NOT NULL"], []
    if until is not None:
        where.append("crawled_at <= CAST(? AS TIMESTAMPTZ)")
        params.append(until)
    if product_id is not None:
        where.append("product_id = ?")
        params.append(product_id)
    frame = Warehouse(warehouse_path).frame(
        f"SELECT product_id, price, availability, stock_count FROM signal_history WHERE {' AND '.join(where)} "
        "ORDER BY product_id, crawled_at, content_digest", params)
    out = {}
    for (key,), group in frame.group_by("product_id", maintain_order=True):
        out[str(key)] = series_of(group.with_columns(pl.col("price").cast(pl.Float64)).to_dicts())
    return out


def window(values: list[float], length: int) -> list[float]:
    """``length`` of the newest-first ``values``, padded with the oldest (no change observed before it)."""
    return (values + [values[-1]] * length)[:length]
