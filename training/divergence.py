"""Edge-vs-central divergence from the pods' decision logs.

Every decision where the central model was consulted (low-confidence routing or shadow sampling)
carries both the edge and the central label. Only the shadow sample (``shadow: true``, a uniform
digest-chosen share of edge-decided records) measures how often the two disagree on ordinary
traffic; routed decisions were chosen for low edge confidence and are reported apart. Two figures
describe drift of the edge model away from the central one:

* disagreement rate — share of those decisions where the labels differ;
* Jensen–Shannon divergence (base 2, in [0, 1]) between the edge and central label distributions
  (Lin 1991, "Divergence measures based on the Shannon entropy").

Routed decisions are also reported by ``route_reason`` (``serving.route_reason``): one the
out-of-range guard sent to central was not chosen for low confidence, unlike one the edge
abstained on. Lines logged before the field existed count as :data:`UNRECORDED`.

Every figure counts production traffic only (:func:`is_production`): a line of ``traffic: replay``
(:mod:`commons.traffic`: an evaluation split replayed through the pod) is no evidence about live
traffic, and is reported apart. Lines logged before lines carried ``traffic`` read as production
(their :func:`traffic_of` is :data:`UNRECORDED`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from commons.chain_checkpoint import is_checkpoint
from commons.chain_writer import read_lines
from commons.hash_chain import record_of
from commons.traffic import REPLAY

UNRECORDED = "unrecorded"
"""The route reason (or traffic class) of a decision-log line written before lines carried
``route_reason`` (or ``traffic``)."""


@dataclass(frozen=True)
class Divergence:
    """Summary over compared decisions (both labels known)."""

    decisions: int
    compared: int
    disagreements: int
    disagreement_rate: float
    js_divergence: float

    def to_dict(self) -> dict:
        return asdict(self)


def read_decisions(log_dir: Path, decision: str, since_ts: str | None = None) -> list[dict]:
    """Decision-log rows of one decision (``<log_dir>/<decision>/*.jsonl``), newer than ``since_ts``
    (ISO-8601 UTC, compared as strings, which is exact for one fixed format).

    The log is hash-chained (:mod:`serving.decision_log`): checkpoint lines are skipped and the
    chain members (``seq``, ``prev``, ``hash``) dropped, so a row is the decision as logged. A line
    being written (no newline yet) is left for the next read; a torn line a crash left is skipped
    with a warning (:func:`commons.chain_writer.read_lines`), the lines around it still read.

    Raises:
        OSError: a file of the log cannot be read."""
    rows = []
    for path in sorted((log_dir / decision).glob("*.jsonl")):
        for row in read_lines(path):
            if is_checkpoint(row):
                continue
            if since_ts is None or row.get("ts", "") > since_ts:
                rows.append(record_of(row))
    return rows


def traffic_of(row: dict) -> str:
    """A decision-log row's ``traffic`` (``production``, ``replay``), or :data:`UNRECORDED` for a line
    logged before the field."""
    return row.get("traffic") or UNRECORDED


def is_production(row: dict) -> bool:
    """Whether a decision-log row counts as production traffic: every line but those marked
    ``replay`` (a line from before the field was production traffic as far as anyone knew)."""
    return traffic_of(row) != REPLAY


def route_reason_of(row: dict) -> str:
    """A decision-log row's ``route_reason``, or :data:`UNRECORDED` for a line logged before the field."""
    return row.get("route_reason") or UNRECORDED


def reason_counts(rows: Iterable[dict]) -> dict[str, dict[str, int]]:
    """Decision-log rows counted by route, then by route reason (:func:`route_reason_of`), both sorted:
    ``{"central": {"abstain": 3, "out_of_range": 1}, "edge": {"confident": 9}}``."""
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        by_reason = counts.setdefault(str(row.get("route")), {})
        reason = route_reason_of(row)
        by_reason[reason] = by_reason.get(reason, 0) + 1
    return {route: dict(sorted(counts[route].items())) for route in sorted(counts)}


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon divergence in bits between two discrete distributions (any scale)."""
    p = p / p.sum() if p.sum() else p
    q = q / q.sum() if q.sum() else q
    m = 0.5 * (p + q)

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        mask = a > 0
        return float((a[mask] * np.log2(a[mask] / b[mask])).sum())

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def divergence(rows: Iterable[dict]) -> Divergence:
    """Disagreement rate and JS divergence over rows that carry both edge and central labels."""
    rows = list(rows)
    pairs = [(r["edge_label"], r["central_label"]) for r in rows if r.get("central_label") is not None]
    labels = sorted({label for pair in pairs for label in pair})
    edge = np.array([sum(1 for e, _ in pairs if e == lab) for lab in labels], dtype=float)
    central = np.array([sum(1 for _, c in pairs if c == lab) for lab in labels], dtype=float)
    disagreements = sum(1 for e, c in pairs if e != c)
    return Divergence(decisions=len(rows), compared=len(pairs), disagreements=disagreements,
                      disagreement_rate=disagreements / len(pairs) if pairs else 0.0,
                      js_divergence=js_divergence(edge, central) if pairs else 0.0)


def divergence_reports(log_dir: Path, decisions: list[str]) -> dict[str, dict]:
    """Per decision, as plain dicts, over its whole log's production traffic (:func:`is_production`):
    :func:`divergence` of the shadow sample (key ``shadow``, the unbiased measure), of the routed
    decisions (key ``routed``, biased towards disagreement) and of those apart per route reason (key
    ``routed_by_reason``, e.g. ``abstain``, ``out_of_range``, ``unrecorded``), and the lines by route
    and reason (key ``routes``, :func:`reason_counts`); the replayed traffic apart (key ``replay``:
    ``{"decisions": n, "shadow": divergence of its shadow sample}``)."""
    reports = {}
    for name in decisions:
        logged = read_decisions(log_dir, name)
        rows = [r for r in logged if is_production(r)]
        replayed = [r for r in logged if not is_production(r)]
        routed = [r for r in rows if r.get("route") == "central"]
        reasons = sorted({route_reason_of(r) for r in routed})
        reports[name] = {"shadow": divergence(r for r in rows if r.get("shadow")).to_dict(),
                         "routed": divergence(routed).to_dict(),
                         "routed_by_reason": {reason: divergence(r for r in routed if route_reason_of(r) == reason)
                                              .to_dict() for reason in reasons},
                         "routes": reason_counts(rows),
                         "replay": {"decisions": len(replayed),
                                    "shadow": divergence(r for r in replayed if r.get("shadow")).to_dict()}}
    return reports
