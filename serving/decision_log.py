"""Append-only decision log: one JSON line per decision, one file per decision and UTC day.

Layout: ``<log_dir>/<decision>/decisions-YYYYMMDD.jsonl``. A line never holds raw text: the
signal digest and the product key are enough to find the signal in the warehouse and replay it.

Line fields: ``ts`` (UTC ISO 8601), ``decision``, ``label``, ``score``, ``route``,
``model_version``, ``bundle_sha256`` (both of the answering model), ``signal_digest``,
``latency_ms``, ``product_id`` (null when not given), ``edge_label``, ``edge_score``,
``edge_bundle_sha256``, ``central_label``, ``central_score``, ``central_bundle_sha256`` (null when
central was not consulted or failed), ``central_error``, ``shadow`` (true only for the uniform
shadow sample of edge-decided records: the one unbiased measure of edge-vs-central disagreement),
``inputs`` (the record's input profile,
:mod:`serving.input_profile`: word count, out-of-vocabulary share, log level and change of each
numeric window).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .router import Routed


def log_entry(routed: Routed, decision: str, product_id: str | None,
              now: datetime | None = None) -> dict[str, Any]:
    """The log line for one decision (a dict ready for JSON).

    Args:
        routed: the decision as settled by the router.
        decision: decision name.
        product_id: the record's key field, or None.
        now: timestamp to record (UTC); defaults to the current time.
    """
    ts = (now or datetime.now(timezone.utc)).isoformat(timespec="milliseconds")
    return {"ts": ts, **routed.response(decision), "product_id": product_id,
            "edge_label": routed.edge_label, "edge_score": routed.edge_score,
            "edge_bundle_sha256": routed.edge_bundle_sha256,
            "central_label": routed.central_label, "central_score": routed.central_score,
            "central_bundle_sha256": routed.central_bundle_sha256,
            "central_error": routed.central_error, "shadow": routed.shadow,
            "inputs": routed.inputs}


class DecisionLog:
    """Thread-safe appender of decision lines under ``log_dir``.

    Args:
        log_dir: root folder of the log; created on first write.
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = Path(log_dir)
        self._lock = threading.Lock()

    def path_for(self, decision: str, day: datetime) -> Path:
        """File holding ``decision``'s lines for the UTC day of ``day``."""
        return self.log_dir / decision / f"decisions-{day.astimezone(timezone.utc):%Y%m%d}.jsonl"

    def append(self, entries: list[dict[str, Any]]) -> None:
        """Append entries (from :func:`log_entry`) as JSON lines, each to its decision's day file.

        One lock serialises writers so lines from concurrent requests never interleave.

        Raises:
            OSError: the log folder cannot be created or written.
        """
        by_file: dict[Path, list[str]] = {}
        for entry in entries:
            day = datetime.fromisoformat(entry["ts"])
            line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
            by_file.setdefault(self.path_for(entry["decision"], day), []).append(line + "\n")
        with self._lock:
            for path, lines in by_file.items():
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write("".join(lines))
