"""Erasure sensor: a model that learned from a subject erased on request is retrained without it.

``edge-insights erase`` records each erasure in the control audit log with ``retrain``, the
decisions whose example snapshot held the subject (:func:`commons.erasure.erase`). This sensor
reads those events and requests one retrain run per decision, tagged ``trigger=erasure``, whose
gate then reports the champion without requiring the challenger to beat it
(:func:`training.gates.evaluate_gate`): the champion is the model that has to go. Run keys name
the erasure's instant, so an event is acted on once whatever the cursor does.
"""

import dagster as dg

from commons.control_audit import read_events
from orchestration.jobs import ERASURE_TRIGGER, TRIGGER_TAG, retrain_job
from orchestration.resources import TrainingResource
from orchestration.sensors import STAGES


@dg.sensor(job=retrain_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Requests a retrain of every decision whose models learned from a subject erased on "
                       "request (control audit log `erasure` events), so no deployed model keeps what was erased.")
def erasure_sensor(context: dg.SensorEvaluationContext, training: TrainingResource) -> dg.SensorResult:
    audit = training.audit()
    events = [e for e in read_events(audit.path) if e["action"] == "erasure"] if audit else []
    # The cursor is the instant of the newest erasure acted on; an equal instant is looked at again
    # (two erasures in one millisecond), and the run keys keep its runs from being requested twice.
    fresh = [e for e in events if e["ts"] >= (context.cursor or "")]
    requests = [dg.RunRequest(run_key=f"erasure-{name}-{event['ts']}",
                              asset_selection=[dg.AssetKey([name, stage]) for stage in STAGES],
                              tags={TRIGGER_TAG: ERASURE_TRIGGER, "decision": name, "erasure_at": event["ts"]})
                for event in fresh for name in event["details"].get("retrain", [])]
    cursor = max((e["ts"] for e in fresh), default=context.cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor,
                           skip_reason=None if requests else "no erasure of a subject a model learned from")
