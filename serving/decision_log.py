"""Append-only, hash-chained decision log: one JSON line per decision, one file per decision and UTC day.

Layout: ``<log_dir>/<decision>/decisions-YYYYMMDD.jsonl``. A line never holds raw text: the
signal digest and the product key are enough to find the signal in the warehouse and replay it.

Line fields: ``ts`` (UTC ISO 8601), ``decision``, ``label``, ``score``, ``route``,
``route_reason`` (why that route, :mod:`serving.route_reason`; absent from lines logged before it
existed), ``model_version``, ``bundle_sha256`` (both of the answering model), ``signal_digest``,
``latency_ms``, ``product_id`` (null when not given), ``edge_label``, ``edge_score``,
``edge_bundle_sha256``, ``central_label``, ``central_score``, ``central_bundle_sha256`` (null when
central was not consulted or failed), ``central_error``, ``shadow`` (true only for the uniform
shadow sample of edge-decided records: the one unbiased measure of edge-vs-central disagreement),
``traffic`` (``production`` or ``replay``, the request's traffic class, :mod:`commons.traffic`;
absent from lines logged before it existed, which read as production),
``inputs`` (the record's input profile,
:mod:`serving.input_profile`: word count, out-of-vocabulary share, log level and change of each
numeric window).

Each decision's folder is one hash chain (:mod:`commons.chain_writer`): every line also carries
``seq``, ``prev`` and ``hash``, the chain runs on from one day's file into the next, and checkpoint
lines (``{"checkpoint": {...}}``, every ``checkpoint_every`` lines and when the pod stops) carry
the chain head signed with the pod's audit key. Readers of decisions skip checkpoints and ignore
the chain members (:func:`training.divergence.read_decisions`); ``edge-insights audit verify``
checks them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from commons.chain_writer import DEFAULT_CHECKPOINT_EVERY, ChainWriter
from commons.token_keys import SigningKey

from commons.traffic import PRODUCTION

from .router import Routed


def log_entry(routed: Routed, decision: str, product_id: str | None,
              now: datetime | None = None, traffic: str = PRODUCTION) -> dict[str, Any]:
    """The log line for one decision (a dict ready for JSON).

    Args:
        routed: the decision as settled by the router.
        decision: decision name.
        product_id: the record's key field, or None.
        now: timestamp to record (UTC); defaults to the current time.
        traffic: the request's traffic class (:mod:`commons.traffic`: ``production`` or ``replay``).
    """
    ts = (now or datetime.now(timezone.utc)).isoformat(timespec="milliseconds")
    return {"ts": ts, **routed.response(decision), "route_reason": routed.route_reason, "product_id": product_id,
            "edge_label": routed.edge_label, "edge_score": routed.edge_score,
            "edge_bundle_sha256": routed.edge_bundle_sha256,
            "central_label": routed.central_label, "central_score": routed.central_score,
            "central_bundle_sha256": routed.central_bundle_sha256,
            "central_error": routed.central_error, "shadow": routed.shadow, "traffic": traffic,
            "inputs": routed.inputs}


class DecisionLog:
    """Thread- and process-safe appender of chained decision lines under ``log_dir``.

    Args:
        log_dir: root folder of the log; created on first write.
        key: signs the checkpoints; None writes unsigned ones (the pod warns at start).
        checkpoint_every: lines between checkpoints of one decision's log.
    """

    def __init__(self, log_dir: Path, key: SigningKey | None = None,
                 checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY) -> None:
        self.log_dir = Path(log_dir)
        self.key = key
        self.checkpoint_every = checkpoint_every
        self._writers: dict[str, ChainWriter] = {}

    def path_for(self, decision: str, day: datetime) -> Path:
        """File holding ``decision``'s lines for the UTC day of ``day``."""
        return self.log_dir / decision / f"decisions-{day.astimezone(timezone.utc):%Y%m%d}.jsonl"

    def _writer(self, decision: str) -> ChainWriter:
        writer = self._writers.get(decision)
        if writer is None:
            # setdefault: two threads asking at once end up sharing one writer.
            writer = self._writers.setdefault(decision, ChainWriter(self.log_dir / decision, self.key,
                                                                    self.checkpoint_every))
        return writer

    def append(self, entries: list[dict[str, Any]]) -> None:
        """Chain entries (from :func:`log_entry`) onto their decision's log, in order, each into
        its UTC day's file (or a later day's file that already exists).

        Raises:
            OSError: the log folder cannot be created or written.
            ValueError: an entry holds a value JSON cannot hold, or a chain member.
        """
        by_file: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for entry in entries:
            path = self.path_for(entry["decision"], datetime.fromisoformat(entry["ts"]))
            by_file.setdefault((entry["decision"], path.name), []).append(entry)
        for (decision, name), batch in by_file.items():
            self._writer(decision).append(batch, name)

    def close(self) -> None:
        """Write a ``stop`` checkpoint to every decision log this appender wrote to.

        Raises:
            OSError: a log cannot be written.
        """
        for writer in list(self._writers.values()):
            writer.checkpoint("stop")
            writer.close()
