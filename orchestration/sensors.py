"""Divergence sensor: reads the pods' decision log and requests a retrain when edge and central
disagree too often."""


import json

import dagster as dg

from orchestration.jobs import retrain_job
from orchestration.resources import DecisionLogResource
from training.decisions import DECISIONS
from training.divergence import divergence, read_decisions

# 10 % disagreement on consulted decisions: the edge model's F1 gap to the teacher at promotion
# is at most ~5-10 %, so more disagreement than that means traffic moved away from training data.
DISAGREEMENT_THRESHOLD = 0.10
MIN_COMPARED = 50


STAGES = ("signal_features", "teacher_model", "student_model", "edge_bundle", "central_bundle", "registered_model",
          "deployed_bundle")


@dg.sensor(job=retrain_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED,
           description=f"Per decision: requests a retrain of that decision when ≥ {MIN_COMPARED} compared "
                       f"decisions since its last request disagree at a rate above {DISAGREEMENT_THRESHOLD:.0%}.")
def divergence_sensor(context: dg.SensorEvaluationContext, decision_log: DecisionLogResource) -> dg.SensorResult:
    cursor = json.loads(context.cursor) if context.cursor else {}
    log_dir = decision_log.path
    requests, notes = [], []
    for name in DECISIONS:
        rows = read_decisions(log_dir, name, since_ts=cursor.get(name))
        report = divergence(rows)
        if report.compared < MIN_COMPARED:
            notes.append(f"{name}: {report.compared} compared, need {MIN_COMPARED}")
        elif report.disagreement_rate <= DISAGREEMENT_THRESHOLD:
            notes.append(f"{name}: disagreement {report.disagreement_rate:.3f} ≤ {DISAGREEMENT_THRESHOLD}")
        else:
            newest = max(r["ts"] for r in rows)
            requests.append(dg.RunRequest(
                run_key=f"divergence-{name}-{newest}",
                asset_selection=[dg.AssetKey([name, stage]) for stage in STAGES],
                tags={"trigger": "divergence", "decision": name,
                      "disagreement_rate": f"{report.disagreement_rate:.4f}"}))
            cursor[name] = newest
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor),
                           skip_reason=None if requests else "; ".join(notes))
