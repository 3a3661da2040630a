"""Asset checks: GX suites and row conservation, blocking so bad data never reaches training, and
the retention check (nothing older than its privacy policy).

The data checks of ``validated_signals`` look at the rows of the run that last materialised it (for the
run's partition where the run has one), not at the rows of the run they execute in: a run of the checks
alone (the UI's "Execute checks") has a run id of its own and wrote no rows.
"""

import dagster as dg

from commons.privacy_policy import load_policy
from commons.retention import overdue
from data_quality.expectations import validate_frame
from data_quality.rules import INTAKE_OF_RULE_SET
from commons.retention import reference_now
from orchestration.assets.retention import store_folders
from orchestration.checked_run import checked_run
from orchestration.resources import (
    CrawlResource,
    DecisionLogResource,
    LiveStoreResource,
    StagingResource,
    WarehouseResource,
)


def _suite_check(rule_set: str) -> dg.AssetChecksDefinition:
    intake = INTAKE_OF_RULE_SET[rule_set]

    @dg.asset_check(asset="validated_signals", name=f"{intake}_expectations", blocking=True,
                    description=f"Great Expectations {rule_set} suite on the partition's validated {intake} rows.")
    def check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        checked = checked_run(context)
        if isinstance(checked, dg.AssetCheckResult):
            return checked
        frame = warehouse.get().validated(intake, checked.run_id)
        if frame.is_empty():
            return dg.AssetCheckResult(passed=False, metadata={**checked.metadata(), "rows": 0},
                                       description=f"no validated {intake} rows of {checked}")
        # GX 1.x validates pandas frames: the polars frame crosses over here, and only here.
        summary = validate_frame(frame.to_pandas(), rule_set)
        return dg.AssetCheckResult(passed=summary.success, metadata={**checked.metadata(), **summary.to_metadata()})

    return check


books_expectations = _suite_check("offer")
reviews_expectations = _suite_check("review")


@dg.asset_check(asset="validated_signals", blocking=True,
                description="count in = count out + count quarantined for the validate stage of the partition.")
def rows_conserved(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    checked = checked_run(context)
    if isinstance(checked, dg.AssetCheckResult):
        return checked
    counts = warehouse.get().validate_counts(checked.run_id)
    if counts is None:
        return dg.AssetCheckResult(passed=False, metadata=checked.metadata(),
                                   description=f"no validated rows of {checked}")
    return dg.AssetCheckResult(passed=counts["in"] == counts["out"] + counts["quarantined"],
                               metadata={**checked.metadata(), **counts})


@dg.asset_check(asset="retention", description="No row, file or decision-log day older than its privacy "
                                               "policy (as of the retention run's reference time).")
def no_rows_past_retention(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                           staging: StagingResource, crawl: CrawlResource,
                           decision_log: DecisionLogResource, live_store: LiveStoreResource) -> dg.AssetCheckResult:
    # Aged against the same reference "now" as the materialisation it checks (its as_of metadata).
    event = context.instance.get_latest_materialization_event(dg.AssetKey("retention"))
    as_of = event.asset_materialization.metadata["as_of"].value if event and event.asset_materialization else ""
    found = overdue(load_policy(), warehouse.get(), store_folders(staging, crawl, decision_log, live_store),
                    reference_now(as_of))
    return dg.AssetCheckResult(passed=not any(found.values()),
                               metadata={"as_of": as_of, "overdue_total": sum(found.values()),
                                         **{f"overdue_{name}": n for name, n in found.items()}})
