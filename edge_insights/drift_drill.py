"""The drift drill: replay traffic through real pods and count decisions until the drift rule fires.

For one decision the deployed champion (edge pod) and its central pod start on loopback with
shadow sampling; each phase of traffic (e.g. in-distribution, then shifted) goes to a fresh (emptied)
decision log under ``<state>/drift_drill/<decision>/<phase>/edge/`` (the central pod's own
lines go to ``…/central/``) in batches, and after every batch
the log is assessed exactly as :mod:`orchestration.sensors` does (:func:`training.drift.assess`
against the bundle's manifest ``drift_baseline``, :func:`training.drift.decide` on an empty ledger).
A phase's outcome is the number of decisions after which a retrain would have been requested, or
None when none would.

:func:`review_phases` builds negative_review traffic from the real review files: records past the
first ``skip`` of every file, interleaved (the mix of sources the model was trained on) as the
in-distribution phase, and one shop's feed alone — Datafiniti's Amazon device reviews, long and
mostly five-star, where the label-balanced training data is mostly short sentences — as the
shifted phase.
"""

from __future__ import annotations

import json
import shutil
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from itertools import zip_longest
from pathlib import Path
from typing import Any

import httpx

from commons.settings import Settings
from commons.token_client import BearerAuth
from crawlers.feeds import read_feed_file
from edge_insights.pods import TokenPlane, running_pod, running_token_plane
from training.divergence import read_decisions
from training.drift import assess, decide

REVIEW_FILES = ("datafiniti_amazon_reviews.csv", "amazon_alexa_reviews.tsv",
                "uci_sentiment_sentences/amazon_cells_labelled.txt", "uci_sentiment_sentences/yelp_labelled.txt",
                "uci_sentiment_sentences/imdb_labelled.txt")
SHIFTED_FILES = ("datafiniti_amazon_reviews.csv",)
DRILL_DECISION = "negative_review"
"""The decision the demo drills (its phases come from :func:`review_phases`)."""


def _texts(data_dir: Path, name: str, skip: int, count: int) -> list[str]:
    load = read_feed_file(data_dir / "reviews" / name, "drift-drill", max_rows=skip + count)
    return [text for record in load.records[skip:] for text in record["review_text"]][:count]


def _interleave(files: tuple[str, ...], data_dir: Path, skip: int, per_file: int) -> list[dict[str, str]]:
    columns = [_texts(data_dir, name, skip, per_file) for name in files]
    return [{"review_text": text} for row in zip_longest(*columns) for text in row if text]


def review_phases(data_dir: Path, *, skip: int = 150, per_file: int = 120) -> dict[str, list[dict[str, str]]]:
    """negative_review traffic: ``{"in_distribution": records, "shifted": records}``.

    Args:
        data_dir: folder laid out like ``shared/data`` (reads ``reviews/``).
        skip: records left out at the head of every file (a run that loaded only its first rows
            never saw the rest).
        per_file: records taken per file for the in-distribution phase; the shifted phase takes
            as many in total from :data:`SHIFTED_FILES`.

    Returns:
        Records a negative_review pod accepts (``{"review_text": str}``), sources interleaved.
    """
    shifted_per_file = per_file * len(REVIEW_FILES) // len(SHIFTED_FILES)
    return {"in_distribution": _interleave(REVIEW_FILES, data_dir, skip, per_file),
            "shifted": _interleave(SHIFTED_FILES, data_dir, skip, shifted_per_file)}


def wait_for_lines(log_dir: Path, decision: str, expected: int, timeout_s: float = 30.0) -> list[dict]:
    """The log's lines once all ``expected`` are written (shadow lines land after the response)."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = read_decisions(log_dir, decision)
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def replay_phase(edge_url: str, decision: str, records: list[dict[str, Any]], log_dir: Path,
                 manifest: dict[str, Any], batch_size: int, auth: httpx.Auth | None = None) -> dict[str, Any]:
    """Send ``records`` to the edge pod in batches (authenticated with ``auth``) and assess the log
    after each batch.

    Returns:
        ``{"records": given, "decisions": logged and assessed, "request_after": decisions at the
        first request or None, "report": the drift report at that point (or at the end),
        "checks": [{"decisions", "shadow_compared", "shadow_rate", "p_value", "psi", "drifted"}]
        per batch}``.
    """
    sha, baseline = manifest["bundle_sha256"], manifest["drift_baseline"]
    checks, report, request_after = [], None, None
    with httpx.Client(base_url=edge_url, timeout=30.0, auth=auth) as client:
        for start in range(0, len(records), batch_size):
            batch = records[start:start + batch_size]
            client.post(f"/v1/decisions/{decision}", json={"records": batch}).raise_for_status()
            rows = wait_for_lines(log_dir, decision, start + len(batch))
            report = assess(rows, baseline, sha)
            checks.append({"decisions": report.decisions, "shadow_compared": report.shadow_compared,
                           "shadow_rate": report.shadow_rate, "p_value": report.p_value, "psi": report.psi,
                           "drifted": report.drifted})
            verdict = decide(None, sha, report, datetime.now(timezone.utc), rows[-1]["ts"] if rows else None, None)
            if verdict.request:
                request_after = report.decisions
                break
    return {"records": len(records), "decisions": checks[-1]["decisions"] if checks else 0,
            "request_after": request_after,
            "report": report.to_dict() if report else None, "checks": checks}


def drift_drill(settings: Settings, decision: str, phases: dict[str, list[dict[str, Any]]], *,
                shadow_rate: float = 0.5, batch_size: int = 20, tokens: TokenPlane | None = None) -> dict[str, Any]:
    """Run every phase of traffic through the deployed champion and its central pod.

    Args:
        settings: the state folder with ``deploy/<decision>/champion`` and ``central``.
        decision: decision name.
        phases: phase name → records the pod accepts, replayed in order, each into a fresh log.
        shadow_rate: share of edge-decided records central also scores (the drift evidence).
        batch_size: records per request; the rule is checked after every request.
        tokens: the running token endpoint the drill's client and the edge pod get their tokens from
            (None: one is started for the drill).

    Returns:
        ``{"decision", "bundle_sha256", "baseline": the manifest's baseline without its bins,
        "shadow_rate", "phases": {name: replay_phase(...)}}``; also written to
        ``<state>/drift_drill/<decision>/drill.json``.
    """
    deploy = settings.deploy_dir / decision
    manifest = json.loads((deploy / "champion" / "manifest.json").read_text())
    root = settings.state_dir / "drift_drill" / decision
    outcome = {"decision": decision, "bundle_sha256": manifest["bundle_sha256"], "shadow_rate": shadow_rate,
               "baseline": {k: v for k, v in manifest["drift_baseline"].items() if k != "reference"}, "phases": {}}
    with ExitStack() as stack:
        plane = tokens or stack.enter_context(running_token_plane(settings))
        auth = BearerAuth(plane.client(f"drift-drill-{decision}", [decision]), decision)
        for phase, records in phases.items():
            # A fresh log per phase: lines of an earlier drill would count as evidence.
            shutil.rmtree(root / phase, ignore_errors=True)
            log_dir = root / phase / "edge"
            with running_pod(deploy / "central", settings, decision_log_dir=root / phase / "central",
                             tokens=plane) as central_url, \
                    running_pod(deploy / "champion", settings, central_url=central_url, shadow_rate=shadow_rate,
                                decision_log_dir=log_dir, tokens=plane) as edge_url:
                outcome["phases"][phase] = replay_phase(edge_url, decision, records, log_dir, manifest, batch_size,
                                                        auth)
    (root / "drill.json").write_text(json.dumps(outcome, indent=2))
    return outcome
