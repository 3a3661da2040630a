"""The demo: load history, run the whole Dagster job on real input, serve every decision over HTTP.

Steps, all in the Dagster instance under the state folder (``make ui`` shows the runs, lineage
and checks): (1) ``price_history_backfill`` loads the real price histories as daily partitions;
(2) ``market_replay`` crawls the first replay ticks (simulated days); (3) ``edge_insights_job``
harvests the current window and trains, exports, registers and deploys every decision; (4) per
decision, a central pod (its oracle: teacher or label rule) and an edge pod (champion student)
start on loopback with tokens required, the held-out examples go to the edge pod with the demo's own
token as replay traffic (:mod:`commons.traffic`: logged, kept out of the drift test), and bad
credentials are probed (:mod:`edge_insights.security_summary`); (5) ``feedback_job`` measures
edge-vs-central divergence from the decision logs; (6) the drift drill replays in-distribution,
then shifted reviews through negative_review's pods and notes when a retrain would be requested;
(7) the live loop runs for a minute: the accelerated market replay, the watcher revisiting its
pages, the champion pods deciding each change, insights read off the SSE feed; (8) ``retention_job`` applies the privacy policy (nothing the demo trains on is past it); (9) a
summary, with the privacy report's totals, the retention result and the security summary (tokens
issued, requests refused by reason, ``audit verify``), is printed and written to
``<state>/demo_summary.json``. Every client gets its tokens from one token endpoint
(:func:`edge_insights.pods.running_token_plane`) started for steps 4-7.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from commons.errors import OrchestrationError
from commons.settings import Settings
from commons.token_client import BearerAuth
from commons.tokens import SCOPE_DECIDE, SCOPE_REPLAY
from commons.traffic import PRODUCTION, REPLAY, TRAFFIC_HEADER
from edge_insights.pods import TokenPlane, running_pod, running_token_plane
from edge_insights.security_summary import probe_pod, refusals


@dataclass
class JobOutcome:
    """What a Dagster run reported: success, per-asset metadata, check results, failures."""

    run_id: str
    success: bool
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @classmethod
    def from_events(cls, run_id: str, success: bool, events: list) -> "JobOutcome":
        """Gather a run's materialisation metadata, check results and failures from its events."""
        outcome = cls(run_id=run_id, success=success)
        for event in events:
            if event.event_type_value == "ASSET_MATERIALIZATION":
                mat = event.event_specific_data.materialization
                outcome.assets[mat.asset_key.to_user_string()] = {k: _metadata_value(v)
                                                                  for k, v in mat.metadata.items()}
            elif event.event_type_value == "ASSET_CHECK_EVALUATION":
                outcome.checks[event.event_specific_data.check_name] = event.event_specific_data.passed
            elif event.is_failure:
                outcome.failures.append(f"{event.step_key}: {event.message}")
        return outcome


def _metadata_value(value: Any) -> Any:
    return getattr(value, "value", getattr(value, "data", value))


def run_job(job_name: str, settings: Settings, *, on_event=None, partition_key: str | None = None,
            partition_range: tuple[str, str] | None = None, op_selection: str | None = None,
            tags: dict[str, str] | None = None) -> JobOutcome:
    """Launch a job of the code location the Dagster UI loads (``orchestration.definitions``)
    through the instance at ``settings.dagster_home`` and wait for it, so its run page, job page
    and the Overview timeline show it like a run launched from the UI.

    The launch (``dagster job launch``) runs in a child process with ``settings`` as its
    environment; its log goes to ``<state>/logs/<job>-<run>.log``. ``on_event(event)`` is called
    for each new Dagster event of the run (progress display). ``op_selection``: the steps to run
    (Dagster's op selection syntax, e.g. one decision's chain of ``retrain_job``); None: every step.
    ``tags``: run tags besides the partition's (e.g. what requested a retrain).

    Raises:
        OrchestrationError: the launch failed before the run existed (the message holds the log's tail).
    """
    import dagster as dg

    run_id = str(uuid.uuid4())
    tags = dict(tags or {})
    if partition_range:
        # One run for the range (the assets' single-run backfill policy).
        tags |= {"dagster/asset_partition_range_start": partition_range[0],
                 "dagster/asset_partition_range_end": partition_range[1]}
    elif partition_key:
        tags["dagster/partition"] = partition_key
    log_path = settings.logs_dir / f"{job_name}-{run_id[:8]}.log"
    command = [str(Path(sys.executable).parent / "dagster"), "job", "launch", "-m", "orchestration.definitions",
               "-j", job_name, "--run-id", run_id, "--tags", json.dumps(tags)]
    if op_selection:
        command += ["-o", op_selection]
    with open(log_path, "wb") as log, dg.DagsterInstance.get() as instance:
        # The launcher returns once the run is handed to its worker process; the run goes on there.
        launcher = subprocess.Popen(command, env={**os.environ, **settings.environment()}, stdout=log,
                                    stderr=subprocess.STDOUT)
        seen = 0
        while True:
            launched = launcher.poll() is not None
            run = instance.get_run_by_id(run_id)
            events = instance.all_logs(run_id)
            for event in events[seen:]:
                if on_event and event.dagster_event is not None:
                    on_event(event.dagster_event)
            seen = len(events)
            if launched and (run is None or run.is_finished):
                break
            time.sleep(0.5)
        if run is None:
            raise OrchestrationError(f"{job_name} was not launched (exit {launcher.returncode}):\n"
                                     f"{log_path.read_text(errors='replace')[-3000:]}")
        return JobOutcome.from_events(run_id, run.status == dg.DagsterRunStatus.SUCCESS,
                                      [e.dagster_event for e in instance.all_logs(run_id) if e.dagster_event])


