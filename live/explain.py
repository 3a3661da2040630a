"""Explain an insight: the exact input its model saw, rebuilt from the warehouse and digest-checked.

The insight (found by ``insight_id`` or ``signal_digest`` in the warehouse's ``insights`` table,
else in the live store) names its product, decision and the instant of its change. Its input is
rebuilt from the warehouse alone: the product's observations in ``signal_history`` up to the
observed record (:mod:`live.history`), windowed as the change capture windows them, and the
features (the contract's ``feature`` fields) are digested with the pod's own function
(:func:`serving.contract.signal_digest`). A match proves the rebuilt input is what was decided
on. The decision log line with that digest adds the bundle, the route, why it took that route
(``route_reason``: ``unrecorded`` for a line logged before the field, None without a line) and
both the edge and the central answers (the central one where the case was routed or
shadow-scored); of several lines with that digest, one written by the insight's answering bundle. A review insight's
text is read from the warehouse row only for the digest; the report shows its length, not the text.

On a mismatch ``mismatch_reason`` says why as far as the live store and the warehouse can tell:
the watcher has not flushed the change yet (the store's flag), the store marks it flushed but this
warehouse holds no observation of the product from then on, or the history up to the observation
now gives a different window than the input the store recorded with the change (the first
difference named).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import duckdb

from commons.contracts import CONTRACTS, PRICE_WINDOW, STOCK_WINDOW, review_text_of
from commons.errors import EdgeInsightsError
from commons.settings import Settings
from commons.warehouse import Warehouse
from live.history import product_windows, window
from live.store import StoreUnreadable, existing_store, store_path
from serving.contract import signal_digest
from training.divergence import is_production, read_decisions, route_reason_of


class ExplainError(EdgeInsightsError):
    """No insight with that key, or nothing in the warehouse to rebuild it from."""


def _find(settings: Settings, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(insight, observed signal record) for an insight id or signal digest."""
    path = store_path(settings.state_dir)
    if not path.exists():
        raise ExplainError(f"no live store at {path}: nothing has been watched in this state folder")
    try:
        rows = existing_store(path).query(
            "SELECT i.*, c.signal, c.record AS change_record, c.warehoused AS change_warehoused "
            "FROM insights i JOIN changes c USING (change_id) "
            "WHERE i.insight_id = ? OR i.signal_digest = ? ORDER BY i.seq DESC LIMIT 1", (key, key))
    except StoreUnreadable as err:
        raise ExplainError(str(err)) from None
    except sqlite3.DatabaseError as err:
        raise ExplainError(f"the live store at {path} cannot be read: {err}") from None
    if not rows:
        raise ExplainError(f"no insight with id or signal digest {key!r}")
    row = rows[0]
    return row, json.loads(row.pop("signal"))


def rebuild_features(settings: Settings, decision: str, signal: dict[str, Any]) -> dict[str, Any]:
    """The features of ``decision`` for the observed ``signal``, from the warehouse's history.

    Raises:
        ExplainError: the warehouse holds no observation of the product up to the signal.
    """
    if decision == "negative_review":
        rows = Warehouse(settings.warehouse_path).frame(
            "SELECT review_text FROM signal_history WHERE content_digest = ? LIMIT 1", [signal["content_digest"]])
        if rows.is_empty():
            raise ExplainError(f"the warehouse holds no review row with digest {signal['content_digest']}")
        # A row as Python values: the list column reads as a list of str, not a polars Series.
        return {"review_text": review_text_of(rows.row(0, named=True))}
    windows = product_windows(settings.warehouse_path, until=signal["crawled_at"], product_id=signal["product_id"])
    if signal["product_id"] not in windows:
        raise ExplainError(f"the warehouse holds no observation of product {signal['product_id']!r}; "
                           "the watcher flushes every few seconds: try again after it stops")
    prices, stocks = windows[signal["product_id"]]
    if decision == "price_spike":
        return {"title": signal["title"], "prices": window(prices[::-1], PRICE_WINDOW)}
    return {"title": signal["title"], "stock_counts": window(stocks[::-1], STOCK_WINDOW)}


def _features(decision: str, record: dict[str, Any]) -> dict[str, Any]:
    """The contract's ``feature`` fields of ``record``: what the pod digests."""
    return {k: v for k, v in record.items() if CONTRACTS[decision]["fields"][k]["role"] == "feature"}


def _observed_since(settings: Settings, product_id: str, instant: str) -> bool:
    """Whether the warehouse's shop history holds an observation of the product at or after ``instant``."""
    frame = Warehouse(settings.warehouse_path).frame(
        "SELECT count(*) AS n FROM signal_history WHERE intake <> 'reviews' AND product_id = ? "
        "AND crawled_at >= CAST(? AS TIMESTAMPTZ)", [product_id, instant])
    return frame["n"][0] > 0


