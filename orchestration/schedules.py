"""Schedules: harvest, retention and the revocation list's re-publication on a clock; retraining is
triggered by divergence, not by time."""


import dagster as dg

from commons.revocation_list import DEFAULT_MAX_AGE_S
from orchestration.jobs import harvest_job, insight_digest_job, retention_job, revocation_refresh_job
from orchestration.resources import RevocationResource

REFRESH_EVERY_H = DEFAULT_MAX_AGE_S // 4 // 3600
"""Hours between two re-publications: a quarter of a list's default lifetime, so three in a row
may fail before a pod sees a stale list."""

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


@dg.schedule(name="revocation_refresh_schedule", job=revocation_refresh_job,
             cron_schedule=f"0 */{REFRESH_EVERY_H} * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description=f"Every {REFRESH_EVERY_H} hours (a quarter of a list's default lifetime): re-publish the "
                         "revocation list with the next serial and the same entries, when one exists, so no pod "
                         "sees it go stale.")
def revocation_refresh_schedule(context: dg.ScheduleEvaluationContext,
                                revocation: RevocationResource) -> dg.RunRequest | dg.SkipReason:
    if not revocation.list_file.is_file():
        return dg.SkipReason(f"no revocation list at {revocation.list_file}: nothing to re-publish")
    return dg.RunRequest(run_key=f"revocation-refresh-{context.scheduled_execution_time.isoformat()}")