def held_out_records(settings: Settings, decision: str) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Pod request records and labels of a decision's evaluation split (products never trained on)."""
    from commons.warehouse import Warehouse
    from training.decisions import DECISIONS

    spec = DECISIONS[decision]
    frame = Warehouse(settings.warehouse_path).features(decision, "eval")
    records = []
    for text, window in zip(frame["text"], frame["numbers"]):
        record = {spec.text_field: text}
        if spec.window_field is not None:
            record[spec.window_field] = [float(v) for v in window]
        records.append(record)
    return records, frame["label"].to_numpy()


def send_records(base_url: str, decision: str, records: list[dict], batch_size: int = 16,
                 auth: httpx.Auth | None = None, traffic: str = PRODUCTION) -> tuple[list[dict], list[float]]:
    """POST records to a pod in batches (authenticated with ``auth``, as ``traffic``:
    :mod:`commons.traffic`; ``replay`` needs a token with scope ``replay``); returns the decisions and
    each request's wall time (ms)."""
    decisions, request_ms = [], []
    with httpx.Client(base_url=base_url, timeout=30.0, auth=auth, headers={TRAFFIC_HEADER: traffic}) as client:
        for start in range(0, len(records), batch_size):
            began = time.perf_counter()
            response = client.post(f"/v1/decisions/{decision}", json={"records": records[start:start + batch_size]})
            request_ms.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
            decisions += response.json()["decisions"]
    return decisions, request_ms


