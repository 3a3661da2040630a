"""Drift sensor: per decision, tests the pods' decision logs against the deployed bundle's release
baseline (:mod:`training.drift`) and requests a retrain of that decision when drift is real."""

import json
from datetime import datetime, timezone

import dagster as dg

from orchestration.jobs import TRIGGER_TAG, retrain_job
from orchestration.resources import DecisionLogResource, TrainingResource
from training.decisions import DECISIONS
from training.divergence import read_decisions
from training.drift import ALPHA, COOLDOWN, MIN_INPUTS, MIN_SHADOW, PSI_THRESHOLD, assess, decide
from training.registry import CHAMPION

STAGES = ("signal_features", "teacher_model", "student_model", "edge_bundle", "central_bundle", "registered_model",
          "deployed_bundle")


@dg.sensor(job=retrain_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED,
           description=f"Per decision: requests a retrain when the shadow sample's edge-vs-central disagreement "
                       f"exceeds the deployed bundle's release baseline (one-sided Fisher exact test, α = {ALPHA}, "
                       f"≥ {MIN_SHADOW} compared) or an input feature's PSI exceeds {PSI_THRESHOLD} "
                       f"(≥ {MIN_INPUTS} decisions); then waits {COOLDOWN.total_seconds() / 3600:.0f} h, doubled after a retrain "
                       f"the gate refused.")
def drift_sensor(context: dg.SensorEvaluationContext, decision_log: DecisionLogResource,
                 training: TrainingResource) -> dg.SensorResult:
    # The cursor is the ledger of training.drift.decide: per decision, its evidence window,
    # last request, cooldown and the retrains the gate refused.
    ledger = json.loads(context.cursor) if context.cursor else {}
    now = datetime.now(timezone.utc)
    requests, notes = [], []
    for name in DECISIONS:
        manifest_path = training.deploy_dir_path / name / CHAMPION / "manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        if "drift_baseline" not in manifest:
            notes.append(f"{name}: no deployed bundle with a drift baseline")
            continue
        sha, entry = manifest["bundle_sha256"], ledger.get(name)
        since = entry.get("since") if entry and entry.get("bundle_sha256") == sha else None
        rows = read_decisions(decision_log.path, name, since_ts=since)
        report = assess(rows, manifest["drift_baseline"], sha)
        verdict = decide(entry, sha, report, now, max((r["ts"] for r in rows), default=None),
                         training.store(name).state().get("registry"))
        ledger[name] = verdict.ledger
        notes.append(f"{name}: {verdict.note}")
        if verdict.request:
            requests.append(dg.RunRequest(
                run_key=f"drift-{name}-{verdict.ledger['requested_at']}",
                asset_selection=[dg.AssetKey([name, stage]) for stage in STAGES],
                tags={TRIGGER_TAG: "drift", "decision": name, "drift": verdict.note[:200]}))
    context.log.info("; ".join(notes))
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(ledger),
                           skip_reason=None if requests else "; ".join(notes))
