"""Jobs: the whole graph, the harvest alone, the retrain requested by the drift and erasure sensors,
and the revocation list's re-publication."""


import dagster as dg

from orchestration.revocation_refresh import refresh_revocation_list
from training.decisions import DECISIONS

#: Run tag naming what requested a retrain run: ``drift`` or ``erasure``.
TRIGGER_TAG = "trigger"
#: A retrain that replaces a champion which learned from erased data (the gate does not compare them).
ERASURE_TRIGGER = "erasure"

main_job = dg.define_asset_job(
    "edge_insights_job",
    # insight_digest digests the live loop, which runs after the job: built in it, it would read no insight.
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets("divergence_report", "price_history", "replay_harvest",
                                                                         "retention", "insight_digest"),
    description="Harvest → scrub → validate → history → features → teacher → student → bundle → "
                "registry → deploy.")

harvest_job = dg.define_asset_job(
    "harvest_job",
    selection=dg.AssetSelection.assets("raw_harvest", "raw_reviews", "raw_pushed", "scrubbed_signals",
                                       "validated_signals", "signal_history"),
    description="Collect, scrub, validate and store fresh signals.")

retrain_job = dg.define_asset_job(
    "retrain_job", selection=dg.AssetSelection.groups(*DECISIONS),
    description="Per decision: rebuild examples, relabel with the central model, distil, export, register a "
                "challenger and promote it if it passes the gate.")

feedback_job = dg.define_asset_job("feedback_job", selection=dg.AssetSelection.assets("divergence_report"),
                                   description="Measure edge-vs-central divergence from decision logs.")

backfill_job = dg.define_asset_job(
    "price_history_backfill", selection=dg.AssetSelection.assets("price_history"),
    description="Load real price histories as daily partitions of signal_history (launch a backfill "
                "over a date range from the UI; it runs as one run).")

replay_job = dg.define_asset_job(
    "market_replay", selection=dg.AssetSelection.assets("replay_harvest"),
    description="Crawl market-replay ticks (simulated days) into signal_history; a range runs as one run.")

retention_job = dg.define_asset_job(
    "retention_job", selection=dg.AssetSelection.assets("retention"),
    description="Apply the privacy policy's retention periods (with the no_rows_past_retention check).")

insight_digest_job = dg.define_asset_job(
    "insight_digest_job", selection=dg.AssetSelection.assets("insight_digest"),
    description="A day of the live loop's insights per decision and route, and edge/central agreement.")


@dg.job(description="Re-publish the revocation list before it goes stale (serial + 1, every entry kept).")
def revocation_refresh_job() -> None:
    refresh_revocation_list()