def single_decision_latency(base_url: str, decision: str, records: list[dict], n: int = 200,
                            auth: httpx.Auth | None = None, traffic: str = PRODUCTION) -> list[float]:
    """Wall time (ms) of ``n`` one-record requests, as a client on loopback sees it (token included),
    sent as ``traffic`` (see :func:`send_records`)."""
    samples = []
    with httpx.Client(base_url=base_url, timeout=30.0, auth=auth, headers={TRAFFIC_HEADER: traffic}) as client:
        for record in (records * (n // max(len(records), 1) + 1))[:n]:
            began = time.perf_counter()
            client.post(f"/v1/decisions/{decision}", json={"records": [record]}).raise_for_status()
            samples.append((time.perf_counter() - began) * 1000)
    return samples


def serve_and_decide(settings: Settings, decision: str, shadow_rate: float,
                     tokens: TokenPlane | None = None) -> dict[str, Any]:
    """Start a decision's central and edge pods (tokens required), send its held-out records with the
    demo's own token, measure, probe bad credentials, read what the pods refused, stop the pods.

    The held-out records and the latency probe go as ``replay`` traffic (the demo's client holds scope
    ``replay``, :mod:`commons.traffic`): an eval split agrees with central as it did at release by
    construction, so its lines are kept out of the drift test and the production figures.

    ``tokens``: the running token endpoint (None: one is started for these pods).
    """
    from training.decisions import DECISIONS
    from training.metrics import prf

    records, labels = held_out_records(settings, decision)
    alert = DECISIONS[decision].labels[1]
    deploy = settings.deploy_dir / decision
    with ExitStack() as stack:
        plane = tokens or stack.enter_context(running_token_plane(settings))
        auth = BearerAuth(plane.client(f"demo-{decision}", [decision], scope=f"{SCOPE_DECIDE} {SCOPE_REPLAY}",
                                       scopes=(SCOPE_DECIDE, SCOPE_REPLAY)), decision)
        scraper = BearerAuth(plane.client(f"demo-metrics-{decision}", [decision], scope="metrics",
                                          scopes=("metrics",)), decision)
        central_url = stack.enter_context(running_pod(deploy / "central", settings, tokens=plane))
        edge_url = stack.enter_context(running_pod(deploy / "champion", settings, central_url=central_url,
                                                   shadow_rate=shadow_rate, tokens=plane))
        decisions, request_ms = send_records(edge_url, decision, records, auth=auth, traffic=REPLAY)
        single_ms = single_decision_latency(edge_url, decision, records, auth=auth, traffic=REPLAY)
        health = httpx.get(f"{edge_url}/healthz").json()
        probes = probe_pod(edge_url, decision, records[0], settings.tokens_dir) if records else {}
        refused = {"edge": refusals(edge_url, scraper), "central": refusals(central_url, scraper)}
    predicted = np.array([int(d["label"] == alert) for d in decisions])
    latencies = [d["latency_ms"] for d in decisions]
    return {
        "decisions": len(decisions),
        "routes": {route: sum(1 for d in decisions if d["route"] == route) for route in ("edge", "central", "fallback")},
        "pod": health, "served_metrics": prf(labels, predicted),
        "server_latency_ms": {"p50": float(np.percentile(latencies, 50)), "p99": float(np.percentile(latencies, 99))},
        "single_request_ms": {"p50": float(np.percentile(single_ms, 50)), "p99": float(np.percentile(single_ms, 99)),
                              "n": len(single_ms)},
        "batch16_request_ms": {"p50": float(np.percentile(request_ms, 50)), "p99": float(np.percentile(request_ms, 99))},
        "example": decisions[0] if decisions else None,
        "security": {"probes": probes, "refused": refused},
    }


def privacy_summary(settings: Settings, retention: JobOutcome | None) -> dict[str, Any]:
    """The privacy report's totals (rows, files, decision-log lines, the oldest row and its end by
    policy) and what the retention run removed and whether its check passed."""
    from commons.privacy_policy import load_policy
    from commons.privacy_report import holdings
    from commons.retention import StoreFolders
    from commons.warehouse import Warehouse

    rows = holdings(load_policy(), Warehouse(settings.warehouse_path), StoreFolders.of(settings))
    held = [r for r in rows if r.oldest]
    oldest = min(held, key=lambda r: r.oldest) if held else None
    result = (retention.assets.get("retention", {}) if retention else {})
    return {
        "table_rows": sum(r.count for r in rows if r.kind == "table"),
        "files": sum(r.count for r in rows if r.kind == "files"),
        "decision_log": {"files": sum(r.count for r in rows if r.kind == "chain"),
                         "lines": sum(r.lines or 0 for r in rows if r.kind == "chain")},
        "oldest": None if oldest is None else {"store": oldest.store, "at": oldest.oldest, "until": oldest.until,
                                               "retention": oldest.retention},
        "retention": {"removed": result.get("removed_total"), "aggregated": result.get("aggregated"),
                      "check_passed": retention.checks.get("no_rows_past_retention") if retention else None,
                      "seconds": result.get("seconds")},
    }


def drift_now(settings: Settings, decisions: list[str]) -> dict[str, dict[str, Any]]:
    """What ``drift_sensor``'s first tick would find if switched on now: per decision with a deployed
    champion, :func:`training.drift.assess` of its whole decision log (the live loop's production
    traffic tested, the serve step's replay counted apart) against that bundle's release baseline,
    as :meth:`training.drift.DriftReport.to_dict`
    (``drifted`` true: the sensor would request a retrain, for ``reasons``). A champion whose manifest
    the sensor would skip (:func:`training.deployed_baseline.deployed_baseline` refuses it) is
    ``{"skipped": why}``, and the other decisions are still assessed."""
    from training.deployed_baseline import deployed_baseline
    from training.divergence import read_decisions
    from training.drift import assess
    from training.registry import CHAMPION

    found: dict[str, dict[str, Any]] = {}
    for name in decisions:
        try:
            deployed = deployed_baseline(settings.deploy_dir / name / CHAMPION / "manifest.json")
        except ValueError as err:
            found[name] = {"skipped": str(err)}
            continue
        if deployed is not None:
            sha, baseline = deployed
            found[name] = assess(read_decisions(settings.decision_log_dir, name), baseline, sha).to_dict()
    return found


def summarise(settings: Settings, history: dict[str, JobOutcome], job: JobOutcome, served: dict[str, dict],
              feedback: JobOutcome, retention: JobOutcome | None = None,
              drill: dict[str, Any] | None = None, live: dict[str, Any] | None = None,
              security: dict[str, Any] | None = None, pii_scores: dict[str, Any] | None = None,
              drift: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The numbers a user wants after a demo, gathered from asset metadata and the pod runs (and,
    given the retention run, the privacy report's totals and that run's result; given the drift
    drill, :func:`edge_insights.drift_drill.drift_drill`, its outcome per phase; given the live loop,
    :func:`edge_insights.live_run.run_live_loop`'s table; given the security summary,
    :func:`edge_insights.security_summary.security_summary`, that; given the PII scorecard,
    :func:`edge_insights.pii_scorecard.pii_scorecard`, that; given :func:`drift_now`, that)."""
    from commons.warehouse import Warehouse

    wh = Warehouse(settings.warehouse_path)
    reasons = wh.quarantine_reasons([job.run_id])
    a = job.assets
    decisions = {}
    for name in (key.split("/")[0] for key in a if key.endswith("/registered_model")):
        def m(asset: str, name: str = name) -> dict[str, Any]:
            return a[f"{name}/{asset}"]

        decisions[name] = {
            "examples": {k: m("signal_features").get(k) for k in ("train", "train_alerts", "calibration", "eval",
                                                                    "eval_alerts", "eval_products")},
            "teacher": {k: m("teacher_model")[f"teacher_{k}"] for k in ("precision", "recall", "f1")}
            | {"train_seconds": m("teacher_model")["train_seconds"], "oracle": m("teacher_model")["oracle"]},
            "student": {k: m("student_model")[f"student_{k}"] for k in ("precision", "recall", "f1")}
            | {k: m("student_model")[k] for k in ("train_seconds", "layers", "ece_raw", "ece", "temperature",
                                                  "baseline_f1")},
            "export": {k: m("edge_bundle")[k] for k in (
                "parity_max_abs_logit_delta", "int8_agreement", "quantization", "quantization_reason", "shipped_f1",
                "model_bytes", "latency_p50_ms", "latency_p99_ms", "abstain_threshold", "edge_coverage_on_eval",
                "bundle_sha256")} | {"central_f1": m("central_bundle")["central_f1"]},
            "registry": {k: m("registered_model")[k] for k in ("model_name", "version", "promoted", "promotion",
                                                               "aliases", "signed_by", "sign_s")},
            "serving": served.get(name),
        }
    return {
        "dagster_run_id": job.run_id,
        "history_loads": {name: {k: v for k, v in outcome.assets.get(asset, {}).items()
                                 if k in ("partitions", "ticks", "records", "added", "history_rows", "quarantined",
                                          "pages")}
                          for name, (outcome, asset) in {"price_history": (history["price_history"], "price_history"),
                                                         "market_replay": (history["market_replay"], "replay_harvest")
                                                         }.items()},
        "crawl": {k: a["raw_harvest"].get(k) for k in ("pages", "items", "http_404", "errors", "quarantined",
                                                        "invariant_ok", "duration_s")},
        "reviews": {"records": a["raw_reviews"]["records"], "quarantined": a["raw_reviews"]["quarantined"]},
        "records": {"scrubbed": a["scrubbed_signals"]["rows"], "validated": a["validated_signals"]["rows"],
                    "history": a["signal_history"]["rows"]},
        "quarantine": reasons,
        "pii_replacements": a["scrubbed_signals"]["pii_replacements"],
        "pii_scores": pii_scores,
        "checks": job.checks,
        "decisions": decisions,
        "divergence": feedback.assets.get("divergence_report", {}),
        "drift_now": drift,
        "privacy": privacy_summary(settings, retention),
        "drift_drill": None if drill is None else {
            "decision": drill["decision"], "shadow_rate": drill["shadow_rate"],
            "phases": {phase: {k: outcome[k] for k in ("records", "decisions", "request_after")}
                       for phase, outcome in drill["phases"].items()}},
        "live": live,
        "security": security,
    }


def write_summary(settings: Settings, summary: dict[str, Any]) -> Path:
    """Write ``summary`` as ``<state>/demo_summary.json``; returns that path."""
    path = settings.state_dir / "demo_summary.json"
    path.write_text(json.dumps(summary, indent=2, default=str))
    return path