def _mismatch_reason(settings: Settings, insight: dict[str, Any], signal: dict[str, Any],
                     rebuilt: dict[str, Any]) -> str:
    """Why ``rebuilt`` does not digest to the insight's signal digest, as far as the live store (the
    input recorded with the change, and whether the watcher flushed it) and the warehouse tell."""
    decision = insight["decision"]
    recorded = _features(decision, json.loads(insight["change_record"]))
    if signal_digest(recorded) != insight["signal_digest"]:
        return ("the input the live store recorded with the change does not digest to the insight's signal "
                "digest either: the pod digested another input than the watcher sent")
    product_id, observed_at = signal.get("product_id"), signal["crawled_at"]
    # A flush copies every observation not yet copied, in one go: the change's own flag says whether
    # the warehouse can hold its window yet.
    if not insight["change_warehoused"]:
        return (f"the watcher has not yet flushed this change's observation (at {observed_at}) to the warehouse: "
                "it flushes every few seconds; try again after its next flush or after it stops")
    if decision != "negative_review" and not _observed_since(settings, product_id, observed_at):
        return (f"the live store marks the change flushed, but the warehouse at {settings.warehouse_path} holds no "
                f"observation of product {product_id!r} at or after {observed_at}")
    # The digests differ, so some feature does; a review's text is named, never shown.
    field = next(k for k in sorted(recorded.keys() | rebuilt.keys()) if recorded.get(k) != rebuilt.get(k))
    was, now = recorded.get(field), rebuilt.get(field)
    at = (next((n for n, (a, b) in enumerate(zip(was, now)) if a != b), None)
          if isinstance(was, list) and isinstance(now, list) else None)
    where = "" if at is None else f" (position {at}: decided on {was[at]}, now {now[at]})"
    return (f"the change's observation (at {observed_at}) is in the warehouse, but the history up to it gives "
            f"different {field} than the pod was given{where}: that history changed after the decision")


def explain_insight(settings: Settings, key: str) -> dict[str, Any]:
    """Everything known about one insight (module docstring); ``digest_matches`` says if the rebuild holds,
    and ``mismatch_reason`` (None on a match) why not.

    Raises:
        ExplainError: unknown key, a live store or warehouse that is missing or cannot be read, or
            nothing to rebuild from.
    """
    insight, signal = _find(settings, key)
    decision = insight["decision"]
    # Without this the rebuild finds no observation and blames an unflushed watcher (and opening
    # the warehouse would create an empty one).
    if not settings.warehouse_path.is_file():
        raise ExplainError(f"no warehouse at {settings.warehouse_path}: the input of insight "
                           f"{insight['insight_id']} cannot be rebuilt without it")
    try:
        features = _features(decision, rebuild_features(settings, decision, signal))
        digest = signal_digest(features)
        matches = digest == insight["signal_digest"]
        mismatch = None if matches else _mismatch_reason(settings, insight, signal, features)
    except duckdb.Error as err:  # an empty, damaged or foreign file; one held by another process past the wait
        raise ExplainError(f"the warehouse at {settings.warehouse_path} cannot be read: "
                           f"{' '.join(str(err).split())}") from None
    # The same window can be decided again later (a restarted watcher, a redeployed champion):
    # the log line of *this* insight is the one its answering bundle wrote, for production traffic
    # (a replayed evaluation record of the same window is not the insight's decision).
    logged = [row for row in read_decisions(settings.decision_log_dir, decision)
              if is_production(row) and row.get("signal_digest") == insight["signal_digest"]
              and row.get("bundle_sha256") == insight["bundle_sha256"]]
    answer = logged[-1] if logged else {}
    shown = dict(features)
    if "review_text" in shown:
        shown["review_text"] = f"<{len(shown['review_text'])} characters, held in the warehouse only>"
    return {
        "insight_id": insight["insight_id"], "decision": decision, "label": insight["label"],
        "score": insight["score"], "route": insight["route"],
        "route_reason": route_reason_of(answer) if answer else None, "product_id": insight["product_id"],
        "url": insight["url"], "changed_at": insight["changed_at"], "model_version": insight["model_version"],
        "bundle_sha256": insight["bundle_sha256"], "features": shown, "signal_digest": insight["signal_digest"],
        "rebuilt_digest": digest, "digest_matches": matches,
        "mismatch_reason": mismatch,
        "edge": {"label": answer.get("edge_label"), "score": answer.get("edge_score"),
                 "bundle_sha256": answer.get("edge_bundle_sha256")} if answer else None,
        "central": {"label": answer.get("central_label"), "score": answer.get("central_score"),
                    "bundle_sha256": answer.get("central_bundle_sha256")} if answer else None,
    }
