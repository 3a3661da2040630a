"""Drift sensor: per decision, tests the pods' decision logs against the deployed bundle's release
baseline (:mod:`training.drift`) and requests a retrain of that decision when drift is real."""

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import dagster as dg

from orchestration.jobs import TRIGGER_TAG, retrain_job
from orchestration.resources import DecisionLogResource, TrainingResource
from training.decisions import DECISIONS
from training.deployed_baseline import deployed_baseline
from training.divergence import read_decisions
from training.drift import ALPHA, COOLDOWN, MAX_COOLDOWN, MIN_INPUTS, MIN_SHADOW, PSI_THRESHOLD, assess, decide
from training.registry import CHAMPION

# Log times come from the pods' clocks: a window edge a little ahead of this one is no hand edit.
CLOCK_SKEW = timedelta(days=1)
STAGES = ("signal_features", "teacher_model", "student_model", "edge_bundle", "central_bundle", "registered_model",
          "deployed_bundle")


def read_ledger(cursor: str | None, now: datetime | None = None) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The drift ledger in a sensor cursor: ``({decision: entry}, None)``, or, when the cursor or an
    entry is not what :func:`training.drift.decide` wrote (not JSON, not an object, an entry that is
    not an object, has a field of the wrong type, a time that is no ISO 8601 UTC time or lies
    further ahead of ``now`` (default: the clock) than it could, or a cooldown outside
    (0, ``MAX_COOLDOWN``]), the usable entries and a note naming what was dropped. A dropped entry
    starts afresh: a new evidence window and the base cooldown."""
    if not cursor:
        return {}, None
    try:
        raw = json.loads(cursor)
    except ValueError as err:
        return {}, f"not JSON: {err}"
    if not isinstance(raw, dict):
        return {}, f"JSON {type(raw).__name__}, not an object"
    now = now or datetime.now(timezone.utc)
    usable = {name: entry for name, entry in raw.items() if _usable_entry(entry, now)}
    dropped = sorted(set(raw) - set(usable))
    return usable, f"entries of {', '.join(map(repr, dropped))} dropped" if dropped else None


def _usable_entry(entry: Any, now: datetime) -> bool:
    """Whether ``entry`` has the fields, types and ranges :func:`training.drift.decide` reads."""
    if not isinstance(entry, dict) or not isinstance(entry.get("bundle_sha256"), str):
        return False
    cooldown, refused = entry.get("cooldown_s"), entry.get("refused", [])
    # NaN fails the comparison too; past the bound, now + cooldown overflows.
    if not (isinstance(cooldown, (int, float)) and not isinstance(cooldown, bool)
            and 0 < cooldown <= MAX_COOLDOWN.total_seconds()):
        return False
    # decide compares these as strings with now and the logs' UTC times: "garbage" or a far future
    # would hold the decision in its cooldown, or out of evidence, for ever.
    latest = {"since": now + CLOCK_SKEW, "requested_at": now + CLOCK_SKEW,
              "cooled_until": now + MAX_COOLDOWN + CLOCK_SKEW}
    return (all(entry.get(key) is None or _utc_time(entry[key], bound) for key, bound in latest.items())
            and isinstance(refused, list) and all(isinstance(r, dict) for r in refused))


def _utc_time(value: Any, latest: datetime) -> bool:
    """Whether ``value`` is an ISO 8601 UTC time no later than ``latest``."""
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return when.utcoffset() == timedelta(0) and when <= latest


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
    now = datetime.now(timezone.utc)
    ledger, dropped = read_ledger(context.cursor, now)
    requests, notes = [], []
    if dropped:
        # Anyone can set a cursor in the UI: an unusable one would otherwise fail every tick until reset.
        notes.append(f"unusable drift ledger in the cursor ({dropped}): started afresh")
        context.log.warning(f"drift_sensor: unusable drift ledger in the cursor ({dropped}); started afresh")
    for name in DECISIONS:
        try:
            deployed = deployed_baseline(training.deploy_dir_path / name / CHAMPION / "manifest.json")
        except ValueError as err:
            # One broken deploy folder must not stop the other decisions' assessment.
            notes.append(f"{name}: skipped: {err}")
            context.log.warning(f"drift_sensor: {name} skipped: {err}")
            continue
        if deployed is None:
            notes.append(f"{name}: no deployed bundle with a drift baseline")
            continue
        (sha, baseline), entry = deployed, ledger.get(name)
        since = entry.get("since") if entry and entry.get("bundle_sha256") == sha else None
        rows = read_decisions(decision_log.path, name, since_ts=since)
        report = assess(rows, baseline, sha)
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
