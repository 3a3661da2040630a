"""Partitions: every crawl is a time window, every replay tick a day, every backfilled day a day."""

import dagster as dg

# A crawl every 6 hours (the harvest schedule's cadence); a partition key names the window start.
CRAWL_PARTITIONS = dg.TimeWindowPartitionsDefinition(
    start="2026-11-01-00:00", cron_schedule="0 */6 * * *", fmt="%Y-%m-%d-%H:%M", timezone="UTC")

# Market replay: tick t is 2024-06-01 + t days (crawlers.replay.SERIES_START, TICK).
REPLAY_PARTITIONS = dg.DailyPartitionsDefinition(start_date="2024-06-01", end_date="2026-08-23")

# Real price histories: one partition per UTC day of observations.
PRICE_HISTORY_PARTITIONS = dg.DailyPartitionsDefinition(start_date="2024-02-17", end_date="2026-08-23")
