"""Schedules: harvest and retention on a clock; retraining is triggered by divergence, not by time."""


import dagster as dg

from orchestration.jobs import harvest_job, insight_digest_job, retention_job

harvest_schedule = dg.build_schedule_from_partitioned_job(
    harvest_job, name="harvest_schedule", default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every 6 hours, for the window that just closed: crawl, ingest feeds, scrub, validate, "
                "append to history.")

retention_schedule = dg.ScheduleDefinition(
    name="retention_schedule", job=retention_job, cron_schedule="30 3 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Daily at 03:30 UTC: delete or fold everything past the privacy policy's retention.")

insight_digest_schedule = dg.ScheduleDefinition(
    name="insight_digest_schedule", job=insight_digest_job, cron_schedule="0 4 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Daily at 04:00 UTC: the last day's insights per decision and route, edge/central agreement.")
