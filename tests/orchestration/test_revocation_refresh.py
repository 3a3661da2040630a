"""``revocation_refresh_schedule`` and its job on a real Dagster instance over a temporary state
folder: with a published list the schedule asks for a run, and the run re-publishes it (serial + 1,
every entry kept, a full new lifetime) and records it in the control audit log; with none, the
schedule skips and the job publishes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from commons.chain_verify import verify_folder
from commons.control_audit import read_events
from commons.revocation_list import DEFAULT_MAX_AGE_S, default_list_path, publish_next, read_published
from commons.settings import Settings
from commons.token_keys import jwks_path, rotate_keys
from orchestration.definitions import build_definitions

TICK = datetime(2026, 11, 30, 18, tzinfo=UTC)


@pytest.fixture
def defs_and_settings(tmp_path, data_dir):
    settings = Settings(state_dir=tmp_path / "state", data_dir=data_dir, preset="tiny")
    defs = build_definitions(settings)
    rotate_keys(settings.tokens_dir)
    yield defs, settings
    Settings.from_env().ensure()  # later tests use the session's own state folder


def tick(defs: dg.Definitions, instance: dg.DagsterInstance):
    """The schedule's answer for the 18:00 UTC tick."""
    schedule = defs.resolve_schedule_def("revocation_refresh_schedule")
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK,
                                   resources={"revocation": defs.resources["revocation"]}) as context:
        return schedule.evaluate_tick(context)


def test_the_schedule_runs_every_quarter_of_a_lists_lifetime_and_is_on(defs_and_settings):
    defs, _ = defs_and_settings
    schedule = defs.resolve_schedule_def("revocation_refresh_schedule")
    assert DEFAULT_MAX_AGE_S == 24 * 3600
    assert (schedule.cron_schedule, schedule.job_name, schedule.default_status) == (
        "0 */6 * * *", "revocation_refresh_job", dg.DefaultScheduleStatus.RUNNING)


def test_a_published_list_is_republished_with_the_next_serial_and_every_entry(defs_and_settings):
    defs, settings = defs_and_settings
    path, jwks = default_list_path(settings.state_dir), jwks_path(settings.tokens_dir)
    rotated_out = rotate_keys(settings.tokens_dir)
    rotate_keys(settings.tokens_dir)
    first = publish_next(path, rotate_keys(settings.tokens_dir, keep=3), jwks, max_age_s=3600,
                         bundles=[{"sha256": "b" * 64, "reason": "leaked labels"}],
                         kids=[{"kid": rotated_out.kid, "reason": "laptop stolen"}])
    with dg.instance_for_test() as instance:
        requests = tick(defs, instance).run_requests
        assert [r.run_key for r in requests] == [f"revocation-refresh-{TICK.isoformat()}"]
        result = defs.resolve_job_def("revocation_refresh_job").execute_in_process(instance=instance)
        assert result.success
        outputs = [e for e in result.all_node_events if e.event_type_value == "STEP_OUTPUT"]
    shown = outputs[0].event_specific_data.metadata
    assert (shown["published"].value, shown["serial"].value, shown["bundles"].value, shown["kids"].value) == (
        True, 2, 1, 1)

    again = read_published(path, jwks)
    assert again.serial == first.serial + 1 == 2
    assert (again.bundles, again.kids) == (first.bundles, first.kids)
    assert again.next_update - again.issued_at == DEFAULT_MAX_AGE_S
    event = read_events(settings.audit_dir / "control.jsonl")[-1]
    assert (event["action"], event["details"]["serial"], event["details"]["bundles"], event["details"]["kids"]) == (
        "revocation_refresh", 2, 1, 1)
    assert verify_folder(settings.audit_dir).fault is None


def test_with_no_list_the_schedule_skips_and_the_job_publishes_nothing(defs_and_settings):
    defs, settings = defs_and_settings
    path = default_list_path(settings.state_dir)
    with dg.instance_for_test() as instance:
        answer = tick(defs, instance)
        assert answer.run_requests == []
        assert answer.skip_message == f"no revocation list at {path}: nothing to re-publish"
        assert defs.resolve_job_def("revocation_refresh_job").execute_in_process(instance=instance).success
    assert not path.exists()
    assert read_events(settings.audit_dir / "control.jsonl") == []
