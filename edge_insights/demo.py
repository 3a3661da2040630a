"""The demo: run the whole Dagster job on real input, start pods, decide held-out reviews over HTTP.

Steps: (1) the ``edge_insights_job`` runs in the Dagster instance under the state folder, so
``make ui`` shows its run, lineage and checks; (2) the central pod (teacher) and the edge pod
(champion student) start on loopback; (3) the held-out reviews go to the edge pod in batches;
(4) ``feedback_job`` measures edge-vs-central divergence from the decision log; (5) a summary
is printed and written to ``<state>/demo_summary.json``.
"""

from __future__ import annotations

import json
import threading
import uuid
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from edge_insights.pods import running_pod
from edge_insights.settings import Settings

DECISION = "negative_review"


@dataclass
class JobOutcome:
    """What a Dagster run reported: success, per-asset metadata, check results, failures."""

    run_id: str
    success: bool
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _metadata_value(value: Any) -> Any:
    return getattr(value, "value", getattr(value, "data", value))


def run_job(job_name: str, settings: Settings, *, preset: str, max_pages: int, max_reviews: int,
            on_event=None) -> JobOutcome:
    """Execute a job of the definitions in the persistent instance at ``settings.dagster_home``;
    a partitioned job runs for its newest complete partition.

    ``on_event(event)`` is called from a polling thread for each new event (progress display).
    """
    import dagster as dg

    from orchestration.definitions import build_definitions

    defs = build_definitions(settings, preset=preset, max_pages=max_pages, max_reviews=max_reviews)
    job = defs.resolve_job_def(job_name)
    run_id = str(uuid.uuid4())
    # A partitioned job (the harvest chain) runs for its newest complete time window: "now".
    partition_key = job.partitions_def.get_last_partition_key() if job.partitions_def else None
    with dg.DagsterInstance.get() as instance:
        done = threading.Event()
        result: dict[str, Any] = {}

        def execute() -> None:
            try:
                result["run"] = job.execute_in_process(
                    instance=instance, run_id=run_id, raise_on_error=False, partition_key=partition_key,
                    # The event log keeps every DEBUG event for the UI; the console gets warnings only.
                    run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
            finally:
                done.set()

        worker = threading.Thread(target=execute, daemon=True)
        worker.start()
        seen = 0
        while not done.wait(0.5) or seen < len(instance.all_logs(run_id)):
            events = instance.all_logs(run_id)
            for event in events[seen:]:
                if on_event and event.dagster_event is not None:
                    on_event(event.dagster_event)
            seen = len(events)
        worker.join()
    run = result["run"]
    outcome = JobOutcome(run_id=run_id, success=run.success)
    for event in run.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            mat = event.event_specific_data.materialization
            outcome.assets[mat.asset_key.to_user_string()] = {k: _metadata_value(v) for k, v in mat.metadata.items()}
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            outcome.checks[event.event_specific_data.check_name] = event.event_specific_data.passed
        elif event.is_failure:
            outcome.failures.append(f"{event.step_key}: {event.message}")
    return outcome


def held_out_reviews(settings: Settings) -> tuple[list[str], np.ndarray]:
    """Texts and labels of the evaluation split written by the run (products never trained on)."""
    from orchestration.warehouse import Warehouse

    frame = Warehouse(settings.warehouse_path).frame(
        "SELECT text, label FROM features_negative_review WHERE split = 'eval'")
    return frame["text"].tolist(), frame["label"].to_numpy()


def send_reviews(base_url: str, texts: list[str], batch_size: int = 16) -> tuple[list[dict], list[float]]:
    """POST texts to the edge pod in batches; returns the decisions and each request's wall time (ms)."""
    decisions, request_ms = [], []
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        for start in range(0, len(texts), batch_size):
            body = {"records": [{"review_text": t} for t in texts[start:start + batch_size]]}
            began = time.perf_counter()
            response = client.post(f"/v1/decisions/{DECISION}", json=body)
            request_ms.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
            decisions += response.json()["decisions"]
    return decisions, request_ms


def single_decision_latency(base_url: str, texts: list[str], n: int = 200) -> list[float]:
    """Wall time (ms) of ``n`` one-record requests, as a client on loopback sees it."""
    samples = []
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        for text in (texts * (n // max(len(texts), 1) + 1))[:n]:
            began = time.perf_counter()
            client.post(f"/v1/decisions/{DECISION}", json={"records": [{"review_text": text}]}).raise_for_status()
            samples.append((time.perf_counter() - began) * 1000)
    return samples


def serve_and_decide(settings: Settings, texts: list[str], labels: np.ndarray, shadow_rate: float) -> dict[str, Any]:
    """Start the central and edge pods, send the held-out reviews, measure, stop the pods."""
    from training.metrics import prf

    deploy = settings.deploy_dir / DECISION
    with running_pod(deploy / "central", settings) as central_url, \
            running_pod(deploy / "champion", settings, central_url=central_url, shadow_rate=shadow_rate) as edge_url:
        decisions, request_ms = send_reviews(edge_url, texts)
        single_ms = single_decision_latency(edge_url, texts)
        health = httpx.get(f"{edge_url}/healthz").json()
    predicted = np.array([1 if d["label"] == "negative" else 0 for d in decisions])
    routes = {route: sum(1 for d in decisions if d["route"] == route) for route in ("edge", "central", "fallback")}
    return {
        "decisions": len(decisions), "routes": routes, "pod": health,
        "served_metrics": prf(labels, predicted),
        "server_latency_ms": {"p50": float(np.percentile([d["latency_ms"] for d in decisions], 50)),
                              "p99": float(np.percentile([d["latency_ms"] for d in decisions], 99))},
        "single_request_ms": {"p50": float(np.percentile(single_ms, 50)), "p99": float(np.percentile(single_ms, 99)),
                              "n": len(single_ms)},
        "batch16_request_ms": {"p50": float(np.percentile(request_ms, 50)), "p99": float(np.percentile(request_ms, 99))},
        "example": decisions[0] if decisions else None,
    }


def summarise(settings: Settings, job: JobOutcome, served: dict[str, Any], feedback: JobOutcome) -> dict[str, Any]:
    """The numbers a user wants after a demo, gathered from asset metadata and the pod run."""
    from orchestration.warehouse import Warehouse

    wh = Warehouse(settings.warehouse_path)
    reasons = wh.frame("SELECT stage, reason, count(*) AS n FROM quarantine WHERE run_id = ? "
                       "GROUP BY ALL ORDER BY n DESC", [job.run_id])
    a = job.assets
    return {
        "dagster_run_id": job.run_id,
        "crawl": {k: a["raw_harvest"].get(k) for k in ("pages", "items", "http_404", "errors", "quarantined",
                                                        "invariant_ok", "duration_s")},
        "reviews": {"records": a["raw_reviews"]["records"], "quarantined": a["raw_reviews"]["quarantined"]},
        "records": {"scrubbed": a["scrubbed_signals"]["rows"], "validated": a["validated_signals"]["rows"],
                    "history": a["signal_history"]["rows"]},
        "quarantine": [dict(stage=r.stage, reason=r.reason, n=int(r.n)) for r in reasons.itertuples()],
        "pii_replacements": a["scrubbed_signals"]["pii_replacements"],
        "checks": job.checks,
        "training": {k: a["signal_features"][k] for k in ("train", "train_negative", "eval", "eval_negative")},
        "teacher": {k: a["teacher_labels"][f"teacher_{k}"] for k in ("precision", "recall", "f1")}
        | {"train_seconds": a["teacher_labels"]["train_seconds"]},
        "student": {k: a["student_model"][f"student_{k}"] for k in ("precision", "recall", "f1")}
        | {"train_seconds": a["student_model"]["train_seconds"], "layers": a["student_model"]["layers"]},
        "export": {k: a["edge_bundle"][k] for k in ("parity_max_abs_logit_delta", "int8_agreement", "quantization",
                                                    "quantization_reason", "shipped_f1", "model_bytes",
                                                    "latency_p50_ms", "latency_p99_ms", "abstain_threshold",
                                                    "bundle_sha256")},
        "registry": {k: a["registered_model"][k] for k in ("model_name", "version", "promoted", "promotion", "aliases")},
        "serving": served,
        "divergence": feedback.assets.get("divergence_report", {}),
    }


def write_summary(settings: Settings, summary: dict[str, Any]) -> None:
    (settings.state_dir / "demo_summary.json").write_text(json.dumps(summary, indent=2, default=str))
