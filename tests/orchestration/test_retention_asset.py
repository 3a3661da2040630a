"""The ``retention`` asset and its ``no_rows_past_retention`` check in a real Dagster run
(``retention_job`` in process) on a state folder holding rows and files past their policy."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import dagster as dg

from commons.settings import Settings
from commons.warehouse import Warehouse, flatten
from orchestration.definitions import build_definitions

AS_OF = datetime(2026, 11, 30, tzinfo=timezone.utc)


def _history_row(days: int) -> dict:
    at = AS_OF - timedelta(days=days)
    return flatten({"source": "shop", "product_id": "p1", "price": "9.99", "currency": "EUR",
                    "crawled_at": at.isoformat(), "content_digest": f"d{days}"}, "run-1", "prices", f"{at:%Y-%m-%d}")


def test_the_retention_job_removes_what_is_past_policy_and_its_check_passes(tmp_path, data_dir):
    settings = Settings(state_dir=tmp_path / "state", data_dir=data_dir, preset="tiny")
    defs = build_definitions(settings)
    Warehouse(settings.warehouse_path).append_rows_to_history("run-1", [_history_row(d) for d in (1500, 1400, 30)])
    staged = settings.staging_dir / "raw_reviews" / "old" / "items.jsonl"
    staged.parent.mkdir(parents=True)
    staged.write_text(json.dumps({"product_id": "p1", "author": "Jane"}) + "\n")
    os.utime(staged, ((AS_OF - timedelta(days=2)).timestamp(),) * 2)

    job = defs.resolve_job_def("retention_job")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, run_config={
            "ops": {"retention": {"config": {"as_of": AS_OF.isoformat()}}}})
        assert result.success
        metadata = result.asset_materializations_for_node("retention")[0].metadata
        checks = result.get_asset_check_evaluations()
    assert metadata["removed_signal_history"].value == 2 and metadata["removed_staging"].value == 1
    assert metadata["aggregated"].value == 2
    assert [(c.check_name, c.passed) for c in checks] == [("no_rows_past_retention", True)]
    assert checks[0].metadata["overdue_total"].value == 0
    assert Warehouse(settings.warehouse_path).frame("SELECT count(*) AS n FROM signal_history")["n"][0] == 1
    Settings.from_env().ensure()  # later tests use the session's own state folder


def test_the_retention_job_refuses_an_as_of_the_command_refuses_before_removing_anything(tmp_path, data_dir):
    settings = Settings(state_dir=tmp_path / "state", data_dir=data_dir, preset="tiny")
    defs = build_definitions(settings)
    warehouse = Warehouse(settings.warehouse_path)
    warehouse.append_rows_to_history("run-1", [_history_row(d) for d in (1500, 30)])
    later = datetime.now(timezone.utc) + timedelta(days=3650)  # a typo's year: every time-bound row is past it

    def run(config: dict) -> dg.ExecuteInProcessResult:
        with dg.instance_for_test() as instance:
            return defs.resolve_job_def("retention_job").execute_in_process(
                instance=instance, raise_on_error=False, run_config={"ops": {"retention": {"config": config}}})

    for as_of, reason in [(later.isoformat(), "is later than now"), ("not a date", "is not an ISO 8601 time"),
                          ("0001-01-01T00:00:00Z", "falls before year 1"),
                          ("9999-12-31T23:00:00-05:00", "has no UTC time")]:
        result = run({"as_of": as_of})
        assert not result.success
        failure = result.failure_data_for_node("retention").error
        assert "retention refused: as_of" in failure.message and reason in failure.message, failure.message
        assert warehouse.frame("SELECT count(*) AS n FROM signal_history")["n"][0] == 2
    assert run({"as_of": later.isoformat(), "allow_future": True}).success
    assert warehouse.frame("SELECT count(*) AS n FROM signal_history")["n"][0] == 0
    Settings.from_env().ensure()  # later tests use the session's own state folder
