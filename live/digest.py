"""The insight digest: a day of the live loop's insights per decision and route, why each took its
route, and the later agreement of edge answers with the central oracle (both read back from the
pods' decision logs)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from commons.warehouse import Warehouse
from training.divergence import is_production, read_decisions, reason_counts


def insight_digest(warehouse: Warehouse, decision_log_dir: Path, since: datetime, until: datetime) -> dict[str, Any]:
    """Counts of the warehouse's insights published in [since, until) and edge/central agreement.

    Returns ``{"insights": int, "alerts": int, "per_decision": {decision: {"insights", "alerts",
    "routes": {route: n}, "route_reasons": {route: {reason: n}}, "compared": n, "agreement": float | None}}}``;
    ``route_reasons`` counts insights whose decision-log line (same signal digest, the last one of
    production traffic: :func:`training.divergence.is_production`) is found, by that line's route
    and ``route_reason`` (``unrecorded`` for a line logged before the field,
    :func:`training.divergence.reason_counts`); ``compared`` counts insights whose line
    carries both an edge and a central label, ``agreement`` the share of those where they match
    (None when none).
    """
    frame = warehouse.frame(
        "SELECT decision, route, alert, signal_digest FROM insights WHERE published_at >= ? AND published_at < ?",
        [since, until])
    per: dict[str, Any] = {}
    for (decision,), group in frame.group_by("decision", maintain_order=True):
        # A replayed record deciding the same signal again must not stand in for the watcher's line.
        rows = [row for row in read_decisions(decision_log_dir, decision) if is_production(row)]
        lines = {row["signal_digest"]: row for row in rows}
        logged = {row["signal_digest"]: row for row in rows
                  if row.get("edge_label") is not None and row.get("central_label") is not None}
        pairs = [logged[d] for d in group["signal_digest"] if d in logged]
        per[decision] = {
            "insights": group.height, "alerts": int(group["alert"].sum()),
            "routes": {str(r): int(n) for r, n in group.group_by("route").len().iter_rows()},
            "route_reasons": reason_counts(lines[d] for d in group["signal_digest"] if d in lines),
            "compared": len(pairs),
            "agreement": (sum(p["edge_label"] == p["central_label"] for p in pairs) / len(pairs)) if pairs else None}
    return {"insights": frame.height, "alerts": int(frame["alert"].sum()) if frame.height else 0, "per_decision": per}
