"""The live loop in Dagster: the ``insights`` table as an observed asset with a freshness check, and
the daily ``insight_digest``.

The live loop runs outside Dagster (``edge-insights watch``); Dagster watches it. The
``insights_observer`` sensor records an observation of ``insights`` every 30 s with the newest
insight's publication time as ``dagster/last_updated_timestamp``, so the freshness check
``insights_fresh`` (:func:`dagster.build_last_update_freshness_checks`, evaluated by its sensor)
fails, and the asset turns red in the UI, when no insight was published for
:data:`STALL_AFTER` — the live loop has stalled (watcher down, pods refusing, market quiet).
"""

import sqlite3
from datetime import datetime, timedelta, timezone

import dagster as dg

from live.digest import insight_digest as digest_of
from live.store import LiveStore
from orchestration.resources import DecisionLogResource, LiveStoreResource, WarehouseResource

LIVE_GROUP = "live"
STALL_AFTER = timedelta(minutes=10)

insights = dg.AssetSpec(
    "insights", group_name=LIVE_GROUP, kinds={"sqlite", "duckdb"},
    description="Every decision of the live loop (edge-insights watch) as an insight: written to the live store "
                "as it happens and copied to the warehouse's insights table every few seconds. Observed, not "
                "materialized, by Dagster.")

# ERROR, not the default WARN: a stalled live loop is an outage, drawn red in the UI (WARN draws amber).
insights_fresh = dg.build_last_update_freshness_checks(assets=[insights.key], lower_bound_delta=STALL_AFTER,
                                                       severity=dg.AssetCheckSeverity.ERROR)
insights_freshness_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=insights_fresh, name="insights_freshness_sensor", minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED)


@dg.sensor(name="insights_observer", minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Observes the live store: insight count and the newest insight's publication time.")
def insights_observer(context: dg.SensorEvaluationContext, live_store: LiveStoreResource) -> dg.SensorResult:
    """One observation of ``insights`` (newest publication time, insight count, head seq) per tick;
    a skip when the live store is missing, empty (0 bytes), not an SQLite file or holds no insight.
    Reads only: the store is the live loop's, so an observer never creates or repairs it."""
    path = live_store.file
    if not path.exists():
        return dg.SensorResult(skip_reason=dg.SkipReason(f"no live store at {path}: the live loop never ran"))
    if path.stat().st_size == 0:
        return dg.SensorResult(skip_reason=dg.SkipReason(f"the live store at {path} is empty (0 bytes): the live "
                                                         "loop has not written it yet"))
    # Read-only: an observer never adds a schema to, or changes the journal mode of, the live loop's file.
    store = LiveStore(path, open_mode="ro")
    try:
        (newest,) = store.query("SELECT MAX(published) AS at, COUNT(*) AS n, COALESCE(MAX(seq), 0) AS head "
                                "FROM insights")
    except sqlite3.DatabaseError as err:  # not a database, no insights table, locked past the timeout
        context.log.warning(f"insights_observer: the live store at {path} cannot be read: {err}")
        return dg.SensorResult(skip_reason=dg.SkipReason(f"the live store at {path} cannot be read ({err}): "
                                                         "nothing observed"))
    finally:
        store.close()  # a sensor's process lives on: its connection must not wait for the collector
    if newest["at"] is None:
        return dg.SensorResult(skip_reason=dg.SkipReason("the live store holds no insight yet"))
    newest_at = datetime.fromtimestamp(newest["at"], timezone.utc).isoformat(timespec="seconds")
    # A tick that requests no run reads as skipped in the UI whatever it reported: its reason says what it saw.
    return dg.SensorResult(
        skip_reason=dg.SkipReason(f"observed insights: {newest['n']} held, newest published {newest_at} "
                                  "(no run to request)"),
        asset_events=[dg.AssetObservation(asset_key=insights.key, metadata={
            "dagster/last_updated_timestamp": dg.MetadataValue.timestamp(newest["at"]),
            "insights": newest["n"], "head_seq": newest["head"]})])


@dg.asset(group_name=LIVE_GROUP, deps=[insights], kinds={"duckdb"},
          description="Insights of the last day per decision and route (alerts included), why each took its "
                      "route (the decision log's route reason) and, where the pod's "
                      "decision log holds the central oracle's answer for the same signal (routed or "
                      "shadow-scored), how often edge and central agreed.")
def insight_digest(warehouse: WarehouseResource, decision_log: DecisionLogResource) -> dg.MaterializeResult:
    until = datetime.now(timezone.utc)
    digest = digest_of(warehouse.get(), decision_log.path, until - timedelta(days=1), until)
    return dg.MaterializeResult(metadata={
        "insights": digest["insights"], "alerts": digest["alerts"],
        "per_decision": dg.MetadataValue.json(digest["per_decision"])})
