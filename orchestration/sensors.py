"""Divergence sensor: reads the pods' decision log and requests a retrain when edge and central
disagree too often."""


import json

import dagster as dg

from edge_insights.settings import Settings
from orchestration.assets.models import DECISION
from orchestration.jobs import retrain_job
from training.divergence import divergence, read_decisions

# 10 % disagreement on consulted decisions: the edge model's F1 gap to the teacher at promotion
# is at most ~5-10 %, so more disagreement than that means traffic moved away from training data.
DISAGREEMENT_THRESHOLD = 0.10
MIN_COMPARED = 50


@dg.sensor(job=retrain_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED,
           description=f"Requests retrain_job when ≥ {MIN_COMPARED} compared decisions since the last "
                       f"request disagree at a rate above {DISAGREEMENT_THRESHOLD:.0%}.")
def divergence_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    cursor = json.loads(context.cursor) if context.cursor else {}
    rows = read_decisions(Settings.from_env().decision_log_dir, DECISION, since_ts=cursor.get("since"))
    report = divergence(rows)
    if report.compared < MIN_COMPARED:
        return dg.SkipReason(f"{report.compared} compared decisions since {cursor.get('since')}; "
                             f"need {MIN_COMPARED}")
    newest = max(r["ts"] for r in rows)
    if report.disagreement_rate <= DISAGREEMENT_THRESHOLD:
        return dg.SensorResult(cursor=json.dumps({"since": cursor.get("since")}),
                               skip_reason=f"disagreement {report.disagreement_rate:.3f} ≤ {DISAGREEMENT_THRESHOLD}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"divergence-{newest}",
                                    tags={"trigger": "divergence",
                                          "disagreement_rate": f"{report.disagreement_rate:.4f}"})],
        cursor=json.dumps({"since": newest}))
