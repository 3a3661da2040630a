"""Schedules: harvest on a clock; retraining is triggered by divergence, not by time."""


import dagster as dg

from orchestration.jobs import harvest_job

harvest_schedule = dg.build_schedule_from_partitioned_job(
    harvest_job, name="harvest_schedule", default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every 6 hours, for the window that just closed: crawl, ingest feeds, scrub, validate, "
                "append to history.")
