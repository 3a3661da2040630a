"""Schedules: harvest on a clock; retraining is triggered by divergence, not by time."""


import dagster as dg

from orchestration.jobs import harvest_job

harvest_schedule = dg.ScheduleDefinition(
    name="harvest_schedule", job=harvest_job, cron_schedule="0 */6 * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every 6 hours: crawl, ingest feeds, scrub, validate, append to history.")
