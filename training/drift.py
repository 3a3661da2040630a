"""Drift that means drift: when should production traffic send a decision back to training?

Two kinds of evidence, each against what the deployed bundle showed on its own evaluation split at
release (the manifest's ``drift_baseline``, written by :mod:`edge_export.release`):

* **Disagreement drift** — edge-vs-central disagreement on the *uniform shadow sample* only (log
  lines with ``shadow: true``: edge-decided records chosen by their digest, see
  :func:`serving.router.shadow_selected`). Records the router sent to central are left out: they
  were chosen for low edge confidence, so they disagree more by construction. The baseline is the
  same population at release — eval examples the edge would have kept (confidence ≥ the abstain
  threshold). The increase must be significant under a one-sided Fisher exact test (Fisher 1935;
  H0: production rate ≤ release rate) at ``ALPHA`` = 0.01, with at least ``MIN_SHADOW`` compared
  shadow decisions. Fisher's test treats both rates as samples, so a small eval split with few
  disagreements cannot make every later disagreement look significant.
* **Input drift** — population stability index of each input-profile feature
  (:mod:`serving.input_profile`: word count, out-of-vocabulary share, log level and change of
  numeric windows) over every logged decision against the eval split's binned distribution. PSI =
  Σ (a − e)·ln(a / e) over bins with actual share a and expected share e; the usual reading
  (Siddiqi 2006, *Credit Risk Scorecards*; Yurdakul 2018) is < 0.1 stable, 0.1–0.25 moderate
  shift, > 0.25 major shift, so ``PSI_THRESHOLD`` = 0.25 with at least ``MIN_INPUTS`` decisions
  (≥ 20 per decile bin).

Both tests read production traffic only (:func:`training.divergence.is_production`): lines a pod
logged as ``traffic: replay`` (an evaluation split replayed through it, :mod:`commons.traffic`)
match the release baseline by construction and would dilute the test; they are counted apart
(:attr:`DriftReport.replay`).

A request opens a cooldown (``COOLDOWN``); a retrain whose challenger the promotion gate refused
(:mod:`training.gates`: it could not beat the champion on the same split) is recorded in the
ledger, doubles the cooldown (up to ``MAX_COOLDOWN``) and moves the evidence window past the
refusal, so the same traffic cannot request the same retrain twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable

import numpy as np
from scipy.stats import fisher_exact

from .divergence import is_production

ALPHA = 0.01
MIN_SHADOW = 100
PSI_THRESHOLD = 0.25
MIN_INPUTS = 200
COOLDOWN = timedelta(hours=6)
# Doubling stops after 8 refusals: a longer wait only silences the sensor, and the sensor refuses
# a (hand-set) cursor beyond it, whose time arithmetic would otherwise overflow.
MAX_COOLDOWN = timedelta(days=64)
BINS = 10
# Empty bins would make ln(a / e) infinite; 1e-4 is the customary floor for PSI shares.
_SHARE_FLOOR = 1e-4


def reference_bins(values: Iterable[float], bins: int = BINS) -> dict[str, list[float]]:
    """A feature's reference distribution as quantile bins.

    Args:
        values: the feature on the reference sample (floats; at least one).
        bins: target number of equal-frequency bins; ties (e.g. many zero OOV shares) merge bins.

    Returns:
        ``{"edges": interior bin edges (ascending, unique), "shares": share of the sample per bin}``;
        bin i holds values v with edges[i-1] < v ≤ edges[i] (``len(shares) == len(edges) + 1``).

    Raises:
        ValueError: ``values`` is empty.
    """
    array = np.asarray(list(values), dtype=np.float64)
    if array.size == 0:
        raise ValueError("reference_bins needs at least one value")
    edges = np.unique(np.quantile(array, np.linspace(0, 1, bins + 1)[1:-1]))
    return {"edges": [float(e) for e in edges], "shares": _shares(array, edges).tolist()}


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    return counts / max(values.size, 1)


def psi(reference: dict[str, list[float]], values: Iterable[float]) -> float:
    """Population stability index of ``values`` against ``reference`` (from :func:`reference_bins`).

    Returns:
        PSI ≥ 0 (dimensionless); 0 for identical binned distributions.

    Raises:
        ValueError: ``values`` is empty.
    """
    array = np.asarray(list(values), dtype=np.float64)
    if array.size == 0:
        raise ValueError("psi needs at least one value")
    expected = np.maximum(np.asarray(reference["shares"], dtype=np.float64), _SHARE_FLOOR)
    actual = np.maximum(_shares(array, np.asarray(reference["edges"], dtype=np.float64)), _SHARE_FLOOR)
    return float(((actual - expected) * np.log(actual / expected)).sum())


def disagreement_baseline(edge_labels: np.ndarray, central_labels: np.ndarray, edge_confidence: np.ndarray,
                          abstain: float) -> dict[str, Any]:
    """Release-time disagreement on the population shadow sampling draws from.

    Args:
        edge_labels, central_labels: int [n] predicted label indices on the eval split.
        edge_confidence: float [n] the edge's max calibrated probability per example.
        abstain: the bundle's abstain threshold; shadow sampling only sees confidence ≥ it.

    Returns:
        ``{"disagreement", "disagreements", "n"}`` over the kept examples, plus
        ``"disagreement_all"`` and ``"n_all"`` over the whole split (for reports).
    """
    kept = edge_confidence >= abstain
    differ = np.asarray(edge_labels) != np.asarray(central_labels)
    n = int(kept.sum())
    return {"disagreement": float(differ[kept].mean()) if n else 0.0, "disagreements": int(differ[kept].sum()),
            "n": n, "disagreement_all": float(differ.mean()) if differ.size else 0.0, "n_all": int(differ.size)}


def shadow_pairs(rows: Iterable[dict], bundle_sha256: str) -> list[tuple[str, str]]:
    """(edge label, central label) of the shadow-sampled log lines of one edge bundle that central answered."""
    return [(r["edge_label"], r["central_label"]) for r in rows
            if r.get("shadow") and r.get("central_label") is not None and r.get("edge_bundle_sha256") == bundle_sha256]


def disagreement_test(disagreements: int, n: int, base_disagreements: int, base_n: int) -> float:
    """One-sided Fisher exact p-value that the production disagreement rate exceeds the release rate.

    Args:
        disagreements, n: shadow disagreements and compared shadow decisions in production.
        base_disagreements, base_n: the same at release (manifest ``drift_baseline``).

    Returns:
        p in (0, 1]; 1.0 when either sample is empty.
    """
    if n == 0 or base_n == 0:
        return 1.0
    table = [[disagreements, n - disagreements], [base_disagreements, base_n - base_disagreements]]
    return float(fisher_exact(table, alternative="greater").pvalue)


@dataclass(frozen=True)
class DriftReport:
    """The evidence for one decision over one window of its decision log.

    Attributes:
        decisions: production log lines of the deployed edge bundle in the window.
        shadow_compared, shadow_disagreements: the shadow sample's size and disagreements.
        shadow_rate: disagreement rate on it (0 when empty).
        baseline_rate, baseline_n: the release baseline's rate and sample size.
        p_value: one-sided Fisher exact p (1.0 below ``MIN_SHADOW``: not tested).
        psi: PSI per input-profile feature (empty below ``MIN_INPUTS``: not tested).
        reasons: why a retrain is due; empty when it is not.
        replay: the window's replayed lines of the bundle, tested by nothing: ``{"decisions",
            "shadow_compared", "shadow_disagreements"}``.
    """

    decisions: int
    shadow_compared: int
    shadow_disagreements: int
    shadow_rate: float
    baseline_rate: float
    baseline_n: int
    p_value: float
    psi: dict[str, float] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    replay: dict[str, int] = field(default_factory=dict)

    @property
    def drifted(self) -> bool:
        return bool(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reasons": list(self.reasons), "drifted": self.drifted}


def assess(rows: list[dict], baseline: dict[str, Any], bundle_sha256: str) -> DriftReport:
    """Test one window of decision-log lines against a bundle's release baseline.

    Args:
        rows: decision-log lines (:mod:`serving.decision_log`); lines of other edge bundles are ignored,
            and replayed ones (``traffic: replay``) only counted.
        baseline: the manifest's ``drift_baseline`` (``disagreement``, ``disagreements``, ``n``,
            ``reference`` = {feature: :func:`reference_bins`}).
        bundle_sha256: the deployed edge bundle whose traffic is assessed.

    Returns:
        A :class:`DriftReport`; ``reasons`` names each significant disagreement increase (p < ``ALPHA``
        with ≥ ``MIN_SHADOW`` compared) and each feature with PSI > ``PSI_THRESHOLD`` (≥ ``MIN_INPUTS``).
    """
    bundle = [r for r in rows if r.get("edge_bundle_sha256") == bundle_sha256]
    own = [r for r in bundle if is_production(r)]
    replayed = [r for r in bundle if not is_production(r)]
    replay_pairs = shadow_pairs(replayed, bundle_sha256)
    pairs = shadow_pairs(own, bundle_sha256)
    differ = sum(1 for e, c in pairs if e != c)
    tested = len(pairs) >= MIN_SHADOW
    p = disagreement_test(differ, len(pairs), baseline["disagreements"], baseline["n"]) if tested else 1.0
    reasons = []
    rate = differ / len(pairs) if pairs else 0.0
    if tested and p < ALPHA:
        reasons.append(f"shadow disagreement {rate:.3f} over {len(pairs)} vs {baseline['disagreement']:.3f} over "
                       f"{baseline['n']} at release (one-sided Fisher p = {p:.2g} < {ALPHA})")
    profiles = [r["inputs"] for r in own if r.get("inputs")]
    scores = {}
    if len(profiles) >= MIN_INPUTS:
        for feature, reference in baseline.get("reference", {}).items():
            scores[feature] = round(psi(reference, [p_[feature] for p_ in profiles]), 4)
            if scores[feature] > PSI_THRESHOLD:
                reasons.append(f"input drift: PSI of {feature} {scores[feature]:.3f} > {PSI_THRESHOLD} "
                               f"over {len(profiles)} decisions")
    return DriftReport(decisions=len(own), shadow_compared=len(pairs), shadow_disagreements=differ, shadow_rate=rate,
                       baseline_rate=float(baseline["disagreement"]), baseline_n=int(baseline["n"]), p_value=p,
                       psi=scores, reasons=tuple(reasons),
                       replay={"decisions": len(replayed), "shadow_compared": len(replay_pairs),
                               "shadow_disagreements": sum(1 for e, c in replay_pairs if e != c)})


@dataclass(frozen=True)
class Verdict:
    """What the sensor does for one decision this tick, and its new ledger entry.

    Attributes:
        request: request a retrain now.
        note: one line for the sensor's log / skip reason.
        ledger: the decision's new ledger entry (JSON-ready): ``since`` (log lines after this ISO
            timestamp are evidence), ``bundle_sha256`` (the bundle the window belongs to),
            ``requested_at``, ``cooldown_s``, ``refused`` (list of refused retrains: time, reason).
    """

    request: bool
    note: str
    ledger: dict[str, Any]


def decide(entry: dict[str, Any] | None, bundle_sha256: str, report: DriftReport, now: datetime,
           newest_ts: str | None, outcome: dict[str, Any] | None) -> Verdict:
    """Turn a drift report into a request or a wait, keeping the ledger that stops loops.

    Args:
        entry: this decision's ledger entry from the previous tick, None at first.
        bundle_sha256: the currently deployed edge bundle.
        report: :func:`assess` of the log lines after ``entry["since"]``.
        now: the tick's time (UTC, aware).
        newest_ts: the newest log line's ``ts`` in the window, None when it is empty.
        outcome: the latest publication of this decision (model store ``registry``: ``promoted``,
            ``reason``, ``published_at`` ISO UTC), None when never published.

    Returns:
        A :class:`Verdict`. A new deployed bundle resets the ledger (new baseline, fresh window,
        base cooldown). A publication after the last request that was not promoted is recorded
        as refused, doubles the cooldown (up to ``MAX_COOLDOWN``) and restarts the window at its time.
    """
    entry = dict(entry or {})
    if entry.get("bundle_sha256") != bundle_sha256:
        entry = {"bundle_sha256": bundle_sha256, "since": None, "requested_at": None,
                 "cooldown_s": COOLDOWN.total_seconds(), "refused": entry.get("refused", [])}
    requested = entry.get("requested_at")
    if requested and outcome and outcome.get("published_at", "") > requested and not outcome.get("promoted"):
        entry["refused"] = [*entry["refused"], {"at": outcome["published_at"], "reason": outcome.get("reason", "")}]
        cooldown_s = min(2 * entry["cooldown_s"], MAX_COOLDOWN.total_seconds())
        entry.update(since=outcome["published_at"], requested_at=None, cooldown_s=cooldown_s,
                     cooled_until=(now + timedelta(seconds=cooldown_s)).isoformat())
        return Verdict(False, f"retrain refused by the gate ({outcome.get('reason', '')}); "
                              f"evidence restarts, cooldown {cooldown_s / 3600:.0f} h", entry)
    cooled_until = entry.get("cooled_until")
    if cooled_until and now.isoformat() < cooled_until:
        return Verdict(False, f"cooling down until {cooled_until}", entry)
    if not report.drifted:
        return Verdict(False, f"no drift over {report.decisions} decisions "
                              f"({report.shadow_compared} shadow compared, p = {report.p_value:.2g})", entry)
    entry.update(requested_at=now.isoformat(), since=newest_ts,
                 cooled_until=(now + timedelta(seconds=entry["cooldown_s"])).isoformat())
    return Verdict(True, "; ".join(report.reasons), entry)
