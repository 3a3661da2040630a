"""Asset checks: GX suites and row conservation, blocking so bad data never reaches training, and
the retention check (nothing older than its privacy policy).

Data checks run in the run that materialised ``validated_signals`` and look at that run's partition.
"""

import dagster as dg

from commons.privacy_policy import load_policy
from commons.retention import overdue
from data_quality.expectations import validate_frame
from data_quality.rules import INTAKE_OF_RULE_SET
from commons.retention import reference_now
from orchestration.assets.retention import store_folders
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
        frame = warehouse.get().validated(intake, context.run.run_id)
        if frame.is_empty():
            return dg.AssetCheckResult(passed=False, metadata={"rows": 0},
                                       description=f"no validated {intake} rows in this run")
        # GX 1.x validates pandas frames: the polars frame crosses over here, and only here.
        summary = validate_frame(frame.to_pandas(), rule_set)
        return dg.AssetCheckResult(passed=summary.success, metadata=summary.to_metadata())

    return check


books_expectations = _suite_check("offer")
reviews_expectations = _suite_check("review")


@dg.asset_check(asset="validated_signals", blocking=True,
                description="count in = count out + count quarantined for the validate stage of the partition.")
def rows_conserved(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    counts = warehouse.get().validate_counts(context.run.run_id)
    if counts is None:
        return dg.AssetCheckResult(passed=False, description="validated_signals wrote no rows in this run")
    return dg.AssetCheckResult(passed=counts["in"] == counts["out"] + counts["quarantined"], metadata=counts)


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
